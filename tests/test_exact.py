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


def test_min_mass_prunes_unfinished_states_by_hand():
    # x,y depth 1 under the uniform policy: the first token is x, y, AND, OR or NOT (1/5 each); after AND / OR
    # each of the 2 variables has 1/2, so the four prefixes "AND x" ... "OR y" (0.1 each) fall below 0.15
    env = gym.make("IPS/BooleanExpr-v0", max_depth=1, task={"rows": []}).unwrapped
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    assert exact == pytest.approx({"x": 0.3, "y": 0.3, "NOT(x)": 0.1, "NOT(y)": 0.1, "AND(x,y)": 0.1,
                                   "OR(x,y)": 0.1})
    pruned = ips_envs.exact_outcome_distribution(env, uniform_probs, min_mass=0.15)
    assert pruned == pytest.approx({"x": 0.2, "y": 0.2, "NOT(x)": 0.1, "NOT(y)": 0.1, ips_envs.PRUNED_OUTCOME: 0.4})
    assert ips_envs.exact_outcome_distribution(env, uniform_probs, min_mass=0.0) == exact


def test_min_mass_gives_lower_bounds_and_a_tv_upper_bound():
    from ips_agents.evaluation import outcome_report

    env = gym.make("IPS/BooleanExpr-v0", variables=["x", "y", "z"]).unwrapped
    env.reset(seed=1)
    target = env.target_distribution()
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    for min_mass in (2e-3, 1e-2, 0.05):
        pruned = ips_envs.exact_outcome_distribution(env, uniform_probs, min_mass=min_mass)
        m = pruned.pop(ips_envs.PRUNED_OUTCOME)
        assert 0 < m < 1 and sum(pruned.values()) == pytest.approx(1 - m)
        assert all(p <= exact[k] + 1e-12 for k, p in pruned.items())
        assert sum(exact[k] - pruned.get(k, 0.0) for k in exact) == pytest.approx(m)
        tv_exact = outcome_report(exact, target)["tv"]
        tv = outcome_report({**pruned, ips_envs.PRUNED_OUTCOME: m}, target)["tv"]
        assert tv_exact - 1e-12 <= tv <= tv_exact + m + 1e-12


@pytest.mark.parametrize("kwargs,match", [({"min_mass": 1.0}, "min_mass"), ({"min_mass": -0.1}, "min_mass"),
                                          ({"min_mass": float("nan")}, "min_mass"),
                                          ({"min_mass": 0.1, "normalized": False}, "normalized=True")])
def test_bad_min_mass_is_refused(kwargs, match):
    env = gym.make("IPS/BooleanExpr-v0", task={"rows": []}).unwrapped
    with pytest.raises(ValueError, match=match):
        ips_envs.exact_outcome_distribution(env, uniform_probs, **kwargs)
