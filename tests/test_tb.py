"""Trajectory balance / FlowRL baseline."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ips_agents.evaluation import exact_outcome_distribution, l1_distance
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance

KW = {"ndim": 1, "height": 4}


def test_tb_learns_reward_proportional_distribution_and_log_z():
    env = gym.make("IPS/HyperGrid-v0", **KW)
    env.reset(seed=0)
    target = env.unwrapped.target_distribution()
    model = TrajectoryBalance("MlpPolicy", "IPS/HyperGrid-v0", env_kwargs=KW, group_size=8, n_groups=8,
                              learning_rate=3e-3, policy_kwargs={"net_arch": [32]}, seed=0)
    model.learn(8_000)
    dist = exact_outcome_distribution(model, env)
    assert l1_distance(dist, target) < 0.06, dist
    z = sum(env.unwrapped.kernel.outcome_rewards({}).values())  # 0.6 + 0.1 + 0.1 + 0.6
    assert float(model.policy.log_z.detach()) == pytest.approx(np.log(z), abs=0.1)


def test_tb_save_load_keeps_log_z(tmp_path):
    model = TrajectoryBalance("MlpPolicy", "IPS/HyperGrid-v0", group_size=4, n_groups=2,
                              policy_kwargs={"net_arch": [16]}, seed=0)
    model.learn(300)
    model.save(tmp_path / "tb.zip")
    loaded = TrajectoryBalance.load(tmp_path / "tb.zip")
    assert float(loaded.policy.log_z) == pytest.approx(float(model.policy.log_z))


def test_flowrl_objective_runs_and_arguments_are_checked():
    TrajectoryBalance("MlpPolicy", "IPS/PathMultiplicity-v0", objective="flowrl", beta=2.0, group_size=4,
                      n_groups=2, policy_kwargs={"net_arch": [16]}, seed=0).learn(300)
    with pytest.raises(ValueError, match="objective"):
        TrajectoryBalance("MlpPolicy", "IPS/HyperGrid-v0", objective="db")
    with pytest.raises(ValueError, match="beta"):
        TrajectoryBalance("MlpPolicy", "IPS/HyperGrid-v0", beta=0.0)
