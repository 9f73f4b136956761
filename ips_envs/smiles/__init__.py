"""Molecules: the SMILES-writing env and the tools around it (grammar, kernel, scoring functions, budgeted oracle).

The specification of ``IPS/SMILES-v0`` is the docstring of :mod:`ips_envs.smiles.env` (also
:class:`SMILESEnv`'s). The package keeps the domain's parts apart:

* :mod:`~ips_envs.smiles.grammar`: the MOSES token vocabulary, ``tokenize`` / ``encode`` / ``decode`` and the
  batched grammar (state, masks that keep every prefix completable, transitions);
* :mod:`~ips_envs.smiles.kernel`: :class:`SMILESKernel`, the batched construction kernel (observations, RDKit
  outcome keys, oracle rewards and flags), with :func:`to_env_smiles` and :func:`canonical_or_none`;
* :mod:`~ips_envs.smiles.scoring`: the offline RDKit scoring functions (QED, SA, the PMO tasks, ``drug_mpo``)
  registered in :data:`ORACLES`, and the RDKit helpers they share;
* :mod:`~ips_envs.smiles.oracle`: :class:`Oracle`, a scoring function with a cache, a call counter, a budget
  and a history (PMO/Saturn accounting);
* :mod:`~ips_envs.smiles.render`: the ANSI and rgb_array pictures;
* :mod:`~ips_envs.smiles.env`: the Gymnasium env and vector env generated from the kernel.
"""

from ips_envs.smiles.env import SMILESEnv, SMILESVectorEnv
from ips_envs.smiles.grammar import END, END_TOKEN, N_ACTIONS, VOCAB, decode, encode, tokenize
from ips_envs.smiles.kernel import CANONICAL_CACHE_SIZE, INVALID_PREFIX, SMILESKernel, canonical_or_none, to_env_smiles
from ips_envs.smiles.oracle import BUDGET_EXHAUSTED, TOO_LARGE, Oracle, OracleBudgetExhausted, OracleCall
from ips_envs.smiles.scoring import (
    MAX_HEAVY_ATOMS,
    ORACLES,
    ScoreFn,
    canonical_smiles,
    get_oracle,
    mol_from_smiles,
)

__all__ = [
    "BUDGET_EXHAUSTED",
    "CANONICAL_CACHE_SIZE",
    "END",
    "END_TOKEN",
    "INVALID_PREFIX",
    "MAX_HEAVY_ATOMS",
    "N_ACTIONS",
    "ORACLES",
    "TOO_LARGE",
    "VOCAB",
    "Oracle",
    "OracleBudgetExhausted",
    "OracleCall",
    "SMILESEnv",
    "SMILESKernel",
    "SMILESVectorEnv",
    "ScoreFn",
    "canonical_or_none",
    "canonical_smiles",
    "decode",
    "encode",
    "get_oracle",
    "mol_from_smiles",
    "to_env_smiles",
    "tokenize",
]
