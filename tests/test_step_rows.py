"""Stepping only the running copies (``ConstructionVectorEnv.step_rows`` / ``GroupEnv.step_active``) gives exactly
what stepping every copy gives on those copies, and the rollout collects the same batches either way."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import ips_envs
from ips_agents import IPSGRPO
from ips_agents.sampling.group_env import GroupEnv
from ips_agents.sampling.rollout import collect_groups
from ips_envs.hypergrid import HyperGridKernel

ENV_IDS = sorted(ips_envs.ENVS)


@pytest.mark.parametrize("p_illegal", [0.0, 0.2])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_rows_matches_step_on_the_running_copies(env_id, p_illegal):
    n = 12
    rows_env = gym.make_vec(env_id, num_envs=n).unwrapped
    full_env = gym.make_vec(env_id, num_envs=n).unwrapped
    obs_r, info_r = rows_env.reset(seed=5)
    obs_f, _ = full_env.reset(seed=5)
    np.testing.assert_array_equal(obs_r, obs_f)
    rng = np.random.default_rng(1)
    idx = np.arange(n)
    masks = info_r["action_mask"]
    steps = 0
    while len(idx):
        sub = masks[idx]
        actions = np.where(rng.random(len(idx)) < p_illegal, rng.integers(0, sub.shape[1], len(idx)),
                           (rng.random(sub.shape) * sub).argmax(axis=1))
        resting = np.setdiff1d(np.arange(n), idx)
        rest_masks, rest_obs = rows_env.action_masks()[resting], rows_env.kernel.observe(rows_env._state)[resting]
        full = full_env.action_masks().argmax(axis=1)
        full[idx] = actions
        obs, step_masks, rewards, terminated, fields = rows_env.step_rows(idx, actions)
        obs_f, rew_f, term_f, _, info_f = full_env.step(full)
        np.testing.assert_array_equal(obs, obs_f[idx])
        np.testing.assert_array_equal(rewards, rew_f[idx])
        np.testing.assert_array_equal(terminated, term_f[idx])
        np.testing.assert_array_equal(step_masks, info_f["action_mask"][idx])
        np.testing.assert_array_equal(rows_env.action_masks()[idx], step_masks)
        assert set(fields) == {k for k in info_f if not k.startswith("_")} - {"action_mask"}
        for k, v in fields.items():
            assert v.dtype == info_f[k].dtype
            np.testing.assert_array_equal(v, info_f[k][idx])
        # copies that were not stepped are left exactly as they were (no autoreset)
        np.testing.assert_array_equal(rows_env.action_masks()[resting], rest_masks)
        np.testing.assert_array_equal(rows_env.kernel.observe(rows_env._state)[resting], rest_obs)
        masks = rows_env.action_masks()
        idx = idx[~terminated]
        steps += 1
        assert steps <= rows_env.kernel.max_length + 1
    # every copy has ended: the next ordinary step autoresets them all (NEXT_STEP), as after step()
    assert rows_env._done.all()
    _, rewards, terminated, _, _ = rows_env.step(np.zeros(n, dtype=np.int64))
    assert not terminated.any() and not rewards.any() and not rows_env._done.any()
    np.testing.assert_array_equal(rows_env.action_masks(), rows_env.kernel.legal_actions(rows_env._state))


def test_step_rows_errors():
    env = gym.make_vec("IPS/HyperGrid-v0", num_envs=4, strict=True).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step_rows(np.arange(4), np.zeros(4, dtype=np.int64))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        env.step_rows(np.array([1, 0]), np.array([1, 1]))
    with pytest.raises(ValueError, match="strictly increasing"):
        env.step_rows(np.array([0, 4]), np.array([1, 1]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step_rows(np.array([0, 1]), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="integers"):
        env.step_rows(np.array([0, 1]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="outside Discrete"):
        env.step_rows(np.array([0, 1]), np.array([1, 9]))
    *_, terminated, _ = env.step_rows(np.array([2]), np.array([2]))  # the stop action: copy 2 ends
    assert terminated.tolist() == [True]
    with pytest.raises(RuntimeError, match="env 2 has ended"):
        env.step_rows(np.array([1, 2]), np.array([1, 1]))
    env.step_rows(np.array([0, 1]), np.array([0, 1]))  # the ended copy does not stop the others
    stuck = gym.make_vec("IPS/HyperGrid-v0", num_envs=2, strict=True, height=2).unwrapped
    stuck.reset(seed=0)
    stuck.step_rows(np.array([0]), np.array([0]))  # x = (1, 0): moving along dim 0 again is masked out
    with pytest.raises(ValueError, match="masked out"):
        stuck.step_rows(np.array([0]), np.array([0]))


class _Plain(gym.vector.VectorWrapper):
    """A do-nothing wrapper: the rollout then steps every copy through ``step``."""


@pytest.mark.parametrize("env_id", ["IPS/HyperGrid-v0", "IPS/CausalDAG-v0", "IPS/SMILES-v0"])
def test_rollout_same_batch_with_and_without_step_rows(env_id):
    model = IPSGRPO("MlpPolicy", gym.make_vec(env_id, num_envs=8), group_size=4, seed=0)
    batches = []
    for env in (gym.make_vec(env_id, num_envs=8), _Plain(gym.make_vec(env_id, num_envs=8))):
        group_env = GroupEnv(env)
        assert group_env._direct == (not isinstance(env, _Plain))
        th.manual_seed(3)
        batches.append(collect_groups(model.policy, group_env, 4, None, seeds=[0] * 4 + [1] * 4))
    ref, got = batches
    assert ref is not None and got is not None and (ref.lengths > 1).any()
    for name in ("actions", "masks", "log_probs", "traj", "groups", "rewards", "valid", "lengths",
                 "traj_log_probs", "path_counts", "outcomes"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)
    np.testing.assert_array_equal(got.obs, ref.obs)


@pytest.mark.parametrize("kwargs", [{}, {"ndim": 3, "height": 5}, {"reward": "paper", "height": 7}])
def test_hypergrid_cell_tables_equal_the_computed_values(kwargs, monkeypatch):
    kernel = HyperGridKernel(**kwargs)
    cells = kernel._cells()
    state = {"x": cells.astype(np.int16), "last": np.zeros(len(cells), dtype=np.int16)}
    assert kernel._tables() is not None
    keys, rewards, ok = kernel.outcomes(state)
    counts = kernel.path_counts(state)
    monkeypatch.setattr(HyperGridKernel, "_VALUE_TABLE_LIMIT", 0)
    computed = HyperGridKernel(**kwargs)
    assert computed._tables() is None
    keys_c, rewards_c, ok_c = computed.outcomes(state)
    assert keys == keys_c
    np.testing.assert_array_equal(rewards, rewards_c)
    np.testing.assert_array_equal(counts, computed.path_counts(state))
    assert counts.dtype == computed.path_counts(state).dtype
