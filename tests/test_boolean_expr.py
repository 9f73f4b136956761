"""BooleanExpr: HypoSpace's expression counts, canonical keys, masks, rewards, tasks and arguments.

Reference numbers come from HypoSpace (Chen et al. 2025) as recorded in ``reference/hypospace.md``; every
other expectation is recomputed here from first principles (a brute-force tree enumerator and a plain
Python evaluator that do not use the module under test).
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
from collections import Counter, defaultdict

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ips_envs
from ips_envs.boolean_expr import BooleanExprKernel, canonical_expressions, canonical_key
from tests.conftest import random_legal, rollout_outcomes, uniform_probs

ENV_ID = "IPS/BooleanExpr-v0"
if ENV_ID not in gym.registry:  # normally registered by ips_envs.registration; keep this file self-sufficient
    gym.register(ENV_ID, entry_point="ips_envs.boolean_expr:BooleanExprEnv",
                 vector_entry_point="ips_envs.boolean_expr:BooleanExprVectorEnv")
ARITY = {"AND": 2, "OR": 2, "NOT": 1, "NOR": 2, "XOR": 2}
EXTENDED = ["AND", "OR", "NOT"]


# ------------------------------------------------------------------ independent reference helpers
def all_trees(variables, operators, depth):
    """Every expression tree (ordered children) of depth <= ``depth``."""
    trees = list(variables)
    for _ in range(depth):
        prev = trees
        trees = list(variables)
        for op in operators:
            if ARITY[op] == 1:
                trees += [(op, a) for a in prev]
            else:
                trees += [(op, a, b) for a in prev for b in prev]
    return trees


def evaluate(tree, env: dict) -> bool:
    if isinstance(tree, str):
        return bool(env[tree])
    op, *kids = tree
    vals = [evaluate(k, env) for k in kids]
    return {"NOT": lambda: not vals[0], "AND": lambda: all(vals), "OR": lambda: any(vals),
            "NOR": lambda: not any(vals), "XOR": lambda: vals[0] != vals[1]}[op]()


def depth(tree) -> int:
    return 0 if isinstance(tree, str) else 1 + max(depth(k) for k in tree[1:])


def prefix(tree) -> list[str]:
    return [tree] if isinstance(tree, str) else [tree[0], *itertools.chain.from_iterable(prefix(k) for k in tree[1:])]


def tree_from_prefix(tokens: list[str]):
    it = iter(tokens)

    def node():
        tok = next(it)
        return (tok, *[node() for _ in range(ARITY[tok])]) if tok in ARITY else tok

    return node()


def fits(tree, task) -> bool:
    return all(evaluate(tree, row["inputs"]) == bool(row["output"]) for row in task["rows"])


def uniform_tree_probability(tree, variables, operators, budget) -> float:
    """Probability that the uniform-over-legal-actions policy writes ``tree`` into a slot of ``budget``."""
    n_legal = len(variables) + (len(operators) if budget >= 1 else 0)
    p = 1.0 / n_legal
    for kid in ([] if isinstance(tree, str) else tree[1:]):
        p *= uniform_tree_probability(kid, variables, operators, budget - 1)
    return p


def play(env, actions):
    """Step a single env through ``actions``; return the last (reward, terminated, info)."""
    reward, terminated, info = 0.0, False, {}
    for a in actions:
        assert not terminated
        _, reward, terminated, _, info = env.step(a)
    return reward, terminated, info


# ------------------------------------------------------------------------------ HypoSpace counts
@pytest.mark.parametrize(
    "operators,max_depth,n_keys,n_tables",
    [(["AND", "OR"], 1, 4, 4), (["AND", "OR"], 2, 10, 4), (EXTENDED, 1, 6, 6), (EXTENDED, 2, 34, 14),
     (["AND", "OR", "NOT", "NOR"], 1, 7, 7), (["AND", "OR", "NOT", "NOR"], 2, 65, 16)],
)
def test_canonical_space_sizes_match_hypospace(operators, max_depth, n_keys, n_tables):
    space = canonical_expressions(["x", "y"], operators, max_depth)
    assert len(space) == n_keys
    assert len(set(space.values())) == n_tables


@pytest.mark.parametrize("operators,max_depth", [(EXTENDED, 2), (["AND", "OR", "NOT", "NOR"], 2),
                                                 (["AND", "XOR", "NOT"], 2), (["NOR"], 3),
                                                 (["AND", "NOT"], 3)])
def test_key_space_is_the_image_of_every_tree_and_tables_are_right(operators, max_depth):
    trees = all_trees(["x", "y"], operators, max_depth)
    space = canonical_expressions(["x", "y"], operators, max_depth)
    assert {canonical_key(t) for t in trees} == set(space)
    for t in trees:  # a key determines its truth table; bit i = value under assignment i (x major)
        bits = sum(evaluate(t, {"x": i >> 1 & 1, "y": i & 1}) << i for i in range(4))
        assert space[canonical_key(t)] == bits


def test_default_task_family_matches_hypospace():
    kernel = BooleanExprKernel()
    tasks = kernel.all_tasks()
    sizes = defaultdict(list)
    for task in tasks:
        sizes[len(task["rows"])].append(len(kernel.outcome_rewards(task)))
    assert {k: len(v) for k, v in sizes.items()} == {1: 8, 2: 24, 3: 32, 4: 14}
    assert len(tasks) == 78 == len({json.dumps(t, sort_keys=True) for t in tasks})
    ranges = {k: (min(v), max(v)) for k, v in sizes.items()}
    assert ranges == {1: (14, 20), 2: (5, 12), 3: (2, 6), 4: (1, 4)}
    assert {k: statistics.median(v) for k, v in sizes.items()} == {1: 17, 2: 8, 3: 4.5, 4: 2}


def test_full_operator_task_family_matches_hypospace():
    kernel = BooleanExprKernel(operators=["AND", "OR", "NOT", "NOR"])
    sizes = defaultdict(list)
    for task in kernel.all_tasks():
        sizes[len(task["rows"])].append(len(kernel.outcome_rewards(task)))
    assert {k: len(v) for k, v in sizes.items()} == {1: 8, 2: 24, 3: 32, 4: 16}
    assert {k: statistics.median(v) for k, v in sizes.items()} == {1: 32.5, 2: 14, 3: 8, 4: 3}
    assert max(max(v) for v in sizes.values()) == 40


def test_admissible_sets_equal_brute_force_over_all_trees():
    kernel = BooleanExprKernel()
    trees = all_trees(["x", "y"], EXTENDED, 2)
    for task in kernel.all_tasks():
        expected = {canonical_key(t) for t in trees if fits(t, task)}
        assert set(kernel.outcome_rewards(task)) == expected
        assert set(kernel.outcome_rewards(task).values()) == {1.0}


# --------------------------------------------------------------------------------- canonical keys
def test_key_identity_rules():
    x, y, z = "x", "y", "z"
    assert canonical_key(("AND", y, ("NOT", x))) == "AND(NOT(x),y)"
    assert canonical_key(("AND", x, x)) == canonical_key(x)  # idempotence removes the gate
    assert canonical_key(("OR", ("OR", x, y), ("OR", y, x))) == canonical_key(("OR", x, y))
    assert canonical_key(("NOT", ("NOT", x))) != canonical_key(x)  # no double-negation removal
    assert canonical_key(("AND", x, ("OR", x, y))) != canonical_key(x)  # no absorption
    assert canonical_key(("NOT", ("AND", x, y))) != canonical_key(("OR", ("NOT", x), ("NOT", y)))  # no De Morgan
    assert canonical_key(("AND", x, ("NOT", x))) != canonical_key(("AND", y, ("NOT", y)))  # contradictions stay
    # NOR is NOT(OR): same identity as HypoSpace's Not(Or(...)) node
    assert canonical_key(("NOR", x, y)) == canonical_key(("NOT", ("OR", y, x)))
    assert canonical_key(("NOR", x, x)) == canonical_key(("NOT", x))
    assert canonical_key(("NOR", x, ("OR", y, z))) == canonical_key(("NOT", ("OR", ("OR", z, x), y)))
    assert canonical_key(("NOR", x, ("NOR", y, z))) != canonical_key(("NOR", ("NOR", x, y), z))
    # XOR: commutative, not flattened, not de-duplicated
    assert canonical_key(("XOR", y, x)) == canonical_key(("XOR", x, y))
    assert canonical_key(("XOR", x, ("XOR", y, z))) != canonical_key(("XOR", ("XOR", x, y), z))
    assert canonical_key(("XOR", x, x)) != canonical_key(x)


def _trees(leaves=("x", "y", "z")):
    return st.recursive(
        st.sampled_from(leaves),
        lambda kids: st.one_of(
            st.tuples(st.just("NOT"), kids),
            st.tuples(st.sampled_from(["AND", "OR", "NOR", "XOR"]), kids, kids),
        ),
        max_leaves=10,
    )


def _flatten(tree, op):
    if isinstance(tree, tuple) and tree[0] == op:
        return _flatten(tree[1], op) + _flatten(tree[2], op)
    return [tree]


def _renest(args, op, rnd):
    if len(args) == 1:
        return args[0]
    cut = rnd.randint(1, len(args) - 1)
    return (op, _renest(args[:cut], op, rnd), _renest(args[cut:], op, rnd))


def scramble(tree, rnd: random.Random):
    """Reorder AND/OR/NOR/XOR arguments and re-associate AND/OR chains at random (same identity)."""
    if isinstance(tree, str):
        return tree
    op = tree[0]
    if op == "NOT":
        return ("NOT", scramble(tree[1], rnd))
    if op in ("AND", "OR"):
        args = [scramble(a, rnd) for a in _flatten(tree, op)]
        rnd.shuffle(args)
        if rnd.random() < 0.3:
            args.append(rnd.choice(args))  # a repeated argument is dropped by idempotence
        return _renest(args, op, rnd)
    kids = [scramble(tree[1], rnd), scramble(tree[2], rnd)]
    rnd.shuffle(kids)
    return (op, *kids)


@settings(max_examples=150, deadline=None)
@given(tree=_trees(), seed=st.integers(0, 2**32 - 1))
def test_keys_invariant_under_reordering_and_renesting(tree, seed):
    other = scramble(tree, random.Random(seed))
    assert canonical_key(other) == canonical_key(tree)
    for bits in itertools.product((0, 1), repeat=3):  # equal keys are always equal functions
        env = dict(zip("xyz", bits, strict=True))
        assert evaluate(other, env) == evaluate(tree, env)


# ---------------------------------------------------------------------------- dynamics and masks
def test_legal_sequences_are_exactly_the_trees_of_bounded_depth():
    for variables, operators, max_depth in [(["x", "y"], EXTENDED, 2), (["x"], ["NOT", "XOR"], 3),
                                            (["a", "b", "c"], ["AND", "NOR"], 1)]:
        kernel = BooleanExprKernel(variables=variables, operators=operators, max_depth=max_depth)
        found = []

        def walk(state, seq):
            for a in np.flatnonzero(kernel.legal_actions(state)[0]):
                child = {k: v.copy() for k, v in state.items()}
                if kernel.apply(child, np.array([a]))[0]:
                    found.append([kernel.tokens[i] for i in [*seq, a]])
                else:
                    walk(child, [*seq, a])

        walk(kernel.initial_state([{"rows": []}]), [])
        expected = sorted(map(str, (prefix(t) for t in all_trees(variables, operators, max_depth))))
        assert sorted(map(str, found)) == expected
        assert max(map(len, found)) == kernel.max_length == 2 ** (max_depth + 1) - 1


def test_every_tree_in_one_batch_gets_reward_iff_it_fits():
    kernel = BooleanExprKernel()
    trees = all_trees(["x", "y"], EXTENDED, 2)
    tasks = kernel.all_tasks()
    pairs = [(t, task) for task in tasks for t in trees]
    state = kernel.initial_state([task for _, task in pairs])
    seqs = [[kernel.tokens.index(tok) for tok in prefix(t)] for t, _ in pairs]
    done = np.zeros(len(pairs), dtype=bool)
    for step in range(kernel.max_length):
        live = np.flatnonzero(~done)
        sub = {k: v[live] for k, v in state.items()}
        actions = np.array([seqs[i][step] for i in live])
        assert kernel.legal_actions(sub)[np.arange(len(live)), actions].all()
        ended = kernel.apply(sub, actions)
        for k in state:
            state[k][live] = sub[k]
        done[live[ended]] = True
        if done.all():
            break
    assert done.all()
    keys, rewards, valid = kernel.outcomes(state)
    expected = np.array([fits(t, task) for t, task in pairs])
    np.testing.assert_array_equal(valid, expected)
    np.testing.assert_array_equal(rewards, expected.astype(float))
    assert keys == [canonical_key(t) for t, _ in pairs]


def test_not_or_is_admissible_without_nor():
    task = {"rows": [{"inputs": {"x": 0, "y": 0}, "output": 1}, {"inputs": {"x": 1, "y": 1}, "output": 0}]}
    env = gym.make(ENV_ID, task=task, strict=True)
    env.reset(seed=0)
    tokens = env.unwrapped.kernel.tokens
    reward, terminated, info = play(env, [tokens.index(t) for t in ["NOT", "OR", "x", "y"]])
    assert terminated and reward == 1.0 and info["valid"]
    assert info["outcome"] == canonical_key(("NOT", ("OR", "x", "y")))
    assert info["outcome"] in env.unwrapped.admissible_outcomes()


CONFIGS = [
    (["x", "y"], EXTENDED, 2),
    (["x", "y"], ["AND", "OR", "NOT", "NOR", "XOR"], 2),
    (["x", "y", "z"], EXTENDED, 2),
    (["p"], ["NOT", "XOR"], 3),
    (["x", "y"], ["AND", "OR"], 3),
]


@settings(max_examples=20, deadline=None)
@given(config=st.sampled_from(CONFIGS), pick=st.integers(0, 10**6))
def test_every_admissible_outcome_is_reachable_and_rewarded(config, pick):
    variables, operators, max_depth = config
    env = gym.make(ENV_ID, variables=variables, operators=operators, max_depth=max_depth, strict=True)
    kernel = env.unwrapped.kernel
    tasks = kernel.all_tasks()
    task = tasks[pick % len(tasks)]
    admissible = kernel.outcome_rewards(task)
    assert admissible
    for key in admissible:
        env.reset(options={"task": task})
        actions = kernel.expression_actions(key)
        tree = tree_from_prefix([kernel.tokens[a] for a in actions])
        assert depth(tree) <= max_depth and fits(tree, task)
        reward, terminated, info = play(env, actions)
        assert terminated and reward == 1.0 and info["valid"] is True and info["outcome"] == key


@settings(max_examples=30, deadline=None)
@given(
    n_vars=st.integers(1, 3),
    operators=st.sets(st.sampled_from(list(ARITY)), min_size=1),
    max_depth=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_random_masked_rollouts(n_vars, operators, max_depth, seed):
    variables = ["x", "y", "z"][:n_vars]
    max_depth = min(max_depth, 2) if n_vars == 3 else max_depth  # keep the enumerated spaces small
    env = gym.make(ENV_ID, variables=variables, operators=sorted(operators), max_depth=max_depth)
    kernel = env.unwrapped.kernel
    rng = np.random.default_rng(seed)
    for _ in range(5):
        _, info = env.reset(seed=int(rng.integers(1 << 30)))
        task = env.unwrapped.task
        tokens = []
        for _ in range(kernel.max_length):
            a = int(random_legal(rng, info["action_mask"][None])[0])
            tokens.append(kernel.tokens[a])
            obs, reward, terminated, _, info = env.step(a)
            assert env.observation_space.contains(obs)
            if terminated:
                break
        else:
            pytest.fail("episode did not end within max_length")
        tree = tree_from_prefix(tokens)
        assert depth(tree) <= max_depth
        assert reward == float(fits(tree, task)) and info["valid"] == fits(tree, task)
        assert info["outcome"] == canonical_key(tree)
        rewards = kernel.outcome_rewards(task)
        if rewards is not None:
            assert (info["outcome"] in rewards) == fits(tree, task)


def test_observation_is_markov_on_all_prefixes():
    kernel = BooleanExprKernel()
    task = kernel.all_tasks()[30]
    seen: dict[bytes, tuple] = {}

    def walk(state, seq):
        obs = kernel.observe(state)[0]
        assert obs.dtype == np.float32 and kernel.observation_space.contains(obs)
        assert seen.setdefault(obs.tobytes(), seq) == seq  # different prefixes, different observations
        for a in np.flatnonzero(kernel.legal_actions(state)[0]):
            child = {k: v.copy() for k, v in state.items()}
            if not kernel.apply(child, np.array([a]))[0]:
                walk(child, (*seq, int(a)))

    walk(kernel.initial_state([task]), ())
    other = kernel.initial_state([kernel.all_tasks()[31]])
    assert not np.array_equal(kernel.observe(other)[0], kernel.observe(kernel.initial_state([task]))[0])


# ------------------------------------------------------------------------------ exact distribution
def test_exact_dp_equals_sum_of_tree_probabilities_and_monte_carlo():
    variables, operators = ["x", "y"], ["AND", "OR", "NOT", "NOR"]
    env = gym.make(ENV_ID, operators=operators, max_depth=2).unwrapped
    env.reset(seed=2)
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    by_key: Counter = Counter()
    for t in all_trees(variables, operators, 2):
        by_key[canonical_key(t)] += uniform_tree_probability(t, variables, operators, 2)
    assert set(exact) == set(by_key)
    for key, p in by_key.items():
        assert exact[key] == pytest.approx(p, abs=1e-12)
    n = 20_000
    outcomes, rewards, steps = rollout_outcomes(ENV_ID, n, seed=5, task=env.task, operators=operators)
    counts = Counter(outcomes)
    assert 0.5 * sum(abs(counts.get(k, 0) / n - exact[k]) for k in exact) < 0.05
    assert steps <= env.kernel.max_length
    admissible = env.admissible_outcomes()
    assert all((r == 1.0) == (o in admissible) for o, r in zip(outcomes, rewards, strict=True))


# ---------------------------------------------------------------------------------------- tasks
def test_sample_task_is_uniform_over_all_tasks_and_seeded():
    kernel = BooleanExprKernel()
    tasks = [json.dumps(t, sort_keys=True) for t in kernel.all_tasks()]
    rng = np.random.default_rng(0)
    counts = Counter(json.dumps(kernel.sample_task(rng), sort_keys=True) for _ in range(78 * 100))
    assert set(counts) == set(tasks)
    assert 50 <= min(counts.values()) and max(counts.values()) <= 150  # Binomial(7800, 1/78): mean 100, sd 10
    a = kernel.sample_task(np.random.default_rng(7))
    assert a == kernel.sample_task(np.random.default_rng(7))
    assert a == kernel.validate_task(a)


def test_max_observed_and_larger_configs():
    variables = ["x", "y", "z"]
    kernel = BooleanExprKernel(variables=variables, max_observed=2)
    tasks = kernel.all_tasks()
    assert {len(t["rows"]) for t in tasks} == {1, 2}
    assert all(kernel.outcome_rewards(t) for t in tasks)
    # brute force: the distinct partial tables with 1 or 2 rows that some depth-2 tree produces
    assignments = [dict(zip(variables, bits, strict=True)) for bits in itertools.product((0, 1), repeat=3)]
    functions = {tuple(evaluate(t, a) for a in assignments) for t in all_trees(variables, EXTENDED, 2)}
    expected = {(rows, tuple(f[i] for i in rows)) for f in functions
                for k in (1, 2) for rows in itertools.combinations(range(8), k)}
    assert len(tasks) == len(expected)
    too_big = BooleanExprKernel(variables=["a", "b", "c", "d"], operators=list(ARITY), max_depth=3)
    assert too_big.outcome_rewards({"rows": []}) is None
    assert too_big.max_observed == 4 and BooleanExprKernel(variables=variables).max_observed == 8
    assert {len(t["rows"]) for t in BooleanExprKernel(variables=["x"]).all_tasks()} == {1, 2}
    with pytest.raises(ValueError, match="max_observed"):
        BooleanExprKernel(variables=["a", "b", "c", "d"], max_observed=8)


def _task(*rows, **extra):
    return {"rows": [{"inputs": {"x": x, "y": y}, "output": o} for x, y, o in rows], **extra}


def test_task_validation_and_normalisation():
    kernel = BooleanExprKernel(operators=["OR", "NOT", "AND"])
    assert kernel.operators == ("AND", "OR", "NOT")
    task = kernel.validate_task(_task((1, 1, 0), (0, 0, True), operators=["NOT", "AND", "OR"]))
    assert task["rows"] == [{"inputs": {"x": 0, "y": 0}, "output": 1}, {"inputs": {"x": 1, "y": 1}, "output": 0}]
    assert task["variables"] == ["x", "y"] and task["max_depth"] == 2 and task["operators"] == ["AND", "OR", "NOT"]
    assert kernel.validate_task({"rows": []})["rows"] == []
    bad = [
        ({**_task((0, 0, 1)), "extra": 1}, "unknown field"),
        (_task((0, 0, 1), variables=["x", "z"]), "variables"),
        (_task((0, 0, 1), operators=["AND", "OR"]), "operators"),
        (_task((0, 0, 1), max_depth=3), "max_depth"),
        ({}, "rows"),
        (_task((0, 0, 1), (0, 0, 1)), "repeats"),
        (_task((0, 2, 1)), r"\['y'\]"),
        (_task((0, 0, 5)), "output"),
        ({"rows": [{"inputs": {"x": 0}, "output": 1}]}, "inputs"),
        ({"rows": [{"inputs": {"x": 0, "y": 0}}]}, "output"),
        (_task((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)), "unrealisable"),  # XOR needs an XOR gate
    ]
    for task, match in bad:
        with pytest.raises(ValueError, match=match):
            kernel.validate_task(task)
    xor = BooleanExprKernel(operators=["AND", "XOR"], max_depth=1)
    assert xor.validate_task(_task((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"variables": ["x", "y", "z", "w", "v"]}, "variables"), ({"variables": ["x", "x"]}, "distinct"),
     ({"variables": ["AND"]}, "AND"), ({"variables": "xy"}, "variables"), ({"operators": ["IMPLIES"]}, "IMPLIES"),
     ({"operators": []}, "operators"), ({"operators": ["AND", "AND"]}, "distinct"), ({"max_depth": 0}, "max_depth"),
     ({"max_depth": 5}, "max_depth"), ({"max_observed": 5}, "max_observed")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make(ENV_ID, **kwargs)


def test_renders_show_prefix_open_slots_and_table():
    env = gym.make(ENV_ID, render_mode="ansi", task=_task((0, 0, 1)))
    env.reset(seed=0)
    tokens = env.unwrapped.kernel.tokens
    env.step(tokens.index("AND"))
    env.step(tokens.index("NOT"))
    text = env.render()
    assert "AND NOT" in text and "AND(NOT(?),?)" in text
    assert "0 0 |  1" in text and text.count("?") >= 5
    rgb = gym.make(ENV_ID, render_mode="rgb_array")
    rgb.reset(seed=0)
    before = rgb.render()
    rgb.step(0)
    after = rgb.render()
    assert before.dtype == np.uint8 and before.ndim == 3 and before.shape == after.shape
    assert not np.array_equal(before, after)
