"""Path counts of every enumerable kernel: brute force, the exact DP with an all-ones "policy", closed forms."""

from __future__ import annotations

from collections import Counter
from math import comb, factorial

import gymnasium as gym
import numpy as np
import pytest

from ips_envs.boolean_expr import BooleanExprKernel
from ips_envs.causal_dag import CausalDAGKernel
from ips_envs.core.kernel import concat, put, take
from ips_envs.core.paths import multinomial, multinomials
from ips_envs.hypergrid import HyperGridKernel
from ips_envs.path_multiplicity import PathMultiplicityKernel
from ips_envs.voxel import Voxel3DKernel
from tests.conftest import count_paths, random_legal


def _first_task(kernel, index: int = 0) -> dict:
    table = kernel.task_table()
    return {} if table is None else dict(table[index])


BRUTE = [
    ("pm", PathMultiplicityKernel, {}),
    ("pm dead ends", PathMultiplicityKernel, {"mask_dead_ends": True}),
    ("pm 9", PathMultiplicityKernel, {"length": 9, "a_right": 4, "b_right": 8}),
    ("grid 2x4", HyperGridKernel, {"ndim": 2, "height": 4}),
    ("grid 3x3", HyperGridKernel, {"ndim": 3, "height": 3}),
    ("grid canonical", HyperGridKernel, {"ndim": 2, "height": 4, "canonical_order": True}),
    ("causal 3", CausalDAGKernel, {"n_nodes": 3}),
    ("causal 3 max 2", CausalDAGKernel, {"n_nodes": 3, "max_edges": 2}),
    ("causal canonical", CausalDAGKernel, {"n_nodes": 3, "canonical_order": True}),
    ("voxel 2x2", Voxel3DKernel, {"grid": 2, "height": 2}),
    ("voxel masked", Voxel3DKernel, {"grid": 2, "height": 2, "max_blocks": 4, "mask_top_view": True}),
    ("voxel canonical", Voxel3DKernel, {"grid": 2, "height": 2, "mask_top_view": True, "canonical_order": True}),
    ("boolean x,y d2", BooleanExprKernel, {}),
    ("boolean all ops d1", BooleanExprKernel, {"max_depth": 1, "operators": ["AND", "OR", "NOT", "NOR", "XOR"]}),
    ("boolean NOR XOR d2", BooleanExprKernel, {"operators": ["AND", "NOR", "XOR"]}),
]


@pytest.mark.parametrize("name,cls,kwargs", BRUTE, ids=[b[0] for b in BRUTE])
def test_path_counts_match_brute_force(name, cls, kwargs):
    kernel = cls(**kwargs)
    assert kernel.counts_paths
    task = _first_task(kernel, index=len(kernel.task_table() or [0]) - 1)
    states: dict = {}
    brute = count_paths(kernel, task, states)
    keys = list(states)
    got = kernel.path_counts(concat([states[k] for k in keys]))
    assert got.shape == (len(keys),)
    assert dict(zip(keys, (int(g) for g in got), strict=True)) == brute


EXACT = [
    ("IPS/PathMultiplicity-v0", {}),
    ("IPS/HyperGrid-v0", {"ndim": 2, "height": 8}),
    ("IPS/HyperGrid-v0", {"ndim": 3, "height": 5}),
    ("IPS/CausalDAG-v0", {}),
    ("IPS/Voxel3D-v0", {"grid": 2, "height": 3}),
    ("IPS/Voxel3D-v0", {"mask_top_view": True}),
    ("IPS/BooleanExpr-v0", {}),
    ("IPS/BooleanExpr-v0", {"variables": ["x", "y", "z"]}),
]


def _all_ones(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Weight 1 on every legal action: the exact DP then sums path counts instead of probabilities."""
    return masks.astype(np.float64)


@pytest.mark.parametrize("env_id,kwargs", EXACT, ids=[f"{e}-{k}" for e, k in EXACT])
def test_path_counts_match_the_exact_dp_with_an_all_ones_policy(env_id, kwargs):
    from ips_envs import exact_outcome_distribution

    env = gym.make(env_id, **kwargs)
    env.reset(seed=3)
    kernel, task = env.unwrapped.kernel, env.unwrapped.task
    dp = exact_outcome_distribution(env, _all_ones, normalized=False)
    # terminal states from random legal rollouts of the kernel, 256 at once
    rng = np.random.default_rng(0)
    state = kernel.initial_state([task] * 256)
    live = np.arange(256)
    finals = []
    while len(live):
        sub = take(state, live)
        ended = kernel.apply(sub, random_legal(rng, kernel.legal_actions(sub)))
        put(state, live, sub)
        finals.append(take(sub, np.flatnonzero(ended)))
        live = live[~ended]
    finals = concat(finals)
    keys, _, _ = kernel.outcomes(finals)
    counts = kernel.path_counts(finals)
    for key, n in zip(keys, counts.tolist(), strict=True):
        assert dp[key] == pytest.approx(n, rel=1e-12), key
    assert len(set(keys)) > 1


def test_closed_forms():
    pm = PathMultiplicityKernel()
    assert pm.path_counts() == {"A": 35, "B": 7}
    grid = HyperGridKernel(ndim=4, height=8)
    x = np.array([[7, 7, 7, 7], [0, 0, 0, 0], [3, 0, 2, 1]])
    np.testing.assert_array_equal(grid.path_counts({"x": x, "last": np.zeros(3)}),
                                  [factorial(28) // factorial(7) ** 4, 1, factorial(6) // (6 * 2)])
    causal = CausalDAGKernel(n_nodes=6)
    adj = np.zeros((2, 6, 6), dtype=bool)
    adj[0][np.triu_indices(6, 1)] = True
    np.testing.assert_array_equal(causal.path_counts({"adj": adj}), [factorial(15), 1])
    assert multinomial([3, 0, 2]) == comb(5, 2)


def test_counts_beyond_int64_stay_exact():
    voxel = Voxel3DKernel()  # 3x3 grid, height 3, no top-view masks: 27 blocks at most
    state = voxel.initial_state([_first_task(voxel)] * 2)
    state["heights"][0] = 3
    state["heights"][1, :3] = [1, 2, 0]
    counts = voxel.path_counts(state)
    assert counts.tolist() == [factorial(27) // factorial(3) ** 9, 3]
    grid = HyperGridKernel(ndim=4, height=20)
    big = grid.path_counts({"x": np.full((1, 4), 19), "last": np.zeros(1)})
    assert int(big[0]) == factorial(76) // factorial(19) ** 4
    rows = np.array([[5, 1], [0, 3]])
    np.testing.assert_array_equal(multinomials(rows, 5, 8, largest=2**70), [6, 1])


def test_boolean_path_count_dp_by_hand_and_at_scale():
    # depth 1 over x, y: x, AND(x,x), OR(x,x) are three trees with key x; AND(x,y) and AND(y,x) two
    assert BooleanExprKernel(max_depth=1).expression_path_counts() == {
        "x": 3, "y": 3, "NOT(x)": 1, "NOT(y)": 1, "AND(x,y)": 2, "OR(x,y)": 2}
    # every tree has one key: the counts add up to the number of trees T_d = v + T_{d-1} + 2 T_{d-1}^2
    kernel = BooleanExprKernel(variables=["x", "y", "z"], max_depth=3)
    counts = kernel.expression_path_counts()
    trees = 3
    for _ in range(3):
        trees = 3 + trees + 2 * trees**2
    assert sum(counts.values()) == trees == 2_781_264
    assert set(counts) == set(kernel.expressions()) and len(counts) == 12_238
    assert kernel.has_path_counts


def _all_trees(kernel) -> dict:
    """Every complete token sequence of ``kernel`` (one terminal row per tree), by layered expansion."""
    layer, finals = kernel.initial_state([{"rows": []}]), []
    while len(layer["top"]):
        rows, acts = np.nonzero(kernel.legal_actions(layer))
        children = take(layer, rows)
        ended = kernel.apply(children, acts)
        finals.append(take(children, np.flatnonzero(ended)))
        layer = take(children, np.flatnonzero(~ended))
    return concat(finals)


KEY_GRAMMARS = [
    {},
    {"operators": ["AND", "OR", "NOT", "NOR", "XOR"]},
    {"variables": ["x", "y", "z"]},
    {"operators": ["AND", "NOT"], "max_depth": 3},
    {"variables": ["p"], "operators": ["NOT", "XOR"], "max_depth": 3},
    {"variables": ["a", "b", "c", "d"], "operators": ["NOR"], "max_depth": 1},
]


@pytest.mark.parametrize("kwargs", KEY_GRAMMARS, ids=[str(k) for k in KEY_GRAMMARS])
def test_boolean_keys_and_path_counts_match_parsing_every_tree(kwargs):
    from ips_envs.boolean_expr import canonical_key, parse_prefix

    kernel = BooleanExprKernel(**kwargs)
    trees = _all_trees(kernel)
    parsed = [canonical_key(parse_prefix([kernel.tokens[t] for t in row[:n]]))
              for row, n in zip(trees["tokens"].tolist(), trees["length"].tolist(), strict=True)]
    assert kernel.outcomes(trees)[0] == parsed
    by_key = Counter(parsed)
    assert kernel.path_counts(trees).tolist() == [by_key[k] for k in parsed]
    assert by_key == kernel.expression_path_counts()


def test_boolean_keys_at_3_variables_depth_3():
    from ips_envs.boolean_expr import canonical_key, parse_prefix
    from ips_envs.boolean_expr.space import expression_space

    kernel = BooleanExprKernel(variables=["x", "y", "z"], max_depth=3)
    space = expression_space(kernel.variables, kernel.operators, kernel.max_depth)
    # one tree per key (its witness), written through the kernel: its key and count come back
    state = kernel.initial_state([{"rows": []}] * len(space.keys))
    actions = [kernel.expression_actions(k) for k in space.keys]
    width = max(map(len, actions))
    for t in range(width):
        rows = np.array([i for i, a in enumerate(actions) if len(a) > t])
        sub = take(state, rows)
        kernel.apply(sub, np.array([actions[i][t] for i in rows]))
        put(state, rows, sub)
    assert list(kernel.outcomes(state)[0]) == list(space.keys)
    assert kernel.path_counts(state).tolist() == [space.path_counts[k] for k in space.keys]
    sample = np.random.default_rng(0).choice(len(space.keys), 500, replace=False)
    assert [canonical_key(parse_prefix(space.witness[space.keys[i]])) for i in sample] == \
        [space.keys[i] for i in sample]


def test_boolean_keys_without_an_enumerable_space_are_parsed(monkeypatch):
    from ips_envs.boolean_expr import space

    kernel = BooleanExprKernel(operators=["AND", "NOT"], max_depth=2)
    trees = _all_trees(kernel)
    keys = kernel.outcomes(trees)[0]
    monkeypatch.setattr(space, "MAX_CANDIDATES", 10)
    space.expression_space.cache_clear()
    assert kernel._key_indices(trees) is None
    assert kernel.outcomes(trees)[0] == keys
    space.expression_space.cache_clear()


def test_kernels_without_path_counts_say_so(monkeypatch):
    from ips_envs.boolean_expr import space
    from ips_envs.smiles import SMILESKernel

    assert not SMILESKernel().counts_paths
    with pytest.raises(NotImplementedError, match="construction paths"):
        SMILESKernel().path_counts({})
    # a grammar whose key space is too large to enumerate has no path counts
    monkeypatch.setattr(space, "MAX_CANDIDATES", 10)
    kernel = BooleanExprKernel(variables=["p", "q"], operators=["OR", "NOT"], max_depth=3)
    assert not kernel.has_path_counts and not kernel.counts_paths
    space.expression_space.cache_clear()


@pytest.mark.parametrize("env_id,kwargs", [("IPS/CausalDAG-v0", {"n_nodes": 3}), ("IPS/BooleanExpr-v0", {}),
                                           ("IPS/Voxel3D-v0", {"grid": 2, "height": 2}),
                                           ("IPS/PathMultiplicity-v0", {}),
                                           ("IPS/HyperGrid-v0", {"ndim": 2, "height": 5}),
                                           ("IPS/HyperGrid-v0", {"canonical_order": True})])
def test_info_path_count_single_and_vector(env_id, kwargs):
    n = 64
    envs = gym.make_vec(env_id, num_envs=n, **kwargs)
    single = gym.make(env_id, **kwargs)
    kernel = envs.unwrapped.kernel
    rng = np.random.default_rng(1)
    task = single.unwrapped.sample_task(1)
    _, info = envs.reset(seed=1, options={"task": task})  # one task: one brute-force count below
    assert np.all(info["path_count"] == 0)
    ended = np.zeros(n, dtype=bool)
    seen = 0
    while not ended.all():
        actions = random_legal(rng, info["action_mask"])
        _, _, term, _, info = envs.step(actions)
        now = term & ~ended
        assert np.all(np.asarray(info["path_count"])[~term] == 0)  # 0 on every step before termination
        for i in np.flatnonzero(now):
            # the count of the outcome, from the brute-force DFS of its task
            key = info["outcome"][i]
            assert int(info["path_count"][i]) == _brute_count(kernel, task, key)
            seen += 1
        ended |= term
    assert seen == n
    # single env: a Python int at termination, 0 before it and 0 after an invalid action
    _, info = single.reset(seed=2, options={"task": task})
    assert info["path_count"] == 0
    done = False
    while not done:
        _, _, done, _, info = single.step(int(np.flatnonzero(info["action_mask"])[0]))
    assert isinstance(info["path_count"], int) and info["path_count"] >= 1
    kernel = single.unwrapped.kernel
    assert info["path_count"] == _brute_count(kernel, task, info["outcome"])
    _, info = single.reset(seed=3)
    masked = np.flatnonzero(~info["action_mask"])
    if len(masked):
        _, _, done, _, info = single.step(int(masked[0]))
        assert done and info["invalid_action"] and info["path_count"] == 0


_BRUTE: dict = {}


def _brute_count(kernel, task, key) -> int:
    """Brute-force path count of ``key`` under ``task`` (cached per kernel and task)."""
    import json

    cache_key = (id(kernel), json.dumps(task, sort_keys=True))
    if cache_key not in _BRUTE:
        _BRUTE[cache_key] = count_paths(kernel, task)
    return _BRUTE[cache_key][key]
