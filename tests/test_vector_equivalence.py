"""make_vec with N copies steps exactly like N single envs given the same seeds and actions."""

from __future__ import annotations

import copy
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from hypothesis import given
from hypothesis import strategies as st

import ips_envs
from ips_envs.core.kernel import draw_index


MODES = list(AutoresetMode)


def assert_same_info(ours: dict, theirs: dict, where: str = "info") -> None:
    """Equal vector infos: the same keys, and per key the same dtype, shape and values (recursively)."""
    assert set(ours) == set(theirs), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
    for k, v in theirs.items():
        if isinstance(v, dict):
            assert_same_info(ours[k], v, f"{where}[{k!r}]")
            continue
        assert ours[k].dtype == v.dtype and ours[k].shape == v.shape, f"{where}[{k!r}]: {ours[k]!r} != {v!r}"
        if v.dtype == object:
            for a, b in zip(ours[k], v, strict=True):
                assert type(a) is type(b) and np.array_equal(a, b) if b is not None else a is None, f"{where}[{k!r}]"
        else:
            np.testing.assert_array_equal(ours[k], v, err_msg=f"{where}[{k!r}]")


def _run_equivalence(env_id: str, n: int, steps: int, seed: int, p_illegal: float, mode: AutoresetMode) -> None:
    """The batched vector env against Gymnasium's SyncVectorEnv of single envs, in one autoreset mode."""
    ours = gym.make_vec(env_id, num_envs=n, autoreset_mode=mode)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode})
    assert isinstance(ours.unwrapped, ips_envs.ConstructionVectorEnv) and isinstance(sync, gym.vector.SyncVectorEnv)
    assert ours.autoreset_mode == mode and ours.metadata["autoreset_mode"] == mode

    def same(a, b):
        np.testing.assert_array_equal(a[0], b[0])
        for x, y in zip(a[1:-1], b[1:-1], strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        assert_same_info(a[-1], b[-1])
        assert ours.get_attr("task") == sync.get_attr("task")
        for x, y in zip(ours.call("action_masks"), sync.call("action_masks"), strict=True):
            np.testing.assert_array_equal(x, y)

    out_o, out_s = ours.reset(seed=seed), sync.reset(seed=seed)
    same(out_o, out_s)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        masks = out_o[-1]["action_mask"]
        actions = np.where(
            rng.random(n) < p_illegal,
            rng.integers(0, ours.single_action_space.n, n),
            (rng.random(masks.shape) * masks).argmax(axis=1),
        )
        out_o, out_s = ours.step(actions), sync.step(actions)
        same(out_o, out_s)
        ended = out_o[2] | out_o[3]
        if mode == AutoresetMode.DISABLED and ended.any():
            with pytest.raises(RuntimeError, match="reset it first"):
                ours.step(actions)
            reseed = [int(s) if e else None for s, e in zip(rng.integers(0, 2**31, n), ended, strict=True)]
            out_o = ours.reset(seed=reseed, options={"reset_mask": ended.copy()})
            out_s = sync.reset(seed=reseed, options={"reset_mask": ended.copy()})
            same(out_o, out_s)


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
@pytest.mark.parametrize("p_illegal", [0.0, 0.1])
def test_make_vec_matches_sync_vector_env(env_id, p_illegal, mode):
    _run_equivalence(env_id, n=5, steps=40, seed=11, p_illegal=p_illegal, mode=mode)


def test_autoreset_mode_argument_and_errors():
    for value in ("NextStep", "SAME_STEP", "disabled", AutoresetMode.SAME_STEP):
        envs = gym.make_vec("IPS/HyperGrid-v0", num_envs=2, autoreset_mode=value)
        assert isinstance(envs.autoreset_mode, AutoresetMode)
        assert envs.metadata["autoreset_mode"] is envs.autoreset_mode
    assert ips_envs.ConstructionVectorEnv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP  # class default kept
    with pytest.raises(ValueError, match="autoreset_mode must be .*'SameStep'.*got 'sometimes'"):
        gym.make_vec("IPS/HyperGrid-v0", num_envs=2, autoreset_mode="sometimes")


def test_call_get_attr_set_attr():
    envs = gym.make_vec("IPS/CausalDAG-v0", num_envs=3)
    envs.reset(seed=[4, 4, 5])
    tasks = envs.get_attr("task")
    assert tasks == tuple(envs.unwrapped.tasks) and tasks[0] == tasks[1]
    assert envs.get_attr("unique_paths") == (envs.unwrapped.unique_paths,) * 3
    assert envs.call("admissible_outcomes") == tuple(envs.unwrapped.admissible_outcomes(i) for i in range(3))
    np.testing.assert_array_equal(np.stack(envs.call("action_masks")), envs.unwrapped.action_masks())
    assert envs.call("sample_task", 0) == (envs.unwrapped.sample_task(0),) * 3
    envs.set_attr("strict", True)
    assert envs.unwrapped.strict is True and envs.get_attr("strict") == (True,) * 3
    envs.set_attr("strict", [False, False, False])
    assert envs.unwrapped.strict is False
    with pytest.raises(ValueError, match="different values per copy"):
        envs.set_attr("strict", [True, False, True])
    with pytest.raises(ValueError, match="expected num_envs=3"):
        envs.set_attr("strict", [True])
    with pytest.raises(ValueError, match="per copy and read-only"):
        envs.set_attr("task", tasks[2])
    with pytest.raises(AttributeError):
        envs.get_attr("no_such_attribute")


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
