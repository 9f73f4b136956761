"""The SMILES construction kernel: batched token-by-token writing under the grammar masks, keyed and scored by RDKit.

One :class:`SMILESKernel` steps ``N`` strings at once; the Gymnasium env and vector env of
:mod:`ips_envs.smiles.env` are generated from it. The batched grammar (state, masks, transitions) is
:mod:`ips_envs.smiles.grammar`; rewards come from a budgeted :class:`~ips_envs.smiles.oracle.Oracle`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from rdkit import Chem, rdBase

import ips_envs.smiles.grammar as G
import ips_envs.smiles.render as render
from ips_envs.core.kernel import Kernel, State, check_bool, check_int
from ips_envs.smiles.grammar import N_ACTIONS, VOCAB, tokenize
from ips_envs.smiles.oracle import BUDGET_EXHAUSTED, TOO_LARGE, Oracle
from ips_envs.smiles.scoring import ScoreFn, mol_from_smiles

INVALID_PREFIX = "!invalid:"
"""Outcome keys of strings RDKit rejects start with this, followed by the raw string."""

CANONICAL_CACHE_SIZE = 1 << 16
"""Token strings whose RDKit canonical form :func:`canonical_or_none` keeps (least recently used dropped)."""


@functools.lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def canonical_or_none(raw: str) -> str | None:
    """RDKit canonical SMILES of a written token string, or None when RDKit rejects it (memoised per string).

    Episodes that write the same string (a policy's favourite molecules; the same molecule in every group)
    parse it once; the oracle's own cache then scores each canonical molecule once.
    """
    mol = mol_from_smiles(raw)
    return None if mol is None else Chem.MolToSmiles(mol)


def to_env_smiles(smiles: str, aromatic: bool = False, check_tokens: bool = True) -> str:
    """Canonical SMILES in the env's token language: kekulé form (default) and no stereo.

    Use it to prepare a prior's training data, e.g. MOSES SMILES; raises ValueError for an invalid string
    or (unless ``check_tokens=False``) one with tokens outside :data:`VOCAB`.
    """
    mol = mol_from_smiles(smiles)
    if mol is None:
        raise ValueError(f"SMILES {smiles!r} does not parse with RDKit")
    if aromatic:
        out = Chem.MolToSmiles(mol, isomericSmiles=False)
    else:
        Chem.Kekulize(mol, clearAromaticFlags=True)
        out = Chem.MolToSmiles(mol, isomericSmiles=False, kekuleSmiles=True)
    if check_tokens:
        tokenize(out)  # raises on tokens outside the vocabulary
    return out


class SMILESKernel(Kernel):
    """Batched SMILES writing; the state is the grammar state of :func:`ips_envs.smiles.grammar.initial_state`."""

    domain = "SMILES"
    outcome_flags = (BUDGET_EXHAUSTED, TOO_LARGE)

    def __init__(
        self,
        max_length: int = 60,
        oracle: str | ScoreFn | Oracle = "qed",
        aromatic: bool = False,
        max_branch_depth: int = 8,
    ) -> None:
        self.length_cap = check_int("max_length", max_length, 1, 120)
        self.max_depth = check_int("max_branch_depth", max_branch_depth, 1, 32)
        self.aromatic = check_bool("aromatic", aromatic)
        if isinstance(oracle, Oracle):
            self.oracle = oracle
        elif isinstance(oracle, str) or callable(oracle):
            self.oracle = Oracle(oracle)
        else:
            raise ValueError(
                f"oracle must be a registered name, a callable SMILES -> [0, 1] or an Oracle, got {oracle!r}"
            )
        self.n_actions = N_ACTIONS
        self.max_length = self.length_cap + 1
        L, V = self.length_cap, len(VOCAB)
        self._sizes = (L, V + 1, V, G.N_CLASSES, 2, G.N_RING, 1, 2)
        self.observation_space = spaces.Box(0.0, 1.0, (sum(self._sizes),), np.float32)

    # ------------------------------------------------------------------ dynamics
    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        return G.initial_state(len(tasks), self.length_cap, self.max_depth)

    def legal_actions(self, state: State) -> np.ndarray:
        return G.legal_actions(state, self.length_cap, self.aromatic)

    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        return G.apply(state, actions)

    def observe(self, state: State) -> np.ndarray:
        L, V = self.length_cap, len(VOCAB)
        n = len(state["length"])
        rows = np.arange(n)
        tok = state["tokens"].astype(np.int64)
        written = tok >= 0
        length = state["length"].astype(np.int64)
        parts = [np.where(written, (tok + 1) / (V + 1), 0.0)]
        last_tok = np.where(length > 0, tok[rows, np.maximum(length - 1, 0)], V)
        onehot = np.zeros((n, V + 1))
        onehot[rows, last_tok] = 1.0
        parts.append(onehot)
        flat = (rows[:, None] * (V + 1) + np.where(written, tok, V)).reshape(-1)
        counts = np.bincount(flat, minlength=n * (V + 1)).reshape(n, V + 1)
        parts.append(counts[:, :V] / L)
        cls = np.zeros((n, G.N_CLASSES))
        cls[rows, state["last"].astype(np.int64)] = 1.0
        parts.append(cls)
        parts.append(np.stack([length / L, state["depth"] / self.max_depth], axis=1))
        parts.append(state["ring_open"].astype(np.float64))
        cur = state["cur"].astype(np.int64)
        f = np.where(cur >= 0, state["free"][rows, np.maximum(cur, 0)], 0)
        parts.append(np.clip(f / 6.0, 0.0, 1.0)[:, None])
        n_open = state["ring_open"].sum(axis=1)
        at_cur = (state["ring_open"] & (state["ring_atom"] == cur[:, None])).sum(axis=1)
        parts.append(np.stack([at_cur / np.maximum(n_open, 1), (L - length) / L], axis=1))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def smiles(self, state: State) -> list[str]:
        """The raw SMILES string written in each row."""
        return G.smiles_strings(state)

    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        keys, rewards, valid, _ = self.outcomes_with_flags(state)
        return keys, rewards, valid

    def outcomes_with_flags(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """:meth:`outcomes` plus the bool flags ``budget_exhausted`` and ``too_large`` of each row.

        A valid molecule the oracle does not score (its budget is spent, or it has more than
        ``oracle.max_atoms`` heavy atoms) keeps its canonical key and ``valid = True``, gets reward 0 and its
        flag; nothing is raised, so a step never leaves the env half-updated.
        """
        raws = self.smiles(state)
        keys: list[str] = []
        rewards = np.zeros(len(raws), dtype=np.float64)
        valid = np.zeros(len(raws), dtype=bool)
        flags = {name: np.zeros(len(raws), dtype=bool) for name in self.outcome_flags}
        with rdBase.BlockLogs():  # RDKit's per-molecule warnings would flood the console during training
            for i, raw in enumerate(raws):
                canon = canonical_or_none(raw)
                if canon is None:
                    keys.append(INVALID_PREFIX + raw)
                    continue
                keys.append(canon)
                valid[i] = True
                rewards[i], flag = self.oracle.score_flagged(canon)
                if flag is not None:
                    flags[flag][i] = True
        return keys, rewards, valid, flags

    def outcome_rewards(self, task: Mapping[str, Any]) -> None:
        return None

    # ------------------------------------------------------------------ renders
    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        """Row 0 as text (:func:`ips_envs.smiles.render.render_ansi`)."""
        return render.render_ansi(state, self.oracle.name, self.length_cap)

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        """Row 0 as an RGB picture (:func:`ips_envs.smiles.render.render_rgb`)."""
        return render.render_rgb(state, self.length_cap)
