"""Statistical behaviour on a tiny sequential bandit: IPS-GRPO -> r / sum r, GRPO -> one outcome."""

from __future__ import annotations

import gymnasium as gym
import pytest

from ips_agents import GRPO, IPSGRPO
from ips_agents.evaluation import exact_outcome_distribution, l1_distance

# HyperGrid in one dimension with H = 4: outcomes 0..3 with rewards 0.6, 0.1, 0.1, 0.6
# (target 0.4286 / 0.0714 / 0.0714 / 0.4286); one construction path per outcome.
ENV_KWARGS = {"ndim": 1, "height": 4}
COMMON = dict(env_kwargs=ENV_KWARGS, group_size=16, n_groups=4, learning_rate=3e-3,
              policy_kwargs={"net_arch": [32]})


@pytest.fixture(scope="module")
def env():
    env = gym.make("IPS/HyperGrid-v0", **ENV_KWARGS)
    env.reset(seed=0)
    return env


def test_ips_grpo_exact_reaches_reward_proportional_distribution(env):
    target = env.unwrapped.target_distribution()
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="exact", seed=0, **COMMON)
    model.learn(12_000)
    dist = exact_outcome_distribution(model, env)
    assert l1_distance(dist, target) < 0.06, dist


def test_grpo_concentrates_on_one_outcome(env):
    target = env.unwrapped.target_distribution()
    model = GRPO("MlpPolicy", "IPS/HyperGrid-v0", seed=0, **COMMON)
    model.learn(12_000)
    dist = exact_outcome_distribution(model, env)
    assert max(dist.values()) > 0.9, dist
    assert l1_distance(dist, target) > 0.8
