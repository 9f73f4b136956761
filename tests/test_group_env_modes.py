"""IPS-GRPO's group rollouts collect the same episodes whatever the vector env's autoreset mode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium.vector import AutoresetMode

from ips_agents import IPSGRPO
from ips_agents.sampling.group_env import GroupEnv
from ips_agents.sampling.rollout import collect_groups


def _batch(env_id: str, mode: AutoresetMode, vectorization: str):
    kwargs = {"autoreset_mode": mode} if vectorization == "vector_entry_point" else {"vector_kwargs": {"autoreset_mode": mode}}
    envs = gym.make_vec(env_id, num_envs=8, vectorization_mode=vectorization, **kwargs)
    model = IPSGRPO("MlpPolicy", gym.make_vec(env_id, num_envs=8), group_size=4, seed=0)
    th.manual_seed(3)
    tasks = [envs.unwrapped.sample_task(0)] * 4 + [envs.unwrapped.sample_task(1)] * 4 if vectorization != "sync" else None
    return collect_groups(model.policy, GroupEnv(envs), 4, tasks, seeds=list(range(8)))


@pytest.mark.parametrize("vectorization", ["vector_entry_point", "sync"])
@pytest.mark.parametrize("env_id", ["IPS/HyperGrid-v0", "IPS/CausalDAG-v0"])
def test_group_rollouts_agree_across_autoreset_modes(env_id, vectorization):
    ref = _batch(env_id, AutoresetMode.NEXT_STEP, vectorization)
    assert ref is not None and not (ref.outcomes == "").all()
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
        got = _batch(env_id, mode, vectorization)
        assert got is not None
        np.testing.assert_array_equal(got.outcomes, ref.outcomes)
        np.testing.assert_array_equal(got.rewards, ref.rewards)
        np.testing.assert_array_equal(got.lengths, ref.lengths)
        np.testing.assert_array_equal(got.actions, ref.actions)
        np.testing.assert_array_equal(got.masks, ref.masks)
