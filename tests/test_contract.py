"""The contract every IPS/ env keeps: registration, checker, masks, infos, tasks, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import ips_envs
from ips_envs.core.kernel import ENDED_ACTION, INVALID_OUTCOME, PENDING_OUTCOME
from tests.conftest import random_legal, rollout_outcomes


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_check_env_passes(env_id, render_mode):
    env = gym.make(env_id, render_mode=render_mode)
    check_env(env.unwrapped)
    env.reset(seed=3)
    frame = env.render()
    if render_mode == "ansi":
        assert isinstance(frame, str) and frame.strip()
    else:
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def test_make_vec_is_the_batched_implementation(env_id):
    envs = gym.make_vec(env_id, num_envs=8)
    assert isinstance(envs.unwrapped, ips_envs.ConstructionVectorEnv)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (8, *envs.single_observation_space.shape)
    assert info["action_mask"].shape == (8, envs.single_action_space.n)
    assert info["action_mask"].dtype == bool


def test_legal_actions_never_rejected_and_episodes_end(env_id):
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    for episode in range(30):
        _, info = env.reset(seed=episode)
        assert np.array_equal(info["action_mask"], env.action_masks())
        for t in range(env.kernel.max_length + 1):
            a = int(random_legal(rng, env.action_masks()[None])[0])
            _, reward, terminated, truncated, info = env.step(a)
            assert not info.get("invalid_action", False)
            assert not truncated
            if terminated:
                assert isinstance(info["outcome"], str) and isinstance(info["valid"], bool)
                assert reward >= 0 and (reward > 0) == (info["outcome"] in env.admissible_outcomes()
                                                         if _enumerable(env) else reward > 0)
                np.testing.assert_array_equal(np.flatnonzero(info["action_mask"]), [ENDED_ACTION])
                np.testing.assert_array_equal(env.action_masks(), info["action_mask"])
                break
            assert reward == 0.0
            assert info["outcome"] == PENDING_OUTCOME and info["valid"] is False
            assert info["invalid_action"] is False
            assert info["action_mask"].any()
        else:
            pytest.fail(f"episode did not end within max_length={env.kernel.max_length}")


def _enumerable(env) -> bool:
    return env.kernel.outcome_rewards(env.task) is not None


def test_vector_rollouts_end_within_max_length(env_id):
    env = gym.make(env_id).unwrapped
    _, _, steps = rollout_outcomes(env_id, 256, seed=1)
    assert steps <= env.kernel.max_length


def test_masked_action_ends_episode_or_raises(env_id):
    env = gym.make(env_id).unwrapped
    strict = gym.make(env_id, strict=True).unwrapped
    rng = np.random.default_rng(0)
    # walk both envs with the same legal actions until some action is masked
    for seed in range(50):
        _, info = env.reset(seed=seed)
        strict.reset(seed=seed)
        for _ in range(env.kernel.max_length):
            illegal = np.flatnonzero(~info["action_mask"])
            if len(illegal):
                break
            prefer = info["action_mask"].copy()
            if prefer[:-1].any():
                prefer[-1] = False  # avoid stopping early, so boundaries get reached
            a = int(random_legal(rng, prefer[None])[0])
            strict.step(a)
            _, _, terminated, _, info = env.step(a)
            if terminated:
                break
        if len(illegal) and info["action_mask"].any():
            break
    else:
        pytest.skip(f"{env_id} masks no action at its default arguments")
    obs, reward, terminated, _, info = env.step(int(illegal[0]))
    assert terminated and reward == 0.0
    assert info["invalid_action"] and not info["valid"] and info["outcome"] == ips_envs.INVALID_OUTCOME
    with pytest.raises(ValueError, match=f"action {illegal[0]} is masked out"):
        strict.step(int(illegal[0]))


def test_out_of_range_action_and_bad_options(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.step(env.action_space.n)
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"tsak": {}})
    with pytest.raises(ValueError, match="unknown field"):
        env.reset(options={"task": {**env.task, "no_such_field": 1}})


def test_task_roundtrip(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=5)
    task = env.task
    other = gym.make(env_id, task=task).unwrapped
    other.reset(seed=123)
    assert other.task == task
    third = gym.make(env_id).unwrapped
    third.reset(seed=9, options={"task": task})
    assert third.task == task
    import json

    assert json.loads(json.dumps(task)) == task


def test_target_distributions_sum_to_one(env_id):
    env = gym.make(env_id).unwrapped
    for seed in range(5):
        env.reset(seed=seed)
        if not _enumerable(env):
            pytest.skip("not enumerable")
        target = env.target_distribution()
        assert abs(sum(target.values()) - 1.0) < 1e-9
        assert set(target) == set(env.admissible_outcomes())
        assert PENDING_OUTCOME not in target and INVALID_OUTCOME not in target  # sentinels are no real outcomes
        assert all(p > 0 for p in target.values())


INFO_KEYS = {"action_mask", "outcome", "valid", "invalid_action"}


def test_info_has_the_same_keys_and_types_on_every_step(env_id):
    env = gym.make(env_id)
    rng = np.random.default_rng(1)
    for episode in range(5):
        _, info = env.reset(seed=episode)
        infos = [info]
        terminated = False
        while not terminated:
            a = int(random_legal(rng, env.unwrapped.action_masks()[None])[0])
            *_, terminated, _, info = env.step(a)
            infos.append(info)
        for i, info in enumerate(infos):
            assert INFO_KEYS <= set(info), f"step {i}: keys {sorted(info)}"
            assert set(info) == set(infos[0])
            assert isinstance(info["outcome"], str) and type(info["valid"]) is bool
            assert type(info["invalid_action"]) is bool and info["action_mask"].dtype == bool
            assert (info["outcome"] == PENDING_OUTCOME) == (i < len(infos) - 1)
        assert infos[-1]["outcome"] not in (PENDING_OUTCOME, INVALID_OUTCOME)


@pytest.mark.parametrize("ending", ["outcome", "masked_action"])
def test_ended_mask_allows_exactly_the_dummy_action(env_id, ending):
    """After either kind of ending, masked samplers still see a proper distribution."""
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(2)
    _, info = env.reset(seed=0)
    terminated = False
    while not terminated:
        mask = env.action_masks()
        if ending == "masked_action" and not mask.all():
            mask = ~mask
        _, _, terminated, _, info = env.step(int(random_legal(rng, mask[None])[0]))
    for m in (info["action_mask"], env.action_masks()):
        assert m.dtype == bool and m.sum() == 1 and m[ENDED_ACTION]
    logits = np.where(info["action_mask"], 0.0, -np.inf)  # a masked softmax over it is finite and sums to 1
    probs = np.exp(logits - logits.max())
    assert np.isfinite(probs).all() and probs.sum() == 1.0
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(ENDED_ACTION)


def test_causal_empty_graph_key_differs_from_pending():
    env = gym.make("IPS/CausalDAG-v0").unwrapped
    env.reset(seed=0)
    *_, terminated, _, info = env.step(env.action_space.n - 1)  # stop at once: the empty graph
    assert terminated and info["outcome"] == "" and info["outcome"] != PENDING_OUTCOME
