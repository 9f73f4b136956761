"""HypoSpace's metrics on hand-made proposal lists (values computed by hand from its definitions)."""

from __future__ import annotations

import pytest

from ips_agents.evaluation import hypospace_queries, hypospace_scores, hypospace_summary
from ips_envs.text import ParseResult, face


@pytest.mark.parametrize("n,multiplier,expected", [(5, 1.0, 5), (5, 2.0, 10), (3, 0.5, 1), (1, 0.3, 1),
                                                    (7, 1.5, 10), (16, 1.0, 16)])
def test_queries(n, multiplier, expected):
    assert hypospace_queries(n, multiplier) == expected


@pytest.mark.parametrize("bad", [dict(n_admissible=0), dict(n_admissible=2.5), dict(n_admissible=3, multiplier=0)])
def test_queries_bad_input(bad):
    with pytest.raises(ValueError):
        hypospace_queries(**{"multiplier": 1.0, **bad})


def test_scores_by_hand():
    # H = {a, b, c}; 6 queries: a, a, x (parsed, wrong), unparsed, b, and one query that got no answer
    proposals = [("a", True), ("a", True), ("x", False), (None, False), ("b", True)]
    s = hypospace_scores(proposals, {"a", "b", "c"}, n_queries=6)
    assert s == pytest.approx({"validity": 3 / 6, "uniqueness": 3 / 6, "recovery": 2 / 3, "valid_unique": 2 / 6,
                               "parse_rate": 4 / 6, "n_queries": 6.0})


def test_scores_from_outcome_keys_and_parse_results():
    h = {"a", "b"}
    keys = hypospace_scores(["a", "b", "b", "z", None, "<invalid>"], h)  # N = 6; z parsed but not admissible
    assert keys == pytest.approx({"validity": 3 / 6, "uniqueness": 3 / 6, "recovery": 1.0, "valid_unique": 2 / 6,
                                  "parse_rate": 4 / 6, "n_queries": 6.0})
    results = [ParseResult("a", True, ""), ParseResult(None, False, "no Graph: line"), ParseResult("a", True, "")]
    assert hypospace_scores(results, h) == pytest.approx(
        {"validity": 2 / 3, "uniqueness": 1 / 3, "recovery": 0.5, "valid_unique": 1 / 3, "parse_rate": 2 / 3,
         "n_queries": 3.0})


def test_uniqueness_counts_wrong_answers_valid_unique_does_not():
    s = hypospace_scores([("w1", False), ("w2", False), ("w3", False), ("a", True)], {"a"})
    assert s["uniqueness"] == 1.0 and s["valid_unique"] == 0.25 and s["recovery"] == 1.0 and s["validity"] == 0.25


def test_scores_through_the_causal_face():
    f = face("IPS/CausalDAG-v0")
    task = {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B", "D"]},
                                           {"perturb": "B", "descendants": []},
                                           {"perturb": "C", "descendants": []}]}
    h = f.admissible_outcomes(task)   # 3 DAGs
    answers = ["Graph: A->B, A->D", "Sure.\nGraph: A->D, A->B", "Graph: A->B", "Graph: B->A, A->B"]
    assert hypospace_queries(len(h)) == 3
    with pytest.raises(ValueError, match="at most one proposal per query"):  # 4 answers for N = 3 queries
        hypospace_scores([f.parse(a, task) for a in answers], h, n_queries=3)
    s = hypospace_scores([f.parse(a, task) for a in answers[:3]], h, n_queries=3)
    assert s == pytest.approx({"validity": 2 / 3, "uniqueness": 2 / 3, "recovery": 1 / 3, "valid_unique": 1 / 3,
                               "parse_rate": 1.0, "n_queries": 3.0})


def test_summary_is_mean_and_population_std():
    per_task = [{"validity": 1.0, "uniqueness": 0.5, "recovery": 1.0, "valid_unique": 0.5, "parse_rate": 1.0},
                {"validity": 0.5, "uniqueness": 0.5, "recovery": 0.5, "valid_unique": 0.25, "parse_rate": 0.5}]
    s = hypospace_summary(per_task)
    assert s["recovery"] == pytest.approx({"mean": 0.75, "std": 0.25, "min": 0.5, "max": 1.0})
    assert s["uniqueness"] == pytest.approx({"mean": 0.5, "std": 0.0, "min": 0.5, "max": 0.5})


@pytest.mark.parametrize("kwargs,match", [
    (dict(proposals=[], admissible=set()), "admissible set is empty"),
    (dict(proposals=[], admissible={"a"}), "n_queries must be a positive integer"),
    (dict(proposals=["a"], admissible={"a"}, n_queries=0), "n_queries"),
    (dict(proposals=[3.5], admissible={"a"}), "a proposal is"),
])
def test_scores_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hypospace_scores(**kwargs)
