"""IPS/SMILES-v0: write a molecule as SMILES, one token per step, under masks that keep it completable.

## Description
The molecule task of the paper's Section 5.3, with an offline reward. The agent writes a SMILES string
token by token from the MOSES vocabulary (:data:`ips_envs.smiles.grammar.VOCAB`: the 24 tokens of the
MOSES training set, provenance in :mod:`ips_envs.smiles.grammar`) and ends it with the end token. The
masks keep every prefix well formed (branch stack, open ring-closure digits, valence budget) and
completable within ``max_length`` tokens; at the end RDKit sanitises the string and the outcome is the
RDKit canonical SMILES. Many strings (and many token orders) give the same molecule: the outcome, not the
trajectory, is what IPS counts.

By default (``aromatic=False``) molecules are written in kekulé form (``C1=CC=CC=C1``; the lowercase
aromatic atoms, ``[nH]`` and ``-`` are masked, and RDKit perceives aromaticity when canonicalising): no
molecule over the vocabulary's elements is lost, and the masks make almost every completed string valid
(a uniform random masked policy: 100 % RDKit-valid over 10,000 molecules, measured in the tests). A prior
for this env should be trained on kekulé SMILES: :func:`to_env_smiles` converts. ``aromatic=True`` also
allows the lowercase tokens, but the masks cannot guarantee kekulizable aromatic systems or aromatic atoms
inside rings, so random strings often fail (about 29 % of uniform random strings sanitise; the others get
reward 0 and ``valid=False``).

Helpers for priors and baselines: :func:`to_env_smiles` (a SMILES in the env's token language),
:func:`~ips_envs.smiles.grammar.tokenize`, :func:`~ips_envs.smiles.grammar.encode` (SMILES -> action ids
ending with the end token), :func:`~ips_envs.smiles.grammar.decode`, and
:func:`~ips_envs.smiles.grammar.first_illegal` (which training strings the masks accept, batched).

## Action space
``Discrete(25)``: the 24 vocabulary tokens (atoms ``C N O S F Cl Br [H] c n o s [nH]``, bonds ``- = #``,
``(`` ``)``, ring digits ``1``-``6``) and the end token (action 24). Grammar (details in
:mod:`ips_envs.smiles.grammar`): ring closures are always single (or aromatic) bonds (no ``=``/``#`` before
a digit; ``c1-2``-style closures only in aromatic mode), a new ring takes the lowest digit that is
neither open nor just closed on the same atom, at most 6 rings and ``max_branch_depth`` branches are
open at once.

## Observation space
``Box(0, 1, (max_length + 66,), float32)`` (126 with the defaults), all features in [0, 1]:

* ``(token_id + 1) / 25`` per position of the prefix, 0 after its end (``max_length``);
* one-hot of the last token, or "nothing yet" (25);
* how often each token was written, divided by ``max_length`` (24);
* one-hot of the last token's class: start, atom or ring digit, bond, ``(``, ``)``, ended (6);
* ``length / max_length`` and ``open branches / max_branch_depth`` (2);
* which ring digits are open (6);
* remaining valence of the current atom / 6 (1);
* fraction of the open rings opened at the current atom, and ``(max_length - length) / max_length`` (2).

The legal actions are in ``info["action_mask"]`` / ``action_masks()``.

## Rewards
Terminal only: ``oracle(canonical SMILES)`` in [0, 1] for a valid molecule, 0 for a string RDKit rejects.
``oracle`` is a registered name (:data:`ips_envs.smiles.scoring.ORACLES`: ``"qed"`` (default), ``"sa"``,
``"celecoxib_rediscovery"``, ..., ``"drug_mpo"``), a callable SMILES -> [0, 1], or an
:class:`ips_envs.smiles.oracle.Oracle` (shared cache, call counter, budget and history). Names and callables are
wrapped in an unbudgeted :class:`~ips_envs.smiles.oracle.Oracle`; read it as ``env.unwrapped.kernel.oracle``.

Molecules the oracle does not score end like any other episode (never an exception inside ``step``), with
reward 0, ``info["valid"] = True`` and a flag: ``info["budget_exhausted"]`` for a new molecule once the
oracle's budget is spent (not charged; cached molecules keep their reward), ``info["too_large"]`` for more
than ``oracle.max_atoms`` heavy atoms (:data:`ips_envs.smiles.scoring.MAX_HEAVY_ATOMS`, 60). Both flags are in
every step's info (False until an episode ends so). IPS-GRPO stops training, before updating on it, at the
first batch with a ``budget_exhausted`` episode; ``oracle.exhausted`` tells a custom loop the same.

## Starting state
The empty string. The task dict is always ``{}``: the oracle is an env argument (callables and budgeted
oracles are not JSON), so there is no task distribution.

## Episode end
On the end token: ``info["outcome"]`` is the RDKit canonical SMILES, or ``"!invalid:<raw string>"``
when RDKit cannot sanitise the string (``info["valid"] = False``, reward 0, never an exception); the end
token is legal once at least one atom is written and no branch or ring is open. After ``max_length``
tokens only the end token is legal, so an episode takes at most ``max_length + 1`` steps. A masked-out
action ends the episode with reward 0 (``info["invalid_action"] = True``) or raises with ``strict=True``.

## Arguments
``max_length`` (60 tokens, end token excluded; MOSES kekulé SMILES have at most 55), ``oracle`` ("qed"),
``aromatic`` (False), ``max_branch_depth`` (8; MOSES needs 4), plus the common ``render_mode``, ``task``,
``strict``. ``outcome_rewards`` returns None: the outcome space is not enumerable.

## Version history
* v0: initial release.
"""

from __future__ import annotations

from ips_envs.core.env import ConstructionEnv
from ips_envs.core.vector_env import ConstructionVectorEnv
from ips_envs.smiles.kernel import SMILESKernel


class SMILESEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = SMILESKernel


class SMILESVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/SMILES-v0`` (see :class:`SMILESEnv`)."""

    kernel_class = SMILESKernel
