"""Molecule-generation metrics computed from an oracle history: Yield, Oracle Burden, PMO AUC, diversity.

An *oracle history* is the ordered list of new molecules scored during a run, one row per oracle call:
``(call index, canonical SMILES, reward)``. :class:`ips_envs.smiles.Oracle` keeps exactly this
(``oracle.history``, rows of ``OracleCall``); every function below also accepts the Oracle itself, a list
of ``(call, smiles, reward)`` tuples, or a list of ``(smiles, reward)`` pairs (call index = position + 1).

Definitions (sources in ``shared/reference/molecules.md``):

* **Yield@t** (Guo & Schwaller, Beam Enumeration / Saturn): the number of unique molecules with
  reward >= t among the calls within the budget. Raw rewards, not diversity-filter-penalised ones.
* **OB_N@t**, Oracle Burden: the call index at which the N-th unique molecule with reward >= t was scored
  (OB100 is N = 100); None when the run never got there.
* **PMO AUC top-k** (Gao et al. 2022, mol_opt ``top_auc``): every ``freq_log`` calls, the mean of the
  top-k rewards among the calls so far (fewer than k molecules: the mean of those there are); trapezoid rule
  over the call index starting from 0 at call 0, plus the last partial interval; when the run stopped before
  the budget (``finish=True``) the last value is extended to the budget; the area is divided by the budget.
  Rows beyond the budget are ignored (mol_opt's final top-k would still see them).
* **Internal diversity** (TDC ``Evaluator('Diversity')``, reported by PMO): mean of ``1 - Tanimoto`` over
  the unique unordered pairs of the de-duplicated molecules, Morgan radius 2, 2048 bits, no chirality.
  (MOSES's IntDiv includes the diagonal and uses 1024 bits; it is not what this computes.)
* **#Scaffolds**: the number of distinct canonical Bemis-Murcko scaffold SMILES
  (``MurckoScaffold.GetScaffoldForMol``); acyclic molecules all share the empty scaffold ``""``, which
  counts once.
* **#Circles** (Xie et al. 2023): the size of a set of molecules whose pairwise distances
  ``1 - Tanimoto`` all exceed t = 0.75. Computed greedily in the given order (generation order for a
  history): a molecule becomes a new centre when its distance to every centre so far exceeds t. The greedy
  set is a lower bound of the exact maximum and depends on the order. Morgan radius 2 with 1024 bits, as
  the reference implementation (chem-measure) uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from ips_envs.core.validation import check_int

Row = tuple[int, str, float]


def history_rows(history: Any) -> list[Row]:
    """Normalise an oracle history to a list of ``(call, smiles, reward)`` rows sorted by call index."""
    if hasattr(history, "history") and not isinstance(history, list | tuple):
        history = history.history
    rows: list[Row] = []
    for i, item in enumerate(history):
        if hasattr(item, "call") and hasattr(item, "smiles") and hasattr(item, "reward"):
            rows.append((int(item.call), str(item.smiles), float(item.reward)))
            continue
        item = tuple(item)
        if len(item) == 3:
            rows.append((int(item[0]), str(item[1]), float(item[2])))
        elif len(item) == 2:
            rows.append((i + 1, str(item[0]), float(item[1])))
        else:
            raise ValueError(
                f"history row {i} is {item!r}; expected (call, smiles, reward), (smiles, reward) or an OracleCall"
            )
    rows.sort(key=lambda r: r[0])
    return rows


def _within(rows: list[Row], budget: int | None) -> list[Row]:
    if budget is None:
        return rows
    budget = check_int("budget", budget, 1)
    return [r for r in rows if r[0] <= budget]


def _hits(rows: list[Row], threshold: float) -> list[Row]:
    """First occurrence of each unique SMILES with reward >= threshold, in call order."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r[2] >= threshold and r[1] not in seen:
            seen.add(r[1])
            out.append(r)
    return out


def yield_at(history: Any, threshold: float, budget: int | None = None) -> int:
    """Yield@t: unique molecules with reward >= ``threshold`` within ``budget`` calls (all calls if None)."""
    return len(_hits(_within(history_rows(history), budget), threshold))


def oracle_burden(history: Any, threshold: float, n: int = 100, budget: int | None = None) -> int | None:
    """OB_n@t: the call index of the ``n``-th unique molecule with reward >= ``threshold``; None if never."""
    n = check_int("n", n, 1)
    hits = _hits(_within(history_rows(history), budget), threshold)
    return hits[n - 1][0] if len(hits) >= n else None


def molecules_above(history: Any, threshold: float, budget: int | None = None) -> list[str]:
    """The unique SMILES with reward >= ``threshold``, in the order they were first scored."""
    return [r[1] for r in _hits(_within(history_rows(history), budget), threshold)]


def auc_top_k(
    history: Any, k: int = 10, budget: int = 10_000, freq_log: int = 100, finish: bool = True
) -> float:
    """PMO's AUC of the running mean top-``k`` reward over the call index, normalised by ``budget``.

    With ``finish=True`` (PMO's final number) a run that used fewer than ``budget`` calls is extended at its
    last value. Rows are the history's unique molecules in call order; the call index is their position.
    """
    k, budget, freq_log = check_int("k", k, 1), check_int("budget", budget, 1), check_int("freq_log", freq_log, 1)
    seen: set[str] = set()
    rewards: list[float] = []
    for r in history_rows(history):
        if r[1] not in seen:
            seen.add(r[1])
            rewards.append(r[2])
    rewards = rewards[:budget]
    n = len(rewards)
    if n == 0:
        return 0.0

    def top_mean(m: int) -> float:
        return float(np.mean(sorted(rewards[:m], reverse=True)[:k]))

    area, prev, called = 0.0, 0.0, 0
    for idx in range(freq_log, n, freq_log):
        now = top_mean(idx)
        area += freq_log * (now + prev) / 2.0
        prev, called = now, idx
    now = top_mean(n)
    area += (n - called) * (now + prev) / 2.0
    if finish and n < budget:
        area += (budget - n) * now
    return area / budget


# ------------------------------------------------------------------------------------------- diversity
def _mols(smiles: Iterable[str]) -> list[Chem.Mol]:
    """Valid molecules of the de-duplicated (canonical) SMILES, in first-seen order."""
    out, seen = [], set()
    with rdBase.BlockLogs():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if s else None
            if mol is None:
                continue
            canon = Chem.MolToSmiles(mol)
            if canon in seen:
                continue
            seen.add(canon)
            out.append(mol)
    return out


def _bitvects(mols: Sequence[Chem.Mol], radius: int, n_bits: int) -> list[Any]:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return [gen.GetFingerprint(m) for m in mols]


def internal_diversity(smiles: Iterable[str], radius: int = 2, n_bits: int = 2048) -> float:
    """Mean pairwise Tanimoto distance over unique unordered pairs (TDC/PMO definition); 0 for < 2 molecules."""
    fps = _bitvects(_mols(smiles), radius, n_bits)
    n = len(fps)
    if n < 2:
        return 0.0
    total = 0.0
    for i in range(1, n):
        total += float(np.sum(1.0 - np.asarray(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))))
    return total / (n * (n - 1) / 2)


def scaffold_smiles(smiles: str) -> str | None:
    """Canonical Bemis-Murcko scaffold SMILES ("" for acyclic molecules), None for an invalid string."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return None
    return Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mol))


def n_scaffolds(smiles: Iterable[str]) -> int:
    """Number of distinct Murcko scaffolds among the valid molecules (the empty scaffold counts once)."""
    return len({sc for s in smiles if (sc := scaffold_smiles(s)) is not None})


def n_circles(smiles: Iterable[str], threshold: float = 0.75, radius: int = 2, n_bits: int = 1024) -> int:
    """#Circles, greedy in the given order: centres with pairwise Tanimoto distance > ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    centres: list[Any] = []
    for fp in _bitvects(_mols(smiles), radius, n_bits):
        if not centres or max(DataStructs.BulkTanimotoSimilarity(fp, centres)) < 1.0 - threshold:
            centres.append(fp)
    return len(centres)


def summary(
    history: Any,
    thresholds: Sequence[float] = (0.8,),
    budget: int | None = None,
    n: int = 100,
    auc_budget: int = 10_000,
) -> dict[str, Any]:
    """Every metric at once: oracle calls, Yield@t and OB_n@t per threshold, AUC top-1/10/100, top-k means,
    and IntDiv / #scaffolds / #circles of the molecules above the lowest threshold."""
    rows = _within(history_rows(history), budget)
    out: dict[str, Any] = {"oracle_calls": len(rows)}
    for t in thresholds:
        out[f"yield@{t}"] = yield_at(rows, t)
        out[f"ob{n}@{t}"] = oracle_burden(rows, t, n)
    for k in (1, 10, 100):
        out[f"auc_top{k}"] = auc_top_k(rows, k=k, budget=auc_budget)
        top = sorted((r[2] for r in rows), reverse=True)[:k]
        out[f"avg_top{k}"] = float(np.mean(top)) if top else 0.0
    hits = molecules_above(rows, min(thresholds)) if thresholds else [r[1] for r in rows]
    out["internal_diversity"] = internal_diversity(hits)
    out["n_scaffolds"] = n_scaffolds(hits)
    out["n_circles"] = n_circles(hits)
    return out
