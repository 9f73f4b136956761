"""The budgeted oracle: a scoring function with a canonical-SMILES cache, a call counter, a budget and a history.

:class:`Oracle` canonicalises SMILES, caches rewards, counts calls the PMO/Saturn way (only new, valid,
canonical molecules cost a call), enforces an optional budget and keeps the history that
:mod:`ips_agents.molecules.metrics` reads. The scoring functions it wraps are in
:mod:`ips_envs.smiles.scoring` (registered by name in :data:`~ips_envs.smiles.scoring.ORACLES`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from ips_envs.core.validation import check_int
from ips_envs.smiles.scoring import MAX_HEAVY_ATOMS, ScoreFn, canonical_smiles, get_oracle, mol_from_smiles, too_large


class OracleBudgetExhausted(RuntimeError):
    """Raised by :meth:`Oracle.score_canonical` when a new molecule is scored after the budget was spent.

    Envs never raise it from ``step``: ``IPS/SMILES-v0`` ends such an episode normally with reward 0 and
    ``info["budget_exhausted"] = True`` (see :meth:`Oracle.score_flagged`).
    """


BUDGET_EXHAUSTED = "budget_exhausted"
"""Flag of :meth:`Oracle.score_flagged`: a new molecule met a spent budget (reward 0, not charged)."""
TOO_LARGE = "too_large"
"""Flag of :meth:`Oracle.score_flagged`: the molecule has more than ``max_atoms`` heavy atoms (reward 0, free)."""


@dataclass(frozen=True)
class OracleCall:
    """One row of an oracle history: 1-based call index, canonical SMILES, reward."""

    call: int
    smiles: str
    reward: float


class Oracle:
    """A scoring function with a canonical-SMILES cache, a call counter, a budget and a history.

    Accounting follows PMO / Saturn: an invalid SMILES returns 0.0 and costs nothing; a molecule already
    scored returns its cached reward and costs nothing; every new valid canonical SMILES costs one call
    and is appended to :attr:`history` as ``OracleCall(call, smiles, reward)``. Once ``budget`` calls are
    spent, scoring a *new* molecule raises :class:`OracleBudgetExhausted` (cached ones stay free); check
    :attr:`exhausted` or :attr:`remaining` between batches.

    Molecules with more than ``max_atoms`` heavy atoms (default :data:`MAX_HEAVY_ATOMS`; None = no bound) are
    not scored: reward 0.0, free, not in the history, flagged ``"too_large"``.

    Arguments: ``fn``, a registered name (see :data:`~ips_envs.smiles.scoring.ORACLES`) or a callable
    SMILES -> [0, 1]; ``budget`` (None = unlimited); ``name`` (defaults to the registered name or the callable's
    ``__name__``); ``max_atoms``.
    """

    def __init__(self, fn: str | ScoreFn, budget: int | None = None, name: str | None = None,
                 max_atoms: int | None = MAX_HEAVY_ATOMS) -> None:
        if isinstance(fn, str):
            name = name or fn
            fn = get_oracle(fn)
        if not callable(fn):
            raise ValueError(f"oracle must be a registered name or a callable SMILES -> float, got {fn!r}")
        self.fn: ScoreFn = fn
        self.name: str = name or getattr(fn, "__name__", "oracle")
        self.budget: int | None = None if budget is None else check_int("budget", budget, 1)
        self.max_atoms: int | None = None if max_atoms is None else check_int("max_atoms", max_atoms, 1)
        self.cache: dict[str, float] = {}
        self.history: list[OracleCall] = []
        self.too_large: set[str] = set()
        """Canonical SMILES refused for their size (free, not in the history)."""

    @property
    def calls(self) -> int:
        """Oracle calls spent (= distinct valid molecules scored)."""
        return len(self.history)

    @property
    def remaining(self) -> int | None:
        """Calls left before the budget is exhausted (None without a budget)."""
        return None if self.budget is None else max(self.budget - self.calls, 0)

    @property
    def exhausted(self) -> bool:
        """True once the budget is spent."""
        return self.budget is not None and self.calls >= self.budget

    def score_flagged(self, smiles: str, mol: Chem.Mol | None = None) -> tuple[float, str | None]:
        """Reward of an already canonical, valid SMILES and why it was not scored, without ever raising on the budget.

        Returns ``(reward, None)`` when scored (or cached), ``(0.0, "too_large")`` above ``max_atoms`` heavy atoms
        and ``(0.0, "budget_exhausted")`` for a new molecule once the budget is spent (neither is charged).
        ``mol`` (optional) is the parsed molecule, to skip parsing it again for the size check.
        """
        if smiles in self.cache:
            return self.cache[smiles], None
        if smiles in self.too_large:
            return 0.0, TOO_LARGE
        if self.max_atoms is not None:
            mol = mol if mol is not None else mol_from_smiles(smiles)
            if mol is not None and too_large(mol, self.max_atoms):
                self.too_large.add(smiles)
                return 0.0, TOO_LARGE
        if self.exhausted:
            return 0.0, BUDGET_EXHAUSTED
        return self._score_new(smiles), None

    def score_canonical(self, smiles: str) -> float:
        """Reward of an already canonical, valid SMILES (cached, counted, budgeted).

        Raises :class:`OracleBudgetExhausted` for a new molecule once the budget is spent.
        """
        reward, flag = self.score_flagged(smiles)
        if flag == BUDGET_EXHAUSTED:
            raise OracleBudgetExhausted(
                f"oracle {self.name!r} has spent its budget of {self.budget} calls; cannot score new "
                f"molecule {smiles!r} (cached molecules stay free)"
            )
        return reward

    def _score_new(self, smiles: str) -> float:
        value = self.fn(smiles)
        try:
            reward = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"oracle {self.name!r} returned {value!r} for {smiles!r}; expected a float in [0, 1]"
            ) from None
        if not (math.isfinite(reward) and -1e-9 <= reward <= 1.0 + 1e-9):
            raise ValueError(f"oracle {self.name!r} returned {reward!r} for {smiles!r}; expected a float in [0, 1]")
        reward = min(max(reward, 0.0), 1.0)
        self.cache[smiles] = reward
        self.history.append(OracleCall(self.calls + 1, smiles, reward))
        return reward

    def __call__(self, smiles: str) -> float:
        """Reward of any SMILES string: 0.0 (free) when invalid, else as :meth:`score_canonical`."""
        canon = canonical_smiles(smiles)
        if canon is None:
            return 0.0
        return self.score_canonical(canon)

    def score_many(self, smiles: Iterable[str]) -> np.ndarray:
        """Rewards of several SMILES, in order (float64 array)."""
        return np.array([self(s) for s in smiles], dtype=np.float64)

    def reset(self) -> None:
        """Forget the cache and the history (the budget is kept)."""
        self.cache.clear()
        self.history.clear()
        self.too_large.clear()

    def __repr__(self) -> str:
        return f"Oracle({self.name!r}, calls={self.calls}, budget={self.budget})"
