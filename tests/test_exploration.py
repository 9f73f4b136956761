"""Off-policy exploration with the exact correction: the arithmetic by hand, the sampler's propensities, and the
fixed point kept (the reward-proportional distribution) when the behaviour policy is not the policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from ips_agents import IPSGRPO
from ips_agents.estimators import group_advantages, off_policy_advantages
from ips_agents.evaluation import exact_outcome_distribution, l1_distance
from ips_agents.sampling import collect_groups, make_group_env


def test_off_policy_advantages_by_hand():
    x = np.array([2.0, 0.0, 4.0, 1.0])
    log_p = np.log([0.5, 0.25, 0.1, 0.2])
    log_q = np.log([0.25, 0.25, 0.2, 0.2])  # w = 2, 1, 0.5, 1
    groups = np.array([0, 0, 1, 1])
    adv = off_policy_advantages(x, log_p, log_q, groups)
    b0, b1 = (2 * 2 + 0) / 2, (0.5 * 4 + 1) / 2  # group means of w * x
    np.testing.assert_allclose(adv, [2 * (2 - b0), 1 * (0 - b0), 0.5 * (4 - b1), 1 * (1 - b1)])


def test_on_policy_sampling_gives_the_plain_group_advantages():
    rng = np.random.default_rng(0)
    x, groups = rng.random(12), np.repeat(np.arange(3), 4)
    log_p = np.log(rng.random(12))
    np.testing.assert_allclose(off_policy_advantages(x, log_p, log_p, groups), group_advantages(x, groups, "none"))
    with pytest.raises(ValueError, match="advantage_norm"):
        off_policy_advantages(x, log_p, log_p, groups, norm="bogus")


def test_the_sampler_records_log_q_of_the_mixture():
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", env_kwargs={"height": 4}, group_size=4, n_groups=2, seed=0,
                    policy_kwargs={"net_arch": [8]})
    env = make_group_env("IPS/HyperGrid-v0", 8, {"height": 4})
    th.manual_seed(0)
    eps = 0.5
    batch = collect_groups(model.policy, env, 4, None, list(range(8)), explore_eps=eps)
    # recompute log q(tau) from the recorded steps: q = (1 - eps) pi + eps / n_legal
    with th.no_grad():
        logp_all = model.policy.masked_log_probs(th.as_tensor(batch.obs), batch.masks).numpy()
    pi = np.exp(logp_all[np.arange(batch.n_steps), batch.actions])
    q = (1 - eps) * pi + eps / batch.masks.sum(axis=1)
    np.testing.assert_allclose(np.bincount(batch.traj, weights=np.log(q)), batch.traj_behaviour_log_probs, rtol=1e-5)
    np.testing.assert_allclose(np.bincount(batch.traj, weights=np.log(pi)), batch.traj_log_probs, rtol=1e-5)
    assert batch.masks[np.arange(batch.n_steps), batch.actions].all()  # exploration stays legal


def test_exploration_keeps_the_reward_proportional_fixed_point():
    kwargs = {"ndim": 1, "height": 4}  # rewards 0.6, 0.1, 0.1, 0.6
    env = gym.make("IPS/HyperGrid-v0", **kwargs)
    env.reset(seed=0)
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", env_kwargs=kwargs, explore_eps=0.5, explore_schedule="constant",
                    group_size=16, n_groups=4,
                    policy_kwargs={"net_arch": [32]}, seed=0)
    model.learn(30_000)
    dist = exact_outcome_distribution(model, env)
    assert l1_distance(dist, env.unwrapped.target_distribution()) < 0.06, dist


def test_exploration_needs_a_probability_based_estimator():
    with pytest.raises(ValueError, match="explore_eps=0.1 needs a probability-based ips_estimator"):
        IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="count", explore_eps=0.1)
    with pytest.raises(ValueError, match="explore_eps must be"):
        IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", explore_eps=1.0)


def test_exploration_defaults_follow_the_estimator_and_decay_over_learn():
    paths = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", env_kwargs={"height": 4}, group_size=4, n_groups=2, seed=0)
    assert paths.ips_estimator == "paths" and paths.explore_eps == 0.05 and paths.explore_schedule == "linear"
    count = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="count", group_size=4, n_groups=2, seed=0)
    assert count.explore_eps == 0.0
    from ips_agents import GRPO

    assert GRPO("MlpPolicy", "IPS/HyperGrid-v0", group_size=4, n_groups=2, seed=0).explore_eps == 0.0
    paths._current_progress_remaining = 0.25
    assert paths._rollout_kwargs() == {"explore_eps": pytest.approx(0.0125)}
    paths.explore_schedule = "constant"
    assert paths._rollout_kwargs() == {"explore_eps": 0.05}
