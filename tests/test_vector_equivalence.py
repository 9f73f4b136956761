"""make_vec with N copies steps exactly like N single envs given the same seeds and actions."""

from __future__ import annotations

import copy
import json

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ips_envs.core.kernel import draw_index


def _run_equivalence(env_id: str, n: int, steps: int, seed: int, p_illegal: float) -> None:
    singles = [gym.make(env_id).unwrapped for _ in range(n)]
    vec = gym.make_vec(env_id, num_envs=n)
    obs_v, info_v = vec.reset(seed=seed)
    masks_single = []
    for i, env in enumerate(singles):
        obs, info = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs, obs_v[i])
        masks_single.append(info["action_mask"])
    np.testing.assert_array_equal(np.stack(masks_single), info_v["action_mask"])
    rng = np.random.default_rng(seed)
    needs_reset = np.zeros(n, dtype=bool)
    for _ in range(steps):
        masks = info_v["action_mask"]
        actions = np.where(
            rng.random(n) < p_illegal,
            rng.integers(0, vec.single_action_space.n, n),
            (rng.random(masks.shape) * masks).argmax(axis=1),
        )
        obs_v, rew_v, term_v, trunc_v, info_v = vec.step(actions)
        for i, env in enumerate(singles):
            if needs_reset[i]:
                obs, info = env.reset()
                rew, term = 0.0, False
            else:
                obs, rew, term, _, info = env.step(int(actions[i]))
            np.testing.assert_array_equal(obs, obs_v[i])
            assert rew == rew_v[i] and term == term_v[i]
            np.testing.assert_array_equal(info["action_mask"], info_v["action_mask"][i])
            if term:
                assert info_v["_outcome"][i]
                assert info["outcome"] == info_v["outcome"][i]
                assert info["valid"] == info_v["valid"][i]
                assert info["invalid_action"] == info_v["invalid_action"][i]
            assert env.task == vec.unwrapped.tasks[i]
        needs_reset = term_v.copy()


@pytest.mark.parametrize("p_illegal", [0.0, 0.1])
def test_make_vec_matches_single_envs(env_id, p_illegal):
    _run_equivalence(env_id, n=6, steps=60, seed=11, p_illegal=p_illegal)


def test_per_copy_tasks_and_reset_mask(env_id):
    vec = gym.make_vec(env_id, num_envs=4).unwrapped
    vec.reset(seed=[7, 7, 8, 8])
    tasks = vec.tasks
    assert tasks[0] == tasks[1] and tasks[2] == tasks[3]
    vec.reset(options={"tasks": [tasks[2], tasks[0], tasks[2], tasks[0]]})
    assert vec.tasks == [tasks[2], tasks[0], tasks[2], tasks[0]]
    with pytest.raises(ValueError, match="expected num_envs=4"):
        vec.reset(options={"tasks": [tasks[0]]})
    with pytest.raises(ValueError, match="seed list has length"):
        vec.reset(seed=[1, 2])
    before = vec.tasks
    vec.reset(seed=[None, None, None, 99], options={"reset_mask": np.array([False, False, False, True])})
    assert vec.tasks[:3] == before[:3]


def test_tasks_are_copies(env_id):
    vec = gym.make_vec(env_id, num_envs=3).unwrapped
    vec.reset(seed=0)
    tasks = vec.tasks
    if not tasks[0]:
        pytest.skip("task-free domain")
    snapshot = copy.deepcopy(tasks)
    for t in tasks:
        t.clear()
    assert vec.tasks == snapshot
    table = vec.kernel.task_table()
    if table is not None:  # the kernel's cached table was not changed through a returned task either
        assert all(t for t in table) and all(t in table for t in snapshot)


def test_table_drawn_start_states_match_their_tasks(env_id):
    vec = gym.make_vec(env_id, num_envs=64).unwrapped
    if vec.kernel.task_table() is None:
        pytest.skip("no task table")
    obs, _ = vec.reset(seed=5)
    kernel = vec.kernel
    np.testing.assert_array_equal(obs, kernel.observe(kernel.initial_state(vec.tasks)))
    assert len({json.dumps(t, sort_keys=True) for t in vec.tasks}) > 1  # copies got different tasks


@given(n=st.integers(1, 10**6), seed=st.integers(0, 2**32 - 1))
def test_draw_index_in_range(n, seed):
    assert 0 <= draw_index(np.random.default_rng(seed), n) < n


def test_draw_index_uniform():
    rng = np.random.default_rng(0)
    counts = np.bincount([draw_index(rng, 7) for _ in range(70_000)], minlength=7)
    assert counts.shape == (7,) and np.abs(counts / 10_000 - 1).max() < 0.05
