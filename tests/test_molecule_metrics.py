"""Molecule metrics on hand-made oracle histories with hand-computed values."""

from __future__ import annotations

import pytest

from ips_agents.molecules import metrics as M
from ips_envs.smiles.oracle import Oracle, OracleCall

# call, canonical SMILES, reward
HISTORY = [
    (1, "CCO", 0.9),
    (2, "CCN", 0.5),
    (3, "c1ccccc1", 0.85),
    (4, "CCCl", 0.8),
    (5, "CC", 0.1),
    (6, "c1ccncc1", 0.95),
]
DECANE, UNDECANE = "CCCCCCCCCC", "CCCCCCCCCCC"  # identical Morgan r=2 environments: Tanimoto 1


def test_history_formats_are_equivalent():
    as_pairs = [(s, r) for _, s, r in HISTORY]
    as_calls = [OracleCall(c, s, r) for c, s, r in HISTORY]
    oracle = Oracle(dict((s, r) for _, s, r in HISTORY).__getitem__)
    for _, s, _ in HISTORY:
        oracle(s)
    for h in (as_pairs, as_calls, oracle, list(reversed(HISTORY))):
        assert M.history_rows(h) == HISTORY
    with pytest.raises(ValueError, match="history row 0"):
        M.history_rows([(1, 2, 3, 4)])


def test_yield():
    assert M.yield_at(HISTORY, 0.8) == 4  # CCO, benzene, CCCl (0.8 counts: >=), pyridine
    assert M.yield_at(HISTORY, 0.85) == 3
    assert M.yield_at(HISTORY, 0.8, budget=4) == 3
    assert M.yield_at(HISTORY, 0.99) == 0
    assert M.yield_at(HISTORY + [(7, "CCO", 0.9)], 0.8) == 4  # a repeated SMILES counts once
    assert M.molecules_above(HISTORY, 0.85) == ["CCO", "c1ccccc1", "c1ccncc1"]


def test_oracle_burden():
    assert M.oracle_burden(HISTORY, 0.8, n=1) == 1
    assert M.oracle_burden(HISTORY, 0.8, n=2) == 3
    assert M.oracle_burden(HISTORY, 0.8, n=4) == 6
    assert M.oracle_burden(HISTORY, 0.8, n=5) is None
    assert M.oracle_burden(HISTORY, 0.8, n=4, budget=5) is None
    assert M.oracle_burden(HISTORY, 0.8) is None  # OB100: never reached
    with pytest.raises(ValueError, match="n must be a positive integer"):
        M.oracle_burden(HISTORY, 0.8, n=0)


def test_pmo_auc_top_k_by_hand():
    # 4 calls, log every 2, top-1: trapezoids (0 -> 0.5) over 2 calls + (0.5 -> 0.9) over 2 calls = 1.9 / 4
    assert M.auc_top_k([("C", 0.2), ("N", 0.5), ("O", 0.1), ("S", 0.9)], k=1, budget=4, freq_log=2) == pytest.approx(
        0.475
    )
    # HISTORY, top-1, log every 2, budget 6: 2*(0+.9)/2 + 2*(.9+.9)/2 + 2*(.9+.95)/2 = 4.55
    assert M.auc_top_k(HISTORY, k=1, budget=6, freq_log=2) == pytest.approx(4.55 / 6)
    # top-2: means .7 (calls 1-2), .875 (1-4), .925 (1-6): 0.7 + 1.575 + 1.8 = 4.075
    assert M.auc_top_k(HISTORY, k=2, budget=6, freq_log=2) == pytest.approx(4.075 / 6)
    # a run that stopped early is extended at its last value (finish=True, PMO's final number) ...
    assert M.auc_top_k(HISTORY, k=1, budget=10, freq_log=2) == pytest.approx((4.55 + 4 * 0.95) / 10)
    # ... or not
    assert M.auc_top_k(HISTORY, k=1, budget=10, freq_log=2, finish=False) == pytest.approx(4.55 / 10)
    # rows beyond the budget are ignored: first 3 calls, 2*(0+.9)/2 + 1*(.9+.9)/2 = 1.8
    assert M.auc_top_k(HISTORY, k=1, budget=3, freq_log=2) == pytest.approx(1.8 / 3)
    # fewer than k molecules: mean of those there are
    assert M.auc_top_k([("C", 0.4)], k=10, budget=1, freq_log=1) == pytest.approx(0.4 / 2)
    assert M.auc_top_k([], k=10) == 0.0
    with pytest.raises(ValueError, match="freq_log must be a positive integer"):
        M.auc_top_k(HISTORY, freq_log=0)


def test_internal_diversity():
    assert M.internal_diversity(["C", "O", "N"]) == pytest.approx(1.0)  # no shared bits
    assert M.internal_diversity(["CCO", "OCC"]) == 0.0  # one molecule after de-duplication
    assert M.internal_diversity(["C", "O", "C", "not a smiles"]) == pytest.approx(1.0)
    # pairs: (decane, undecane) distance 0, each with water distance 1 -> 2/3
    assert M.internal_diversity([DECANE, UNDECANE, "O"]) == pytest.approx(2 / 3)


def test_scaffolds():
    smiles = ["Cc1ccccc1", "CCc1ccccc1", "C1CCCCC1", "CCO", "CCN", "C1CC"]
    assert M.scaffold_smiles("CCc1ccccc1") == "c1ccccc1" and M.scaffold_smiles("CCO") == ""
    assert M.scaffold_smiles("C1CC") is None
    assert M.n_scaffolds(smiles) == 3  # benzene, cyclohexane, the empty scaffold


def test_circles_greedy():
    assert M.n_circles([DECANE, UNDECANE, "O", "N"]) == 3  # undecane is within 0.75 of decane
    assert M.n_circles(["CCO", "OCC"]) == 1
    assert M.n_circles([]) == 0
    assert M.n_circles([DECANE, UNDECANE], threshold=0.0) == 1  # distance 0 is not > 0
    with pytest.raises(ValueError, match="threshold must be in"):
        M.n_circles(["C"], threshold=2.0)


def test_summary():
    out = M.summary(HISTORY, thresholds=(0.8, 0.9), n=2, auc_budget=6)
    assert out["oracle_calls"] == 6
    assert out["yield@0.8"] == 4 and out["yield@0.9"] == 2
    assert out["ob2@0.8"] == 3 and out["ob2@0.9"] == 6
    assert out["avg_top1"] == 0.95 and out["avg_top10"] == pytest.approx(4.1 / 6)
    assert out["n_scaffolds"] == 3  # "", benzene, pyridine
    assert out["n_circles"] >= 2 and 0 < out["internal_diversity"] <= 1
