"""The exact DP distribution of a policy agrees with Monte Carlo sampling of the same policy."""

from __future__ import annotations

from collections import Counter

import gymnasium as gym
import numpy as np
import pytest

import ips_envs
from tests.conftest import rollout_outcomes, uniform_probs


def test_uniform_policy_dp_matches_monte_carlo(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    task = env.task
    if env.kernel.outcome_rewards(task) is None:
        pytest.skip(f"{env_id} is not enumerable")
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    assert abs(sum(exact.values()) - 1.0) < 1e-9
    n = 20_000
    outcomes, _, _ = rollout_outcomes(env_id, n, seed=4, task=task)
    tv = _tv_to_sample(exact, outcomes)
    # reference: the same statistic for n draws from the exact distribution itself (large outcome spaces
    # have a large empirical TV however correct the code is)
    keys = list(exact)
    draws = np.random.default_rng(5).choice(len(keys), size=n, p=np.array([exact[k] for k in keys]))
    reference = _tv_to_sample(exact, [keys[i] for i in draws])
    assert tv < reference + 0.02, f"TV {tv:.4f} between exact DP and {n} samples (reference {reference:.4f})"


def _tv_to_sample(exact: dict[str, float], outcomes: list[str]) -> float:
    counts = Counter(outcomes)
    n = len(outcomes)
    return 0.5 * sum(abs(counts.get(k, 0) / n - exact.get(k, 0.0)) for k in set(counts) | set(exact))


def test_mass_on_masked_actions_is_reported_as_invalid():
    env = gym.make("IPS/HyperGrid-v0", height=3).unwrapped
    env.reset(seed=0)

    def leaky(obs, masks):
        # every action equally likely, legal or not
        return np.full(masks.shape, 1.0 / masks.shape[1])

    dist = ips_envs.exact_outcome_distribution(env, leaky)
    assert dist[ips_envs.INVALID_OUTCOME] > 0
    assert abs(sum(dist.values()) - 1.0) < 1e-9


def test_bad_policy_shape_is_refused():
    env = gym.make("IPS/HyperGrid-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="expected"):
        ips_envs.exact_outcome_distribution(env, lambda o, m: np.ones((len(o), 1)))
