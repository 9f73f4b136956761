"""IPS/SMILES-v0: write a molecule as SMILES, one token per step, under masks that keep it completable.

## Description
The molecule task of the paper's Section 5.3, with an offline reward. The agent writes a SMILES string
token by token from the MOSES vocabulary (:data:`ips_envs.smiles_grammar.VOCAB`: the 24 tokens of the
MOSES training set, provenance in :mod:`ips_envs.smiles_grammar`) and ends it with the end token. The
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
:func:`~ips_envs.smiles_grammar.tokenize`, :func:`~ips_envs.smiles_grammar.encode` (SMILES -> action ids
ending with the end token), :func:`~ips_envs.smiles_grammar.decode`, and
:func:`~ips_envs.smiles_grammar.first_illegal` (which training strings the masks accept, batched).

## Action space
``Discrete(25)``: the 24 vocabulary tokens (atoms ``C N O S F Cl Br [H] c n o s [nH]``, bonds ``- = #``,
``(`` ``)``, ring digits ``1``-``6``) and the end token (action 24). Grammar (details in
:mod:`ips_envs.smiles_grammar`): ring closures are always single (or aromatic) bonds (no ``=``/``#`` before
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
``oracle`` is a registered name (:data:`ips_envs.oracles.ORACLES`: ``"qed"`` (default), ``"sa"``,
``"celecoxib_rediscovery"``, ..., ``"drug_mpo"``), a callable SMILES -> [0, 1], or an
:class:`ips_envs.oracles.Oracle` (shared cache, call counter, budget and history). Names and callables are
wrapped in an unbudgeted :class:`~ips_envs.oracles.Oracle`; read it as ``env.unwrapped.kernel.oracle``.

Molecules the oracle does not score end like any other episode (never an exception inside ``step``), with
reward 0, ``info["valid"] = True`` and a flag: ``info["budget_exhausted"]`` for a new molecule once the
oracle's budget is spent (not charged; cached molecules keep their reward), ``info["too_large"]`` for more
than ``oracle.max_atoms`` heavy atoms (:data:`ips_envs.oracles.MAX_HEAVY_ATOMS`, 60). Both flags are in
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

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from rdkit import Chem, rdBase

from ips_envs import smiles_grammar as G
from ips_envs.core import raster
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.kernel import Kernel, State, check_bool, check_int
from ips_envs.core.vector_env import ConstructionVectorEnv
from ips_envs.oracles import BUDGET_EXHAUSTED, TOO_LARGE, Oracle, ScoreFn, mol_from_smiles
from ips_envs.smiles_grammar import END, END_TOKEN, N_ACTIONS, VOCAB, decode, encode, tokenize

INVALID_PREFIX = "!invalid:"
"""Outcome keys of strings RDKit rejects start with this, followed by the raw string."""

__all__ = [
    "END",
    "END_TOKEN",
    "INVALID_PREFIX",
    "N_ACTIONS",
    "VOCAB",
    "SMILESEnv",
    "SMILESKernel",
    "SMILESVectorEnv",
    "decode",
    "encode",
    "to_env_smiles",
    "tokenize",
]


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
    """Batched SMILES writing; the state is the grammar state of :func:`ips_envs.smiles_grammar.initial_state`."""

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
    def _describe(self, state: State) -> tuple[str, str]:
        raw = self.smiles(state)[0]
        opened = [G.RING_TOKENS[d] for d in np.flatnonzero(state["ring_open"][0])]
        cur = int(state["cur"][0])
        free = int(state["free"][0, cur]) if cur >= 0 else 0
        info = (f"length {int(state['length'][0])}/{self.length_cap}, open branches {int(state['depth'][0])}, "
                f"open rings {opened or 'none'}, free valence of the current atom {free}")
        return raw, info

    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        raw, info = self._describe(state)
        lines = [f"SMILES (oracle {self.oracle.name}): {raw or '(empty)'}", info]
        if int(state["last"][0]) == G.DONE:
            mol = mol_from_smiles(raw)
            lines.append(f"canonical: {Chem.MolToSmiles(mol)}" if mol is not None else "invalid (RDKit rejects it)")
        return "\n".join(lines) + "\n"

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        size, cell, per_row = 240, 12, 20
        n_rows = -(-self.length_cap // per_row)
        img = raster.canvas(size + n_rows * cell + 4, size)
        raw = self.smiles(state)[0]
        mol = mol_from_smiles(raw) if raw else None
        if mol is not None:
            try:
                from rdkit.Chem import Draw

                pic = np.asarray(Draw.MolToImage(mol, size=(size, size)).convert("RGB"), dtype=np.uint8)
                img[:size, :size] = pic[:size, :size]
            except Exception:  # pragma: no cover - drawing backend missing
                pass
        colors = {G.ATOM: raster.BLUE, G.BOND: raster.ORANGE, G.OPEN: raster.GREEN, G.CLOSE: raster.GREEN}
        for i, t in enumerate(state["tokens"][0][: int(state["length"][0])]):
            t = int(t)
            kind = G.ATOM if t < G.N_ATOM else G.BOND if t < G.OPEN_TOK else G.OPEN if t <= G.CLOSE_TOK else -1
            color = colors.get(kind, raster.RED)
            r, c = divmod(i, per_row)
            raster.fill(img, size + 2 + r * cell, c * cell, cell - 1, cell - 1, color)
        return img


class SMILESEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = SMILESKernel


class SMILESVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/SMILES-v0`` (see :class:`SMILESEnv`)."""

    kernel_class = SMILESKernel
