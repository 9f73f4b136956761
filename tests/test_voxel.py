"""Voxel3D: admissible-set sizes, tasks, masks, canonical order, exact DP, properties."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ips_envs
from ips_envs.core.enumeration import admissible_outcomes
from ips_envs.voxel import Voxel3DEnv, Voxel3DKernel, heights_to_layers, height_keys, key_heights
from tests.conftest import random_legal, rollout_outcomes, uniform_probs
from tests.conftest import count_paths

ENV_ID = "IPS/Voxel3D-v0"


def _view(grid: int, cells: list[int]) -> list[list[int]]:
    flat = np.zeros(grid * grid, dtype=int)
    flat[cells] = 1
    return flat.reshape(grid, grid).tolist()


def _key(grid: int, heights: dict[int, int]) -> str:
    """Independent outcome key: row-major base-36 characters of the column heights."""
    return "".join(np.base_repr(heights.get(c, 0), 36).lower() for c in range(grid * grid))


def _play(env: Voxel3DEnv, task: dict, actions: list[int]):
    """Reset on ``task`` and play ``actions`` (each must be legal); return the last step's results."""
    _, info = env.reset(options={"task": task})
    result = None
    for t, a in enumerate(actions):
        assert info["action_mask"][a], f"action {a} masked at step {t} of {actions}"
        result = env.step(a)
        info = result[4]
        assert result[2] == (t == len(actions) - 1)
    return result


# ------------------------------------------------------------------ admissible sets
@pytest.mark.parametrize(
    "grid,height,cells",
    [(3, 3, [4]), (3, 3, [0, 8]), (3, 3, [1, 7, 8]), (4, 4, [0, 3, 5, 10, 15]), (2, 5, [0, 1, 2, 3]),
     (1, 7, [0])],
)
def test_admissible_set_is_every_height_assignment(grid, height, cells):
    kernel = Voxel3DKernel(grid=grid, height=height, max_blocks=len(cells))
    task = kernel.validate_task({"top_view": _view(grid, cells)})
    admissible = admissible_outcomes(kernel, task)
    assert len(admissible) == height ** len(cells) == kernel.n_admissible(task)
    expected = {_key(grid, dict(zip(cells, hs, strict=True)))
                for hs in itertools.product(range(1, height + 1), repeat=len(cells))}
    assert admissible == expected


def test_default_task_set_matches_hypospace():
    kernel = gym.make(ENV_ID).unwrapped.kernel
    tasks = kernel.all_tasks()
    # HypoSpace's default 3D dataset: 129 top views, |H_O| histogram {3: 9, 9: 36, 27: 84}
    assert len(tasks) == 129
    assert Counter(len(kernel.outcome_rewards(t)) for t in tasks) == {3: 9, 9: 36, 27: 84}
    views = {json.dumps(t["top_view"]) for t in tasks}
    assert len(views) == 129
    assert all(kernel.validate_task(t) == t for t in tasks)
    assert sum(kernel.n_admissible(t) for t in tasks) == 2619


@pytest.mark.parametrize("grid,lo,hi", [(2, 1, 4), (3, 2, 2), (4, 1, 2), (3, 9, 9)])
def test_all_tasks_are_every_view_in_the_block_range(grid, lo, hi):
    kernel = Voxel3DKernel(grid=grid, max_blocks=hi, min_blocks=lo)
    tasks = kernel.all_tasks()
    assert len(tasks) == sum(math.comb(grid * grid, k) for k in range(lo, hi + 1)) == kernel.n_tasks
    counts = [int(np.sum(t["top_view"])) for t in tasks]
    assert min(counts) == lo and max(counts) == hi
    assert len({json.dumps(t["top_view"]) for t in tasks}) == len(tasks)


def test_task_sampling_is_uniform_and_seeded():
    kernel = Voxel3DKernel()
    n = 129 * 150
    rng = np.random.default_rng(0)
    draws = Counter(json.dumps(kernel.sample_task(rng)["top_view"]) for _ in range(n))
    assert len(draws) == 129
    freq = np.array(list(draws.values())) / n
    assert np.abs(freq - 1 / 129).max() < 0.004
    a = [kernel.sample_task(np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]


def test_sampling_without_enumeration_respects_block_range():
    kernel = Voxel3DKernel(grid=6, max_blocks=20, min_blocks=18)  # ~10^10 views: not enumerated
    rng = np.random.default_rng(1)
    for _ in range(50):
        task = kernel.sample_task(rng)
        assert 18 <= int(np.sum(task["top_view"])) <= 20
        assert kernel.validate_task(task) == task
    with pytest.raises(ValueError, match="MAX_ENUMERATED_TASKS"):
        kernel.all_tasks()


# ------------------------------------------------------------------------ tasks
def test_validate_task_normalises():
    kernel = Voxel3DKernel()
    expected = {"grid": 3, "height": 3, "top_view": [[0, 1, 0], [0, 0, 0], [0, 1, 1]]}
    assert kernel.validate_task({"top_view": "010000011"}) == expected
    assert kernel.validate_task({"grid": 3, "top_view": np.array(expected["top_view"], bool)}) == expected
    assert kernel.validate_task({"top_view": [[0.0, 1.0, 0.0], [0, 0, 0], [0, 1, 1]]}) == expected


@pytest.mark.parametrize(
    "task,match",
    [({"top_view": "010000011", "colour": 1}, "unknown field"),
     ({"grid": 4, "top_view": "010000011"}, "'grid' is 4"),
     ({"height": 2, "top_view": "010000011"}, "'height' is 2"),
     ({}, "missing the field 'top_view'"),
     ({"top_view": [[0, 1], [1, 0]]}, r"shape \(3, 3\)"),
     ({"top_view": [[0, 1, 0], [0, 1], [0, 0, 0]]}, "top_view"),
     ({"top_view": [[0, 2, 0], [0, 0, 0], [0, 0, 0]]}, "0/1"),
     ({"top_view": [[0, 0.5, 0], [0, 0, 0], [0, 0, 0]]}, "0/1"),
     ({"top_view": "01000001"}, "9 characters"),
     ({"top_view": [[0] * 3] * 3}, "empty"),
     ({"top_view": [[1, 1, 0], [0, 1, 0], [0, 0, 1]]}, "4 occupied cells"),
     ("not a dict", "must be a dict")],
)
def test_bad_tasks_are_named(task, match):
    with pytest.raises(ValueError, match=match):
        Voxel3DKernel().validate_task(task)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"grid": 0}, "grid"), ({"height": 0}, "height"), ({"height": 36}, "height"),
     ({"grid": 2, "max_blocks": 5}, "max_blocks"), ({"min_blocks": 4}, "min_blocks"), ({"grid": 2.0}, "grid")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make(ENV_ID, **kwargs)


# ---------------------------------------------------------------- path counting
def test_canonical_order_gives_one_path_per_structure():
    task = {"grid": 2, "height": 2, "top_view": [[1, 0], [0, 1]]}
    kernel = Voxel3DKernel(grid=2, height=2, canonical_order=True)
    assert kernel.unique_paths
    counts = count_paths(kernel, task)
    assert len(counts) == 3**4 and set(counts.values()) == {1}  # every height map in {0,1,2}^4
    free = count_paths(Voxel3DKernel(grid=2, height=2), task)
    assert set(free) == set(counts)
    for key, count in free.items():
        h = key_heights(key, 2).reshape(-1)
        multinomial = math.factorial(int(h.sum())) // math.prod(math.factorial(int(v)) for v in h)
        assert count == multinomial, key
    masked = count_paths(Voxel3DKernel(grid=2, height=2, canonical_order=True, mask_top_view=True), task)
    assert set(masked) == set(admissible_outcomes(kernel, task))
    assert set(masked.values()) == {1}


def test_canonical_order_trajectory_probability_is_outcome_probability():
    env = Voxel3DEnv(grid=2, height=3, max_blocks=2, canonical_order=True)
    task = {"top_view": [[0, 1], [1, 0]]}
    env.reset(options={"task": task})
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    assert len(exact) == 4**4
    for key, p in exact.items():
        h = key_heights(key, 2).reshape(-1)
        actions = [c for c in range(4) for _ in range(h[c])] + [4]
        prob, state = 1.0, env.kernel.initial_state([env.task])
        for a in actions:
            mask = env.kernel.legal_actions(state)[0]
            assert mask[a]
            prob /= mask.sum()
            env.kernel.apply(state, np.array([a]))
        assert p == pytest.approx(prob)


# ------------------------------------------------------------------ exact vs MC
def _marginals(dist: dict[str, float], grid: int, height: int) -> np.ndarray:
    """Per-column height marginals ``[grid**2, height + 1]`` of an outcome distribution."""
    out = np.zeros((grid * grid, height + 1))
    for key, p in dist.items():
        out[np.arange(grid * grid), key_heights(key, grid).reshape(-1)] += p
    return out


@pytest.mark.parametrize(
    "kwargs",
    [{"canonical_order": True}, {"grid": 2, "height": 2, "canonical_order": True}, {"mask_top_view": True},
     {"mask_top_view": True, "canonical_order": True}, {"grid": 2, "height": 4, "max_blocks": 2}],
)
def test_uniform_policy_dp_matches_monte_carlo(kwargs):
    env = gym.make(ENV_ID, **kwargs).unwrapped
    env.reset(seed=2)
    kernel = env.kernel
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    assert abs(sum(exact.values()) - 1.0) < 1e-9
    n = 20_000
    outcomes, rewards, steps = rollout_outcomes(ENV_ID, n, seed=7, task=env.task, **kwargs)
    assert steps <= kernel.max_length
    counts = Counter(outcomes)
    sampled = {k: c / n for k, c in counts.items()}
    assert set(sampled) <= set(exact)
    # per-column height marginals and the valid mass: within ~5 standard errors
    diff = np.abs(_marginals(sampled, kernel.grid, kernel.height) - _marginals(exact, kernel.grid, kernel.height))
    assert diff.max() < 5 * 0.5 / np.sqrt(n)
    admissible = env.admissible_outcomes()
    p_valid = sum(p for k, p in exact.items() if k in admissible)
    assert abs(rewards.mean() - p_valid) < 5 * 0.5 / np.sqrt(n)
    if len(exact) <= 100:  # small support: the whole distribution, in total variation
        tv = 0.5 * sum(abs(sampled.get(k, 0.0) - exact.get(k, 0.0)) for k in exact)
        assert tv < 0.05, f"TV {tv:.4f} between exact DP and {n} samples"
    if kernel.mask_top_view:
        assert set(exact) == set(admissible) and p_valid == pytest.approx(1.0)


# --------------------------------------------------------------- mask_top_view
@pytest.mark.parametrize("canonical", [False, True])
def test_mask_top_view_episodes_are_always_valid(canonical):
    n = 2000
    envs = gym.make_vec(ENV_ID, num_envs=n, mask_top_view=True, canonical_order=canonical)
    _, info = envs.reset(seed=3)
    tasks = envs.unwrapped.tasks
    assert len({json.dumps(t) for t in tasks}) > 50  # rows hold different tasks
    rng = np.random.default_rng(3)
    done = np.zeros(n, dtype=bool)
    while not done.all():
        live_masks = info["action_mask"][~done]
        assert live_masks.any(axis=1).all(), "a live episode has no legal action"
        actions = random_legal(rng, np.where(done[:, None], True, info["action_mask"]))
        _, rew, term, _, info = envs.step(actions)
        newly = term & ~done
        assert info["valid"][newly].all() and np.all(rew[newly] == 1.0)
        for i in np.flatnonzero(newly):
            assert info["outcome"][i] in envs.unwrapped.admissible_outcomes(i)
        done |= term


def test_default_masks_do_not_use_the_view():
    env = Voxel3DEnv()
    _, info = env.reset(options={"task": {"top_view": "100000000"}})
    assert info["action_mask"].all()  # every column and stop, even columns outside the view
    for _ in range(3):
        _, _, _, _, info = env.step(4)
    assert not info["action_mask"][4] and info["action_mask"].sum() == 9  # column 4 is full


# ------------------------------------------------------------------- properties
configs = st.tuples(st.integers(1, 4), st.integers(1, 4), st.booleans(), st.booleans())


@st.composite
def admissible_plays(draw):
    grid, height, canonical, masked = draw(configs)
    n = grid * grid
    cells = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=min(n, 4))))
    heights = {c: draw(st.integers(1, height)) for c in cells}
    drops = [c for c in cells for _ in range(heights[c])]
    if not canonical:
        drops = draw(st.permutations(drops))
    return dict(grid=grid, height=height, canonical_order=canonical, mask_top_view=masked,
                max_blocks=len(cells)), cells, heights, list(drops)


@settings(max_examples=60, deadline=None)
@given(admissible_plays())
def test_every_admissible_structure_is_reachable_and_rewarded(play):
    kwargs, cells, heights, drops = play
    grid = kwargs["grid"]
    env = Voxel3DEnv(strict=True, **kwargs)
    task = {"top_view": _view(grid, cells)}
    _, reward, terminated, _, info = _play(env, task, drops + [grid * grid])
    key = _key(grid, heights)
    assert terminated and reward == 1.0 and info["valid"] is True
    assert info["outcome"] == key and key in env.admissible_outcomes()
    assert np.array_equal(key_heights(key, grid).reshape(-1), [heights.get(c, 0) for c in range(grid * grid)])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), grid=st.integers(1, 4), height=st.integers(1, 4), canonical=st.booleans())
def test_structures_outside_the_admissible_set_get_zero(data, grid, height, canonical):
    n = grid * grid
    cells = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=min(n, 3))))
    structure = np.array(data.draw(st.lists(st.integers(0, height), min_size=n, max_size=n)))
    view = np.zeros(n, dtype=bool)
    view[cells] = True
    if np.array_equal(structure > 0, view):  # make it inadmissible: flip one column's occupancy
        c = data.draw(st.integers(0, n - 1))
        structure[c] = 0 if structure[c] else 1
    drops = [c for c in range(n) for _ in range(structure[c])]
    if not canonical:
        drops = data.draw(st.permutations(drops))
    env = Voxel3DEnv(grid=grid, height=height, max_blocks=len(cells), canonical_order=canonical, strict=True)
    _, reward, terminated, _, info = _play(env, {"top_view": _view(grid, cells)}, list(drops) + [n])
    key = "".join(np.base_repr(int(v), 36).lower() for v in structure)
    assert terminated and reward == 0.0 and info["valid"] is False
    assert info["outcome"] == key and key not in env.admissible_outcomes()


@settings(max_examples=30, deadline=None)
@given(config=configs, seed=st.integers(0, 10_000))
def test_heights_never_exceed_height_and_observations_fit(config, seed):
    grid, height, canonical, masked = config
    env = Voxel3DEnv(grid=grid, height=height, max_blocks=1, canonical_order=canonical, mask_top_view=masked)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(env.kernel.max_length):
        assert env.observation_space.contains(obs)
        heights = env._state["heights"]
        assert heights.min() >= 0 and heights.max() <= height
        mask = info["action_mask"].copy()
        if mask[:-1].any() and rng.random() < 0.95:
            mask[-1] = False  # mostly keep building, so columns fill up
        obs, _, terminated, _, info = env.step(int(random_legal(rng, mask[None])[0]))
        if terminated:
            assert key_heights(info["outcome"], grid).max() <= height
            return
    pytest.fail("episode did not end within max_length")


# ------------------------------------------------------------------ helpers/faces
def test_key_helpers_roundtrip_and_base36():
    heights = np.array([[0, 1, 9, 10], [35, 2, 0, 0]])
    keys = height_keys(heights)
    assert keys == ["019a", "z200"]
    assert np.array_equal(key_heights(keys[1], 2).reshape(-1), heights[1])
    layers = heights_to_layers(np.array([[2, 0], [1, 3]]), 3)
    assert layers.shape == (3, 2, 2)
    assert layers[0].tolist() == [[True, False], [True, True]]
    assert layers[2].tolist() == [[False, False], [False, True]]
    with pytest.raises(ValueError, match="characters"):
        key_heights("0101", 3)


def test_observation_encodes_heights_view_and_last_column():
    env = Voxel3DEnv(grid=2, height=2, canonical_order=True)
    env.reset(options={"task": {"top_view": "0110"}})
    obs, *_ = env.step(1)
    obs, *_ = env.step(2)
    onehots = obs[:4 * 3].reshape(4, 3)
    assert onehots.argmax(axis=1).tolist() == [0, 1, 1, 0] and np.all(onehots.sum(axis=1) == 1)
    assert obs[12:16].tolist() == [0, 1, 1, 0]
    assert obs[16:].tolist() == [0, 0, 1, 0]


def test_vector_env_rows_hold_their_own_tasks():
    envs = gym.make_vec(ENV_ID, num_envs=3)
    tasks = [{"top_view": "100000000"}, {"top_view": "000010000"}, {"top_view": "000000011"}]
    obs, _ = envs.reset(options={"tasks": tasks})
    g2, base = 9, 9 * 4
    for i, t in enumerate(tasks):
        assert obs[i, base : base + g2].tolist() == [float(ch) for ch in t["top_view"]]
    _, _, _, _, info = envs.step(np.array([0, 4, 7]))
    _, rew, term, _, info = envs.step(np.array([9, 9, 9]))
    assert term.all() and rew.tolist() == [1.0, 1.0, 0.0]
    assert info["outcome"].tolist() == ["100000000", "000010000", "000000010"]


@pytest.mark.parametrize("height", [3, 12])
def test_renders(height):
    env = gym.make(ENV_ID, render_mode="ansi", height=height).unwrapped
    env.reset(options={"task": {"top_view": "010000011"}})
    for a in [1, 1, 7]:
        env.step(a)
    text = env.render()
    assert "layer 1" in text and f"layer {height}" in text and "top view" in text and "heights" in text
    assert "not valid" in text
    env.step(8)
    assert "top view valid" in env.render()
    rgb = gym.make(ENV_ID, render_mode="rgb_array", grid=4, max_blocks=5).unwrapped
    rgb.reset(seed=0)
    frame = rgb.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 2


@pytest.mark.parametrize(
    "kwargs", [{"canonical_order": True, "mask_top_view": True}, {"grid": 4, "height": 12, "max_blocks": 6}]
)
def test_check_env_passes_on_variants(kwargs):
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make(ENV_ID, **kwargs).unwrapped)
