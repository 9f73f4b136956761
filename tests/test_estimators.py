"""The propensity estimators of IPS-GRPO: registry, arithmetic, requirements."""

from __future__ import annotations

import numpy as np
import pytest

from ips_agents import IPSGRPO
from ips_agents.estimators import (
    ESTIMATORS,
    get_estimator,
    group_frequencies,
    ips_rewards,
    path_propensities,
    propensities,
)

SMALL = {"group_size": 4, "n_groups": 2, "policy_kwargs": {"net_arch": [16]}, "seed": 0}


def test_registry_names_and_requirements():
    assert list(ESTIMATORS) == ["count", "paths", "exact", "trajectory"]
    assert get_estimator("paths").requires == "path_counts"
    assert get_estimator("exact").requires == "unique_paths"
    assert get_estimator("trajectory").requires is None and get_estimator("count").requires is None
    with pytest.raises(ValueError, match="'guess'"):
        get_estimator("guess")


def test_propensities_by_hand():
    outcomes = np.array(["a", "a", "b", "c"])
    groups = np.array([0, 0, 0, 0])
    logp = np.log([0.1, 0.2, 0.05, 0.5])
    counts = np.array([3, 3, 1, 0])
    np.testing.assert_allclose(propensities("count", outcomes, groups, logp), group_frequencies(outcomes, groups))
    np.testing.assert_allclose(propensities("trajectory", outcomes, groups, logp), [0.1, 0.2, 0.05, 0.5])
    np.testing.assert_allclose(propensities("exact", outcomes, groups, logp), [0.1, 0.2, 0.05, 0.5])
    # n(o) * p(tau); a count of 0 (an invalid-action ending) gives 0
    np.testing.assert_allclose(propensities("paths", outcomes, groups, logp, counts), [0.3, 0.6, 0.05, 0.0])
    with pytest.raises(ValueError, match="path_count"):
        propensities("paths", outcomes, groups, logp)


def test_path_propensities_do_not_overflow():
    # 1e300 paths of probability 1e-305 each: the product is computed in log space
    q = path_propensities(np.array([np.log(1e-305)]), np.array([1e300]))
    np.testing.assert_allclose(q, [1e-5])
    with pytest.raises(ValueError, match=">= 0"):
        path_propensities(np.zeros(1), np.array([-1]))
    with pytest.raises(ValueError, match="shape"):
        path_propensities(np.zeros(2), np.array([1]))


def test_trajectory_estimator_needs_nothing_and_is_the_trajectory_probability():
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="trajectory", **SMALL)
    assert model.ips_eps == 1e-6 and model.advantage_norm == "none"
    batch = model.collect_batch()
    assert batch is not None
    np.testing.assert_allclose(model.propensities(batch), np.exp(batch.traj_log_probs))
    model.learn(100)


def test_paths_estimator_is_refused_without_path_counts():
    with pytest.raises(ValueError, match="path counts"):
        IPSGRPO("MlpPolicy", "IPS/SMILES-v0", ips_estimator="paths", **SMALL)


def test_paths_estimator_equals_exact_with_unique_paths():
    kwargs = {"env_kwargs": {"canonical_order": True}, **SMALL}
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="paths", **kwargs)
    batch = model.collect_batch()
    assert batch is not None
    assert np.all(batch.path_counts == 1)
    np.testing.assert_allclose(model.propensities(batch), np.exp(batch.traj_log_probs))


# ------------------------------------------------------------------ the fixed point, exactly
def _flow_policy_and_trajectories(kernel, task, weight):
    """Every trajectory (DFS) and the Markov policy P(s'|s) = F(s') / F(s), F = summed ``weight`` of completions.

    ``weight(outcome, reward, path_count)`` is the target weight of one trajectory. Returns the policy as
    ``{(state key, action): prob}`` and the trajectories as ``(steps, outcome, reward, path_count, log p)``,
    ``steps`` being the ``(state key, legal actions, action)`` of every step.
    """
    flows: dict[bytes, float] = {}
    trajectories = []

    def walk(state, steps):
        key = kernel.state_keys(state)[0].tobytes()
        legal = np.flatnonzero(kernel.legal_actions(state)[0])
        total = 0.0
        for a in legal:
            child = {k: v.copy() for k, v in state.items()}
            if kernel.apply(child, np.array([a]))[0]:
                keys, rewards, _ = kernel.outcomes(child)
                n = int(kernel.path_counts(child)[0])
                f = weight(keys[0], float(rewards[0]), n)
                trajectories.append(([*steps, (key, legal, a)], keys[0], float(rewards[0]), n))
            else:
                f = walk(child, [*steps, (key, legal, a)])
            flows[(key, int(a))] = f
            total += f
        flows[key] = total
        return total

    walk(kernel.initial_state([task]), [])
    policy = {k: v / flows[k[0]] for k, v in flows.items() if isinstance(k, tuple) and flows[k[0]] > 0}
    out = []
    for steps, outcome, reward, n in trajectories:
        p = np.prod([policy.get((s, int(a)), 0.0) for s, _, a in steps])
        out.append((steps, outcome, reward, n, p))
    return policy, out


def _expected_ips_gradient(policy, trajectories, estimator):
    """Exact expected IPS gradient wrt tabular softmax logits, ``sum_tau p(tau) x(tau) grad log p(tau)``."""
    live = [t for t in trajectories if t[4] > 0]
    logp = np.log([t[4] for t in live])
    outcomes = np.array([t[1] for t in live])
    rewards = np.array([t[2] for t in live])
    counts = np.array([t[3] for t in live])
    q = propensities(estimator, outcomes, np.zeros(len(live)), logp, counts)
    scaled = ips_rewards(rewards, q, alpha=1.0, eps=1e-12)
    grad: dict[tuple[bytes, int], float] = {}
    for (steps, *_), p, x in zip(live, np.exp(logp), scaled, strict=True):
        for s, legal, a in steps:
            for b in legal:
                g = (1.0 if b == a else 0.0) - policy.get((s, int(b)), 0.0)
                grad[(s, int(b))] = grad.get((s, int(b)), 0.0) + p * x * g
    return max(abs(v) for v in grad.values())


@pytest.mark.parametrize("env", ["path multiplicity", "boolean depth 1"])
def test_paths_estimator_fixed_point_is_the_reward_proportional_target_exactly(env):
    import gymnasium as gym

    if env == "path multiplicity":
        e = gym.make("IPS/PathMultiplicity-v0")
        e.reset(seed=0)
    else:
        e = gym.make("IPS/BooleanExpr-v0", max_depth=1)
        kernel = e.unwrapped.kernel
        task = next(t for t in kernel.task_table() if len(kernel.outcome_rewards(t)) == 4)
        e.reset(options={"task": task})
    kernel, task = e.unwrapped.kernel, e.unwrapped.task
    target = e.unwrapped.target_distribution()
    # the policy the derivation predicts: path weights r(o) / n(o)
    policy, trajs = _flow_policy_and_trajectories(kernel, task, lambda o, r, n: r / n)
    marginal: dict[str, float] = {}
    for _, outcome, _, _, p in trajs:
        marginal[outcome] = marginal.get(outcome, 0.0) + p
    for key, want in target.items():
        assert marginal[key] == pytest.approx(want, abs=1e-12)
    assert sum(marginal.get(k, 0.0) for k in target) == pytest.approx(1.0, abs=1e-12)
    if env == "path multiplicity":
        assert target == {"A": 0.5, "B": 0.5}
    else:
        assert len(target) == 4 and set(target.values()) == {0.25}
    # it is a stationary point of the expected "paths" IPS gradient, and not of the "trajectory" one
    assert _expected_ips_gradient(policy, trajs, "paths") < 1e-12
    assert _expected_ips_gradient(policy, trajs, "trajectory") > 1e-3
    # the "trajectory" estimator's own fixed point weights paths by r(o): outcome mass n(o) r(o) / sum n r
    policy_t, trajs_t = _flow_policy_and_trajectories(kernel, task, lambda o, r, n: r)
    assert _expected_ips_gradient(policy_t, trajs_t, "trajectory") < 1e-12
    if env == "path multiplicity":
        mass_a = sum(p for _, o, _, _, p in trajs_t if o == "A")
        assert mass_a == pytest.approx(35 / 42, abs=1e-12)


# ------------------------------------------------------------------ defaults
def test_defaults_pick_path_counts_where_the_env_reports_them():
    from stable_baselines3.common.utils import LinearSchedule

    from ips_agents import GRPO

    model = IPSGRPO("MlpPolicy", "IPS/CausalDAG-v0")
    assert (model.ips_estimator, model.ips_eps, model.advantage_norm) == ("paths", 1e-6, "none")
    assert isinstance(model.learning_rate, LinearSchedule)
    assert model.lr_schedule(1.0) == pytest.approx(3e-3) and model.lr_schedule(0.0) == 0.0
    # no path counts (SMILES): the count estimator with its own defaults and a constant learning rate
    smiles = IPSGRPO("MlpPolicy", "IPS/SMILES-v0", **SMALL)
    assert (smiles.ips_estimator, smiles.ips_eps, smiles.advantage_norm, smiles.learning_rate) == (
        "count", 0.01, "group", 1e-3)
    # GRPO does not reweight: group-std advantages and a constant learning rate, as before
    grpo = GRPO("MlpPolicy", "IPS/CausalDAG-v0", **SMALL)
    assert (grpo.advantage_norm, grpo.learning_rate) == ("group", 1e-3)
    # explicit arguments win
    own = IPSGRPO("MlpPolicy", "IPS/CausalDAG-v0", ips_estimator="count", learning_rate=3e-4, **SMALL)
    assert (own.ips_estimator, own.ips_eps, own.advantage_norm, own.learning_rate) == ("count", 0.01, "group", 3e-4)


def test_defaults_reach_the_uniform_target_on_a_boolean_depth_one_task():
    import gymnasium as gym

    from ips_agents.evaluation import exact_outcome_distribution, outcome_report

    env = gym.make("IPS/BooleanExpr-v0", max_depth=1)
    kernel = env.unwrapped.kernel
    task = next(t for t in kernel.task_table() if len(kernel.outcome_rewards(t)) == 4)
    env.reset(options={"task": task})
    model = IPSGRPO("MlpPolicy", "IPS/BooleanExpr-v0", env_kwargs={"max_depth": 1, "task": task}, seed=0)
    assert model.ips_estimator == "paths"
    model.learn(6_000)
    dist = exact_outcome_distribution(model, env, task)
    target = env.unwrapped.target_distribution()
    assert set(target) == {"x", "y", "AND(x,y)", "OR(x,y)"}  # 3, 3, 2 and 2 paths: equal outcome mass anyway
    assert outcome_report(dist, target)["tv"] < 0.05


def test_path_counts_reach_the_estimator_through_sb3_and_sync_vector_envs():
    import gymnasium as gym
    from math import factorial

    from stable_baselines3.common.vec_env import DummyVecEnv

    for env in (DummyVecEnv([lambda: gym.make("IPS/CausalDAG-v0") for _ in range(8)]),
                gym.make_vec("IPS/CausalDAG-v0", num_envs=8, vectorization_mode="sync")):
        model = IPSGRPO("MlpPolicy", env, group_size=4, policy_kwargs={"net_arch": [16]}, seed=0)
        assert model.ips_estimator == "paths" and model.group_env.path_counts
        batch = model.collect_batch()
        assert batch is not None
        # a DAG with m edges has m! paths, m = the number of "->" in its key
        edges = [key.count("->") for key in batch.outcomes]
        np.testing.assert_array_equal(batch.path_counts, [factorial(m) for m in edges])
