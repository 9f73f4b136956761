"""CausalDAG: DAG counts, HypoSpace task facts, networkx cross-checks, masks, canonical order, tasks."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import gymnasium as gym
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ips_envs
from ips_envs.causal_dag import CausalDAGKernel, all_dags, edge_keys, matrix_to_bits, parse_key
from tests.conftest import count_paths, random_legal, rollout_outcomes, uniform_probs

NAMES = "ABCDEF"


# ----------------------------------------------------------------------------- independent reference
def _key(edges) -> str:
    """Outcome key built by the test itself: sorted ``X->Y`` edges joined by commas."""
    return ",".join(f"{NAMES[i]}->{NAMES[j]}" for i, j in sorted(edges))


def _brute_force_dags(n: int, max_edges: int | None = None) -> dict[str, dict[str, set[str]]]:
    """Every DAG on n nodes by trying every edge subset with networkx: key -> {node: descendants}."""
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    out = {}
    for bits in range(1 << len(pairs)):
        edges = [pairs[b] for b in range(len(pairs)) if bits >> b & 1]
        if max_edges is not None and len(edges) > max_edges:
            continue
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges)
        if nx.is_directed_acyclic_graph(g):
            out[_key(edges)] = {NAMES[v]: {NAMES[d] for d in nx.descendants(g, v)} for v in range(n)}
    return out


_BRUTE: dict[tuple[int, int | None], dict[str, dict[str, set[str]]]] = {}


def brute(n: int, max_edges: int | None = None) -> dict[str, dict[str, set[str]]]:
    if (n, max_edges) not in _BRUTE:
        _BRUTE[n, max_edges] = _brute_force_dags(n, max_edges)
    return _BRUTE[n, max_edges]


def _brute_admissible(task: dict, max_edges: int | None = None) -> set[str]:
    dags = brute(task["n_nodes"], max_edges)
    return {
        key for key, desc in dags.items()
        if all(desc[o["perturb"]] == set(o["descendants"]) for o in task["observations"])
    }


def _graph(adj: np.ndarray) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(len(adj)))
    g.add_edges_from(zip(*np.nonzero(adj), strict=True))
    return g


# ----------------------------------------------------------------------------- counts (HypoSpace facts)
@pytest.mark.parametrize("n,count", [(3, 25), (4, 543), (5, 29_281)])
def test_number_of_labelled_dags(n, count):
    space = all_dags(n)
    assert len(space) == count
    assert len(set(space.keys())) == count


@pytest.mark.parametrize("n", [3, 4])
def test_dag_space_matches_networkx_brute_force(n):
    space = all_dags(n)
    ref = brute(n)
    keys = space.keys()
    assert set(keys) == set(ref)
    desc = space.descendants
    for m, key in enumerate(keys):
        got = {NAMES[v]: {NAMES[d] for d in np.flatnonzero(desc[m, v])} for v in range(n)}
        assert got == ref[key]
    assert np.array_equal(space.n_edges, space.adjacency.sum(axis=(1, 2)))


def test_keys_round_trip_through_parse_key():
    space = all_dags(4)
    adjacency = np.stack([parse_key(k, 4) for k in space.keys()])
    assert np.array_equal(adjacency, space.adjacency)
    assert edge_keys(matrix_to_bits(adjacency)) == space.keys()


def test_edge_count_histogram_and_edge_limit_on_four_nodes():
    assert Counter(all_dags(4).n_edges.tolist()) == {0: 1, 1: 12, 2: 60, 3: 152, 4: 186, 5: 108, 6: 24}
    assert set(all_dags(4, max_edges=3).keys()) == set(brute(4, max_edges=3))
    assert len(all_dags(4, 3)) == 1 + 12 + 60 + 152


def test_four_nodes_three_observations_histogram():
    kernel = CausalDAGKernel(n_nodes=4, n_observations=3)
    tasks = kernel.all_tasks()
    assert len(tasks) == 392
    sizes = [len(kernel.outcome_rewards(t)) for t in tasks]
    assert Counter(sizes) == {1: 76, 2: 84, 3: 48, 4: 12, 5: 12, 8: 76, 9: 12, 12: 48, 16: 24}
    assert min(sizes) == 1 and max(sizes) == 16 and float(np.median(sizes)) == 3
    assert len({json.dumps(t, sort_keys=True) for t in tasks}) == 392


@pytest.mark.parametrize(
    "n,k,count", [(3, 1, 12), (3, 2, 30), (3, 3, 19), (4, 1, 32), (4, 2, 204), (4, 4, 219), (5, 2, 1180)]
)
def test_number_of_realisable_tasks(n, k, count):
    assert len(CausalDAGKernel(n_nodes=n, n_observations=k).all_tasks()) == count


def test_admissible_sets_match_networkx_brute_force():
    kernel = CausalDAGKernel(n_nodes=4)
    tasks = kernel.all_tasks()
    rng = np.random.default_rng(0)
    for i in rng.choice(len(tasks), 25, replace=False):
        assert set(kernel.outcome_rewards(tasks[i])) == _brute_admissible(tasks[i])
    limited = CausalDAGKernel(n_nodes=4, max_edges=2, n_observations=2)
    for task in limited.all_tasks()[::7]:
        assert set(limited.outcome_rewards(task)) == _brute_admissible(task, max_edges=2)
    assert set(limited.outcome_rewards(limited.all_tasks()[0]).values()) == {1.0}


@pytest.mark.parametrize("n,k,max_edges", [(3, 2, None), (4, 3, None), (4, 2, 2), (4, 3, 3)])
def test_validate_task_accepts_exactly_the_realisable_observation_sets(n, k, max_edges):
    """Every combination of candidate observations on distinct nodes: valid iff some DAG fits (networkx)."""
    kernel = CausalDAGKernel(n_nodes=n, n_observations=k, max_edges=max_edges)
    dags = brute(n, max_edges)
    accepted = []
    for nodes in itertools.combinations(NAMES[:n], k):
        choices = [[list(s) for r in range(n) for s in itertools.combinations([m for m in NAMES[:n] if m != p], r)]
                   for p in nodes]
        for descs in itertools.product(*choices):
            task = {"n_nodes": n, "observations": [{"perturb": p, "descendants": d}
                                                   for p, d in zip(nodes, descs, strict=True)]}
            fits = any(all(desc[p] == set(d) for p, d in zip(nodes, descs, strict=True)) for desc in dags.values())
            try:
                kernel.validate_task(task)
                ok = True
            except ValueError as err:
                assert "not realisable" in str(err)
                ok = False
            assert ok == fits, task
            accepted.append(ok)
    assert sum(accepted) == len(kernel.all_tasks())


# ----------------------------------------------------------------------------- construction paths
def test_canonical_order_gives_one_path_per_dag_and_free_order_m_factorial():
    canonical = CausalDAGKernel(n_nodes=3, canonical_order=True)
    task = canonical.sample_task(np.random.default_rng(0))
    counts = count_paths(canonical, task)
    assert set(counts) == set(brute(3)) and len(counts) == 25
    assert set(counts.values()) == {1}
    assert canonical.unique_paths
    free = CausalDAGKernel(n_nodes=3)
    assert not free.unique_paths
    counts = count_paths(free, task)
    assert set(counts) == set(brute(3))
    for key, c in counts.items():
        m = len(key.split(",")) if key else 0
        assert c == math.factorial(m), key


def test_canonical_dp_probability_is_the_single_trajectory_probability():
    env = gym.make("IPS/CausalDAG-v0", canonical_order=True).unwrapped
    env.reset(seed=1)
    assert env.unique_paths
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    assert set(exact) == set(brute(4))
    kernel = env.kernel
    for key in list(exact)[::23]:
        adj = np.zeros((4, 4), dtype=bool)
        for e in filter(None, key.split(",")):
            adj[NAMES.index(e[0]), NAMES.index(e[-1])] = True
        state, prob = kernel.initial_state([env.task]), 1.0
        for a in [*np.flatnonzero(adj.reshape(-1)), kernel.stop_action]:
            mask = kernel.legal_actions(state)[0]
            assert mask[a]
            prob /= mask.sum()
            kernel.apply(state, np.array([a]))
        assert exact[key] == pytest.approx(prob)


@pytest.mark.parametrize("kwargs", [{"n_nodes": 3}, {"n_nodes": 4}, {"n_nodes": 4, "canonical_order": True}])
def test_exact_dp_matches_monte_carlo_per_outcome(kwargs):
    """Per-outcome binomial check (TV over 543 outcomes is biased upwards at this sample size)."""
    env = gym.make("IPS/CausalDAG-v0", **kwargs).unwrapped
    env.reset(seed=0)
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    assert abs(sum(exact.values()) - 1.0) < 1e-9
    n = 20_000
    outcomes, rewards, _ = rollout_outcomes("IPS/CausalDAG-v0", n, seed=4, task=env.task, **kwargs)
    counts = Counter(outcomes)
    assert set(counts) <= set(exact)
    for key, p in exact.items():
        assert abs(counts.get(key, 0) - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, key
    admissible = env.admissible_outcomes()
    assert np.array_equal(rewards, np.array([o in admissible for o in outcomes], dtype=float))


# ----------------------------------------------------------------------------- property tests
@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 5), frac=st.floats(0.2, 1.0), canonical=st.booleans(), seed=st.integers(0, 10_000))
def test_masked_rollouts_stay_acyclic_within_max_edges(n, frac, canonical, seed):
    max_edges = max(1, round(frac * n * (n - 1) / 2))
    env = gym.make("IPS/CausalDAG-v0", n_nodes=n, max_edges=max_edges, canonical_order=canonical).unwrapped
    obs, info = env.reset(seed=seed)
    task = env.task
    assert env.kernel.validate_task(task) == task
    rng = np.random.default_rng(seed)
    nn = n * n
    for _ in range(env.kernel.max_length):
        adj = obs[:nn].reshape(n, n).astype(bool)
        g = _graph(adj)
        assert nx.is_directed_acyclic_graph(g) and adj.sum() <= max_edges
        closure = obs[nn: 2 * nn].reshape(n, n).astype(bool)
        assert all(set(np.flatnonzero(closure[v])) == nx.descendants(g, v) for v in range(n))
        # the masks allow exactly the edges that keep a DAG within the limit (and, canonically, come later)
        last = max((i * n + j for i, j in g.edges), default=-1)
        for i, j in itertools.product(range(n), repeat=2):
            ok = i != j and not adj[i, j] and adj.sum() < max_edges and not nx.has_path(g, j, i)
            ok = ok and (not canonical or i * n + j > last)
            assert info["action_mask"][i * n + j] == ok
        assert info["action_mask"][nn]
        obs, reward, terminated, _, info = env.step(int(random_legal(rng, info["action_mask"][None])[0]))
        if terminated:
            fits = all(nx.descendants(g, NAMES.index(o["perturb"])) == {NAMES.index(d) for d in o["descendants"]}
                       for o in task["observations"])
            assert info["outcome"] == _key(g.edges)
            assert info["valid"] == fits and reward == float(fits)
            assert fits == (info["outcome"] in env.admissible_outcomes())
            return
    pytest.fail("episode did not end")


@settings(max_examples=12, deadline=None)
@given(n=st.integers(3, 4), canonical=st.booleans(), seed=st.integers(0, 10_000))
def test_admissible_dags_are_reachable_and_rewarded_others_are_not(n, canonical, seed):
    env = gym.make("IPS/CausalDAG-v0", n_nodes=n, canonical_order=canonical, strict=True).unwrapped
    env.reset(seed=seed)
    task = env.task
    admissible = env.admissible_outcomes()
    assert admissible == _brute_admissible(task)
    rng = np.random.default_rng(seed)
    others = sorted(set(brute(n)) - admissible)
    chosen = sorted(admissible) + [others[i] for i in rng.choice(len(others), min(15, len(others)), replace=False)]
    for key in chosen:
        env.reset(options={"task": task})
        actions = [NAMES.index(e[0]) * n + NAMES.index(e[-1]) for e in filter(None, key.split(","))]
        actions = sorted(actions) if canonical else list(rng.permutation(actions))
        for a in actions:  # strict=True: a masked action would raise
            _, reward, terminated, _, info = env.step(int(a))
            assert not terminated and reward == 0.0
        _, reward, terminated, _, info = env.step(n * n)
        assert terminated and info["outcome"] == key
        assert info["valid"] == (key in admissible) and reward == float(key in admissible)


def test_batched_steps_with_different_tasks_per_row_match_networkx():
    kernel = CausalDAGKernel(n_nodes=5)
    rng = np.random.default_rng(3)
    tasks = [kernel.sample_task(rng) for _ in range(64)]
    state = kernel.initial_state(tasks)
    alive = np.ones(64, dtype=bool)
    for _ in range(kernel.max_length):
        masks = kernel.legal_actions(state)
        masks[:, -1] &= rng.random(64) < 0.15  # stop rarely so that graphs get large
        masks[~masks.any(axis=1), -1] = True
        actions = random_legal(rng, masks)
        rows = np.flatnonzero(alive)
        sub = {k: v[rows] for k, v in state.items()}
        ended = kernel.apply(sub, actions[rows])
        for k, v in sub.items():
            state[k][rows] = v
        alive[rows[ended]] = False
        if not alive.any():
            break
    keys, rewards, valid = kernel.outcomes(state)
    for r, task in enumerate(tasks):
        g = _graph(state["adj"][r])
        assert nx.is_directed_acyclic_graph(g)
        assert np.array_equal(state["reach"][r], nx.to_numpy_array(nx.transitive_closure_dag(g), nodelist=range(5)) > 0)
        fits = all(nx.descendants(g, NAMES.index(o["perturb"])) == {NAMES.index(d) for d in o["descendants"]}
                   for o in task["observations"])
        assert keys[r] == _key(g.edges) and valid[r] == fits and rewards[r] == float(fits)


# ----------------------------------------------------------------------------- tasks
def test_uniform_task_sampling_for_small_graphs():
    kernel = CausalDAGKernel(n_nodes=3, n_observations=2)
    tasks = [json.dumps(t, sort_keys=True) for t in kernel.all_tasks()]
    rng = np.random.default_rng(0)
    counts = Counter(json.dumps(kernel.sample_task(rng), sort_keys=True) for _ in range(6000))
    assert set(counts) == set(tasks) and len(tasks) == 30
    assert all(140 <= c <= 260 for c in counts.values())  # 200 expected, sd 14


@pytest.mark.parametrize("n", [4, 5, 6])
def test_sample_task_uses_only_the_given_generator(n):
    kernel = CausalDAGKernel(n_nodes=n)
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    a = [kernel.sample_task(np.random.default_rng(s)) for s in range(20)]
    assert np.random.random() == before
    b = [kernel.sample_task(np.random.default_rng(s)) for s in range(20)]
    assert a == b
    for task in a:
        assert kernel.validate_task(task) == task
        assert len(task["observations"]) == 3


def test_large_graph_sampler_tasks_are_realisable_within_max_edges():
    kernel = CausalDAGKernel(n_nodes=5, max_edges=4, n_observations=4)
    rng = np.random.default_rng(1)
    for _ in range(30):
        task = kernel.sample_task(rng)
        assert kernel.validate_task(task) == task
        assert len(kernel.outcome_rewards(task)) >= 1


def test_validate_task_normalises():
    kernel = CausalDAGKernel()
    task = {"observations": [{"descendants": ["D", "C"], "perturb": "B"}, {"perturb": "A", "descendants": []}]}
    assert kernel.validate_task(task) == {
        "n_nodes": 4,
        "observations": [{"perturb": "A", "descendants": []}, {"perturb": "B", "descendants": ["C", "D"]}],
    }


@pytest.mark.parametrize(
    "task,match",
    [
        ({"n_nodes": 4, "observations": [], "extra": 1}, "unknown field"),
        ({"n_nodes": 5, "observations": [{"perturb": "A", "descendants": []}]}, "n_nodes"),
        ({"n_nodes": 4}, "observations"),
        ({"observations": []}, "observations"),
        ({"observations": [{"perturb": "A", "descendants": []}] * 5}, "observations"),
        ({"observations": [{"perturb": "Z", "descendants": []}]}, r"observations\[0\].perturb"),
        ({"observations": [{"perturb": "A", "descendants": ["Q"]}]}, r"observations\[0\].descendants"),
        ({"observations": [{"perturb": "A", "descendants": ["A"]}]}, "perturbed node A"),
        ({"observations": [{"perturb": "A", "descendants": ["B", "B"]}]}, "repeats a node"),
        ({"observations": [{"perturb": "A", "descendants": "B"}]}, "descendants"),
        ({"observations": [{"perturb": "A", "descendants": []}, {"perturb": "A", "descendants": ["B"]}]},
         r"observations\[1\].perturb"),
        ({"observations": [{"perturb": "A", "descendants": [], "value": 1}]}, r"observations\[0\]"),
        ({"observations": [{"perturb": "A"}]}, "missing"),
        ({"observations": [{"perturb": "A", "descendants": ["B"]}, {"perturb": "B", "descendants": ["A"]}]},
         "not realisable"),
        ({"observations": [{"perturb": "A", "descendants": ["B"]}, {"perturb": "B", "descendants": ["C"]}]},
         "not realisable"),
    ],
)
def test_bad_tasks_are_named(task, match):
    with pytest.raises(ValueError, match=match):
        CausalDAGKernel().validate_task(task)
    with pytest.raises(ValueError, match=match):
        gym.make("IPS/CausalDAG-v0").unwrapped.reset(options={"task": task})


def test_edge_limit_makes_tasks_unrealisable():
    chain = {"observations": [{"perturb": "A", "descendants": ["B", "C", "D"]},
                              {"perturb": "B", "descendants": ["C", "D"]}, {"perturb": "C", "descendants": ["D"]}]}
    assert CausalDAGKernel(max_edges=3).validate_task(chain)["n_nodes"] == 4
    two = {"observations": [{"perturb": "A", "descendants": ["B", "C", "D"]}, {"perturb": "B", "descendants": []},
                            {"perturb": "C", "descendants": []}]}
    CausalDAGKernel(max_edges=3).validate_task(two)
    with pytest.raises(ValueError, match="max_edges=2"):
        CausalDAGKernel(max_edges=2).validate_task(two)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"n_nodes": 2}, "n_nodes"), ({"n_nodes": 7}, "n_nodes"), ({"n_nodes": 3.0}, "n_nodes"),
     ({"max_edges": 0}, "max_edges"), ({"max_edges": 7}, "max_edges"), ({"n_observations": 0}, "n_observations"),
     ({"n_observations": 5}, "n_observations"), ({"reward": "graded"}, "reward")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("IPS/CausalDAG-v0", **kwargs)


# ----------------------------------------------------------------------------- observation and renders
def test_observation_layout():
    task = {"n_nodes": 3, "observations": [{"perturb": "B", "descendants": ["C"]}]}
    for canonical in (False, True):
        env = gym.make("IPS/CausalDAG-v0", n_nodes=3, task=task, canonical_order=canonical).unwrapped
        obs, _ = env.reset(seed=0)
        assert obs.shape == env.observation_space.shape == (5 * 9 + 3 + (9 if canonical else 0),)
        # at the start B's observed descendant C is missing and nothing extra is reached
        np.testing.assert_array_equal(obs[30:39].reshape(3, 3), [[0, 0, 0], [0, 0, 1], [0, 0, 0]])
        assert not obs[39:48].any()
        obs, *_ = env.step(0 * 3 + 1)  # A->B
        obs, *_ = env.step(1 * 3 + 2)  # B->C
        assert obs.dtype == np.float32 and env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs[:9].reshape(3, 3), [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
        np.testing.assert_array_equal(obs[9:18].reshape(3, 3), [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
        np.testing.assert_array_equal(obs[18:21], [0, 1, 0])
        np.testing.assert_array_equal(obs[21:30].reshape(3, 3), [[0, 0, 0], [0, 0, 1], [0, 0, 0]])
        assert not obs[30:48].any()  # admissible: nothing missing, nothing extra
        if canonical:
            np.testing.assert_array_equal(np.flatnonzero(obs[48:]), [5])
        _, reward, terminated, _, info = env.step(9)
        assert terminated and reward == 1.0 and info["valid"] and info["outcome"] == "A->B,B->C"


def test_empty_graph_key_and_renders():
    task = {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B"]}]}
    env = gym.make("IPS/CausalDAG-v0", task=task, render_mode="ansi").unwrapped
    env.reset(seed=0)
    text = env.render()
    assert "do(A)" in text and "(none)" in text and "differs" in text
    env.step(1)
    text = env.render()
    assert "A->B" in text and "ok" in text
    _, reward, _, _, info = env.step(16)
    assert reward == 1.0 and info["outcome"] == "A->B"
    env.reset()
    _, reward, _, _, info = env.step(16)
    assert info["outcome"] == "" and reward == 0.0 and not info["valid"]
    rgb = gym.make("IPS/CausalDAG-v0", task=task, render_mode="rgb_array").unwrapped
    rgb.reset(seed=0)
    before = rgb.render()
    rgb.step(1)
    after = rgb.render()
    assert after.dtype == np.uint8 and after.ndim == 3 and after.shape[2] == 3
    assert (after != before).any()  # the edge (and the now-matching task cell) is drawn


@pytest.mark.parametrize("kwargs", [{"canonical_order": True}, {"n_nodes": 6, "max_edges": 8}, {"n_nodes": 3}])
def test_check_env_on_variants(kwargs):
    from gymnasium.utils.env_checker import check_env

    env = gym.make("IPS/CausalDAG-v0", render_mode="rgb_array", **kwargs).unwrapped
    check_env(env)
    env.reset(seed=0)
    assert env.render().dtype == np.uint8


def _reference_random_dag_task(kernel: CausalDAGKernel, rng: np.random.Generator) -> dict:
    """The documented n_nodes >= 5 sampler, one row at a time: edge count, node order, edge subset, perturbed nodes."""
    n, k = kernel.n_nodes, kernel.n_observations
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    u = rng.random(1 + 2 * n + len(pairs))
    m = min(int(u[0] * (kernel.max_edges + 1)), kernel.max_edges)
    order = np.argsort(u[1 : 1 + n])
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for c in np.argsort(u[1 + n : 1 + n + len(pairs)])[:m]:
        a, b = pairs[c]
        graph.add_edge(int(order[a]), int(order[b]))
    perturbed = sorted(np.argsort(u[1 + n + len(pairs) :])[:k].tolist())
    names = kernel.names
    return {"n_nodes": n, "observations": [
        {"perturb": names[p], "descendants": sorted(names[d] for d in nx.descendants(graph, p))} for p in perturbed]}


@pytest.mark.parametrize("n, k, max_edges", [(5, 2, None), (6, 3, None), (6, 6, 4), (5, 1, 3)])
def test_batched_random_dag_tasks_are_the_per_row_draws(n, k, max_edges):
    kernel = CausalDAGKernel(n_nodes=n, n_observations=k, max_edges=max_edges)
    reference = [_reference_random_dag_task(kernel, np.random.default_rng(s)) for s in range(200)]
    tasks, state = kernel.sample_tasks([np.random.default_rng(s) for s in range(200)])
    assert tasks == reference
    assert [kernel.sample_task(np.random.default_rng(s)) for s in range(20)] == reference[:20]
    expected = kernel.initial_state(reference)
    assert all(np.array_equal(state[f], expected[f]) for f in expected)
    assert all(kernel.validate_task(t) == t for t in tasks)
    assert CausalDAGKernel(n_nodes=4).sample_tasks([np.random.default_rng(0)]) is None  # the table path instead


def test_vector_resets_draw_the_tasks_single_envs_draw_with_six_nodes():
    envs = gym.make_vec("IPS/CausalDAG-v0", num_envs=8, n_nodes=6)
    envs.reset(seed=3)
    singles = []
    for i in range(8):
        env = gym.make("IPS/CausalDAG-v0", n_nodes=6)
        env.reset(seed=3 + i)
        singles.append(env.unwrapped.task)
    assert envs.unwrapped.tasks == singles
