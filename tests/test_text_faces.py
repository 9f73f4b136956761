"""Text faces: answers parse back to the env's outcome keys; any string parses without raising."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ips_envs.core.kernel import take
from ips_envs.text import FACES, ParseResult, face

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (env id, env kwargs) configurations whose admissible sets are enumerable
CONFIGS = [
    ("IPS/CausalDAG-v0", {}),
    ("IPS/CausalDAG-v0", {"n_nodes": 3, "n_observations": 1}),
    ("IPS/CausalDAG-v0", {"n_nodes": 3, "n_observations": 2, "canonical_order": True}),
    ("IPS/CausalDAG-v0", {"n_nodes": 4, "n_observations": 2, "max_edges": 3}),
    ("IPS/Voxel3D-v0", {}),
    ("IPS/Voxel3D-v0", {"canonical_order": True, "mask_top_view": True}),
    ("IPS/Voxel3D-v0", {"grid": 2, "height": 4, "max_blocks": 4}),
    ("IPS/BooleanExpr-v0", {}),
    ("IPS/BooleanExpr-v0", {"operators": ["AND", "OR"]}),
    ("IPS/BooleanExpr-v0", {"operators": ["AND", "OR", "NOT", "NOR"]}),
    ("IPS/BooleanExpr-v0", {"operators": ["OR", "NOR"]}),
    ("IPS/BooleanExpr-v0", {"operators": ["AND", "NOT", "XOR"], "max_depth": 2}),
    ("IPS/BooleanExpr-v0", {"variables": ["x", "y", "z"], "max_depth": 1}),
]
_FACES = {}


def get_face(env_id, kwargs):
    key = (env_id, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
    if key not in _FACES:
        _FACES[key] = face(env_id, **kwargs)
    return _FACES[key]


def random_outcomes(f, task, n, seed):
    """Outcome keys and validity of ``n`` random legal episodes of the env's own kernel on ``task``."""
    kernel, rng = f.kernel, np.random.default_rng(seed)
    state = kernel.initial_state([task] * n)
    done = np.zeros(n, dtype=bool)
    keys, valid = [None] * n, np.zeros(n, dtype=bool)
    while not done.all():
        masks = kernel.legal_actions(state)
        actions = (rng.random(masks.shape) * masks).argmax(axis=1)
        ended = kernel.apply(state, actions) & ~done
        if ended.any():
            rows = np.flatnonzero(ended)
            k, _, ok = kernel.outcomes(take(state, rows))
            for j, i in enumerate(rows):
                keys[i], valid[i] = k[j], ok[j]
        done |= ended
        # finished rows keep stepping harmlessly only if legal; freeze them by re-initialising
        if done.any() and not done.all():
            fresh = kernel.initial_state([task] * int(done.sum()))
            for name in state:
                state[name][done] = fresh[name]
    return keys, valid


noise_line = st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=30)


@pytest.mark.parametrize("env_id,kwargs", CONFIGS, ids=[f"{e.split('/')[1]}-{k}" for e, k in CONFIGS])
@FAST
@given(data=st.data())
def test_admissible_answers_parse_back(env_id, kwargs, data):
    f = get_face(env_id, kwargs)
    tasks = f.kernel.all_tasks()
    task = tasks[data.draw(st.integers(0, len(tasks) - 1), label="task")]
    admissible = sorted(f.admissible_outcomes(task))
    before = [line for line in data.draw(st.lists(noise_line, max_size=3), label="before")
              if f.label.lower() not in line.lower()]
    after = data.draw(st.lists(noise_line, max_size=3), label="after")
    after = [line for line in after if not line.strip()[:1].isdigit()]  # a digit row would extend a voxel layer
    for key in admissible:
        text = "\n".join([*before, f.answer(key, task), "", *after])
        result = f.parse(text, task)
        assert (result.outcome, result.valid, result.reason) == (key, True, ""), text


@pytest.mark.parametrize("env_id,kwargs", CONFIGS, ids=[f"{e.split('/')[1]}-{k}" for e, k in CONFIGS])
def test_env_outcomes_parse_back_with_their_validity(env_id, kwargs):
    """Random episodes of the env (valid or not): the answer written for the outcome parses to the same key."""
    f = get_face(env_id, kwargs)
    rng = np.random.default_rng(0)
    tasks = f.kernel.all_tasks()
    for t in rng.choice(len(tasks), size=min(8, len(tasks)), replace=False):
        task = tasks[int(t)]
        keys, valid = random_outcomes(f, task, 64, seed=int(t))
        for key, ok in zip(keys, valid, strict=True):
            result = f.parse(f.answer(key, task), task)
            assert result.outcome == key and result.valid == ok
            assert (result.reason == "") == ok


@pytest.mark.parametrize("env_id", sorted(FACES))
@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_random_strings_never_raise(env_id, text):
    f = get_face(env_id, {})
    task = {} if env_id == "IPS/SMILES-v0" else f.kernel.all_tasks()[0]
    result = f.parse(text, task)
    assert isinstance(result, ParseResult)
    assert result.valid is False or result.outcome is not None
    assert result.valid or result.reason


TOKENS = {
    "IPS/CausalDAG-v0": ["Graph:", " ", "A", "B", "C", "D", "E", "->", "→", "=>", ",", "No edges", "\n", "none"],
    "IPS/Voxel3D-v0": ["Structure:", "Layer 1:", "Layer 2:", "Layer 4:", "\n", "0", "1", "2", " ", ",", "x"],
    "IPS/BooleanExpr-v0": ["Expression:", " ", "x", "y", "z", "AND", "OR", "NOT", "NOR", "XOR", "(", ")", ",",
                           "and", "True", "\n"],
    "IPS/SMILES-v0": ["SMILES:", "C", "c", "N", "O", "(", ")", "=", "#", "1", "2", "[", "]", "+", "Cl", " ", "\n"],
}


@pytest.mark.parametrize("env_id", sorted(FACES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_adversarial_token_soup_never_raises(env_id, data):
    f = get_face(env_id, {})
    task = {} if env_id == "IPS/SMILES-v0" else f.kernel.all_tasks()[-1]
    text = "".join(data.draw(st.lists(st.sampled_from(TOKENS[env_id]), max_size=40)))
    result = f.parse(text, task)
    assert isinstance(result, ParseResult)
    if result.outcome is not None:  # a parsed answer means what the env's answer for that key means
        again = f.parse(f.answer(result.outcome, task), task)
        assert (again.outcome, again.valid) == (result.outcome, result.valid)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mutated_answers_never_raise(data):
    """Valid answers with characters deleted, duplicated or replaced: parse and never raise."""
    for env_id in ("IPS/CausalDAG-v0", "IPS/Voxel3D-v0", "IPS/BooleanExpr-v0"):
        f = get_face(env_id, {})
        tasks = f.kernel.all_tasks()
        task = tasks[data.draw(st.integers(0, len(tasks) - 1))]
        text = f.answer(sorted(f.admissible_outcomes(task))[0], task)
        i = data.draw(st.integers(0, len(text) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
        ch = data.draw(st.characters())
        text = {"delete": text[:i] + text[i + 1:], "duplicate": text[:i] + text[i] + text[i:],
                "replace": text[:i] + ch + text[i + 1:]}[op]
        assert isinstance(f.parse(text, task), ParseResult)


# ------------------------------------------------------------------------------- exact cases per domain
CAUSAL_TASK = {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B", "D"]},
                                               {"perturb": "B", "descendants": []},
                                               {"perturb": "C", "descendants": []}]}


def test_causal_prompt_is_hypospaces():
    f = face("IPS/CausalDAG-v0")
    text = f.prompt(CAUSAL_TASK)
    for line in ["Nodes: A, B, C, D", "Constraint: The graph should have at most 6 edges.",
                 "Perturb(A) -> A:0 B:1 C:0 D:1", "Perturb(B) -> A:0 B:0 C:0 D:0",
                 "Prior predictions (do not repeat if avoidable):\nNone",
                 "- If there are edges: Graph: A->B, B->C", "- If there are no edges: Graph: No edges"]:
        assert line in text
    assert "Graph: A->B, A->D\nGraph: No edges" in f.prompt(CAUSAL_TASK, prior=["A->B,A->D", ""])
    compact = f.prompt(CAUSAL_TASK, compact=True)
    assert compact == ("Perturb(A) -> A:0 B:1 C:0 D:1\nPerturb(B) -> A:0 B:0 C:0 D:0\n"
                       "Perturb(C) -> A:0 B:0 C:0 D:0\nGraph:")
    assert f.with_prompt(" A->D, D->B", compact) == "Graph: A->D, D->B"
    assert f.parse(f.with_prompt(" A->D, D->B", compact), CAUSAL_TASK).valid
    assert f.with_prompt("Graph: A->B", f.prompt(CAUSAL_TASK)) == "Graph: A->B"   # full prompts: unchanged
    assert sorted(f.admissible_outcomes(CAUSAL_TASK)) == ["A->B,A->D", "A->B,A->D,D->B", "A->D,D->B"]


@pytest.mark.parametrize("text,outcome,valid,reason", [
    ("Reasoning first.\nGraph: A->D, D->B\nDone.", "A->D,D->B", True, ""),
    ("Graph: D->B, A->D", "A->D,D->B", True, ""),          # edge order does not matter
    ("Graph: A→D, D-->B, A=>D.", "A->D,D->B", True, ""),   # HypoSpace's arrow spellings, duplicate dropped
    ("**Graph:** `A->B, A->D`", "A->B,A->D", True, ""),
    ("Graph: No edges", "", False, "Perturb(A)"),
    ("Graph: A->B", "A->B", False, "Perturb(A) -> A:0 B:1 C:0 D:0"),
    ("Graph: A->B, B->A", None, False, "cycle"),
    ("Graph: A->B, B->C, C->A", None, False, "cycle"),
    ("Graph: A->A", None, False, "self-loop"),
    ("Graph: A->E", None, False, "unknown node 'E'"),
    ("Graph: A-B", None, False, "not an edge"),
    ("Graph: A->B, none", None, False, "not an edge"),
    ("Graph:", None, False, "empty"),
    ("The graph has edges A->B", None, False, "no line starting with 'Graph:'"),
    ("Graph: A->B,A->C,A->D,B->C,B->D,C->D,D->A", None, False, "more than the 6 allowed"),
])
def test_causal_parse_cases(text, outcome, valid, reason):
    r = face("IPS/CausalDAG-v0").parse(text, CAUSAL_TASK)
    assert (r.outcome, r.valid) == (outcome, valid)
    assert reason in r.reason


def test_causal_max_edges_is_the_envs():
    f = face("IPS/CausalDAG-v0", max_edges=2)
    task = {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B"]}]}
    assert f.parse("Graph: A->B, C->D", task).valid
    r = f.parse("Graph: A->B, C->D, C->B", task)
    assert r.outcome is None and "more than the 2 allowed" in r.reason


VOXEL_TASK = {"top_view": [[0, 1, 0], [0, 0, 0], [0, 0, 1]]}


def test_voxel_answers():
    f = face("IPS/Voxel3D-v0")
    assert f.answer("010000002") == ("Structure:\nLayer 1:\n0 1 0\n0 0 0\n0 0 1\nLayer 2:\n0 0 0\n0 0 0\n0 0 1")
    assert "Top view:\n0 1 0\n0 0 0\n0 0 1\n" in f.prompt(VOXEL_TASK)
    assert "The maximum height of the structure is 3 layers." in f.prompt(VOXEL_TASK)
    assert len(f.admissible_outcomes(VOXEL_TASK)) == 9
    ok = "Here it is:\nStructure:\nLayer 1:\n0 1 0\n0 0 0\n0 0 1\n\nLayer 2:\n0 1 0\n0 0 0\n0 0 0\nThis structure..."
    assert f.parse(ok, VOXEL_TASK) == ParseResult("020000001", True, "", f.parse(ok, VOXEL_TASK).answer)
    trailing_zero = "Structure:\nLayer 1:\n0 1 0\n0 0 0\n0 0 1\nLayer 2:\n0 0 0\n0 0 0\n0 0 0"
    assert f.parse(trailing_zero, VOXEL_TASK).outcome == "010000001"


@pytest.mark.parametrize("text,reason", [
    ("Structure:\nLayer 1:\n0 1 0\n0 0 0\n0 0 0\nLayer 2:\n0 0 0\n0 0 0\n0 0 1", "no block below it"),
    ("Structure:\nLayer 1:\n0 1 0\n0 0 0\n0 0 1\nLayer 2:\n0 1 0\n0 0 0\n0 0 0\nLayer 3:\n0 1 0\n0 0 0\n0 0 0\n"
     "Layer 4:\n0 1 0\n0 0 0\n0 0 0", "more than the maximum height 3"),
    ("Structure:\nLayer 1:\n0,1,0\n0,0,0\n0,0,1", "separated by spaces"),
    ("Structure:\nLayer 1:\n0 1 0\n0 0 1", "has 2 rows"),
    ("Structure:\nLayer 1:\n0 1 0 0\n0 0 0 0\n0 0 1 0", "has 4 values"),
    ("Structure:\nLayer 1:\n0 1 0\n0 0 0\n0 0 1\n0 0 0", "more than 3 rows"),
    ("Structure:\nLayer 2:\n0 1 0\n0 0 0\n0 0 1", "expected 'Layer 1:'"),
    ("Layer 1:\n0 1 0\n0 0 0\n0 0 1", "no line starting with 'Structure:'"),
])
def test_voxel_rejects(text, reason):
    r = face("IPS/Voxel3D-v0").parse(text, VOXEL_TASK)
    assert r.outcome is None and not r.valid and reason in r.reason


def test_voxel_invalid_structure_has_its_key():
    r = face("IPS/Voxel3D-v0").parse("Structure:\nLayer 1:\n1 1 0\n0 0 0\n0 0 1", VOXEL_TASK)
    assert (r.outcome, r.valid) == ("110000001", False) and "row 1, column 1" in r.reason
    # with mask_top_view the env cannot build it at all
    r = face("IPS/Voxel3D-v0", mask_top_view=True).parse("Structure:\nLayer 1:\n1 1 0\n0 0 0\n0 0 1", VOXEL_TASK)
    assert r.outcome is None and "outside the top view" in r.reason


BOOL_TASK = {"rows": [{"inputs": {"x": 0, "y": 1}, "output": 1}]}


def test_boolean_prompt_and_answers():
    f = face("IPS/BooleanExpr-v0")
    text = f.prompt(BOOL_TASK)
    for line in ["variables: x, y", "Allowed operators: AND (conjunction), OR (disjunction), NOT (negation)",
                 "(x=0, y=1) -> 1", "Expression depth should be at most 2 levels of nesting",
                 'Start your response with "Expression: " followed by the expression']:
        assert line in text
    assert f.answer("AND(NOT(x),OR(x,y))") == "Expression: NOT x AND (x OR y)"
    assert f.answer("NOT(NOT(y))") == "Expression: NOT NOT y"
    assert face("IPS/BooleanExpr-v0", operators=["OR", "NOR"]).answer("NOT(x)") == "Expression: NOR(x, x)"
    assert len(f.admissible_outcomes(BOOL_TASK)) == 17


@pytest.mark.parametrize("operators,text,outcome,valid,reason", [
    (None, "Expression: NOT x AND y", "AND(NOT(x),y)", True, ""),
    (None, "Expression: y AND NOT x", "AND(NOT(x),y)", True, ""),       # commutativity
    (None, "Expression: (y AND y) AND NOT x", "AND(NOT(x),y)", True, ""),   # idempotence, associativity
    (None, "Expression: NOT NOT y", "NOT(NOT(y))", True, ""),             # no double-negation removal
    (None, "Expression: NOT (x OR y)", "NOT(OR(x,y))", False, "(x=0, y=1) -> 0"),  # NOR not needed
    (None, "Expression: x AND NOT x", "AND(NOT(x),x)", False, "observed 1"),
    (None, "Expression: NOR(x, y)", None, False, "NOR not allowed"),
    (["AND", "OR", "NOT", "NOR"], "Expression: NOR(x, NOT y)", "NOT(OR(NOT(y),x))", True, ""),
    (["AND", "OR", "NOT", "NOR"], "Expression: NOR(x, y)", "NOT(OR(x,y))", False, "observed 1"),
    (None, "Expression: x XOR y", None, False, "XOR not allowed"),
    (["AND", "OR"], "Expression: NOT y", None, False, "NOT not allowed"),
    (None, "Expression: NOT NOT NOT y", None, False, "depth > 2"),
    (None, "Expression: x and y", None, False, "upper case"),
    (None, "Expression: x AND z", None, False, "unknown name 'z'"),
    (None, "Expression: x AND True", None, False, "constants"),
    (None, "Expression: x ∧ y", None, False, "unexpected"),
    (None, "Expression: (x AND y", None, False, "expected ')'"),
    (None, "Expression:", None, False, "empty"),
    (None, "x AND y", None, False, "no line starting with 'Expression:'"),
])
def test_boolean_parse_cases(operators, text, outcome, valid, reason):
    f = face("IPS/BooleanExpr-v0", **({} if operators is None else {"operators": operators}))
    r = f.parse(text, BOOL_TASK)
    assert (r.outcome, r.valid) == (outcome, valid)
    assert reason in r.reason


def test_smiles_face():
    f = face("IPS/SMILES-v0")
    assert f.prompt().endswith("SMILES:")
    assert f.parse(" CCO").outcome == "CCO" and f.parse(" CCO").valid
    assert f.parse("OCC").outcome == "CCO"
    assert f.parse("Answer:\nSMILES: C1=CC=CC=C1\n").outcome == "c1ccccc1"   # kekulé and aromatic agree
    assert f.parse("c1ccccc1").outcome == "c1ccccc1"
    assert f.reward(f.parse("CCO")) == pytest.approx(f.kernel.oracle("CCO"))
    for text, reason in [("C[N+](C)(C)C", "outside the vocabulary"), ("CC(", "RDKit cannot read"),
                         ("C C", "whitespace"), ("", "no SMILES"), ("C" * 61, "max_length=60")]:
        r = f.parse(text)
        assert r.outcome is None and not r.valid and reason in r.reason and f.reward(r) == 0.0


def test_smiles_env_molecules_parse_back():
    f = face("IPS/SMILES-v0")
    keys, valid = random_outcomes(f, {}, 40, seed=3)
    for key, ok in zip(keys, valid, strict=True):
        if ok:
            assert f.parse(f.answer(key)).outcome == key


def test_face_errors():
    with pytest.raises(ValueError, match="no text face for 'IPS/HyperGrid-v0'"):
        face("IPS/HyperGrid-v0")
    with pytest.raises(ValueError, match="n_nodes"):
        face("IPS/CausalDAG-v0", n_nodes=9)
    f = face("IPS/CausalDAG-v0")
    with pytest.raises(ValueError, match="pass a task"):
        f.parse("Graph: No edges")
    with pytest.raises(ValueError):
        f.parse("Graph: No edges", {"n_nodes": 4, "observations": []})
    assert face("IPS/CausalDAG-v0", task=CAUSAL_TASK).parse("Graph: A->D, D->B").valid
    assert f.parse(None, CAUSAL_TASK).reason.startswith("the completion must be a string")


@pytest.mark.parametrize("env_id,kwargs,size", [("IPS/CausalDAG-v0", {}, 543), ("IPS/CausalDAG-v0", {"n_nodes": 3}, 25),
                                                ("IPS/BooleanExpr-v0", {}, 34),
                                                ("IPS/BooleanExpr-v0", {"operators": ["AND", "OR"]}, 10)])
def test_hypotheses_are_the_space_and_parse_back(env_id, kwargs, size):
    f = get_face(env_id, kwargs)
    keys = f.hypotheses()
    assert len(keys) == len(set(keys)) == size
    task = f.kernel.all_tasks()[0]
    admissible = f.admissible_outcomes(task)
    assert admissible <= set(keys)
    for key in keys:
        r = f.parse(f.answer(key), task)
        assert r.outcome == key and r.valid == (key in admissible)
