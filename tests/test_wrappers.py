"""ActionMaskObservation: the mask inside a Dict observation, under each library's keys."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from ips_envs import ENDED_ACTION
from ips_envs.wrappers import PRESETS, ActionMaskObservation, VectorActionMaskObservation
from tests.conftest import random_legal

EXPECTED = {
    "rllib": ("observations", "action_mask", np.float32),
    "torchrl": ("observation", "action_mask", np.bool_),
    "tianshou": ("obs", "mask", np.bool_),
}


def test_presets_are_the_documented_ones():
    assert {k: tuple(v) for k, v in PRESETS.items()} == EXPECTED


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_single_env_observation_holds_obs_and_mask(env_id, preset):
    obs_key, mask_key, dtype = EXPECTED[preset]
    base = gym.make(env_id)
    env = ActionMaskObservation(gym.make(env_id), preset=preset)
    assert isinstance(env.observation_space, gym.spaces.Dict)
    assert set(env.observation_space) == {obs_key, mask_key}
    assert env.observation_space[mask_key].dtype == dtype
    assert env.observation_space[mask_key].shape == (env.action_space.n,)
    rng = np.random.default_rng(0)
    for episode in range(3):
        obs, _ = env.reset(seed=episode)
        ref, _ = base.reset(seed=episode)
        done = False
        while True:
            assert env.observation_space.contains(obs)
            np.testing.assert_array_equal(obs[obs_key], ref)
            mask = obs[mask_key]
            assert mask.dtype == dtype
            np.testing.assert_array_equal(mask.astype(bool), base.unwrapped.action_masks())
            np.testing.assert_array_equal(env.action_masks(), base.unwrapped.action_masks())
            if done:
                np.testing.assert_array_equal(np.flatnonzero(mask), [ENDED_ACTION])
                break
            a = int(random_legal(rng, env.action_masks()[None])[0])
            obs, r, done, _, info = env.step(a)
            ref, r_ref, _, _, _ = base.step(a)
            assert r == r_ref and set(info) >= {"action_mask", "outcome", "valid", "invalid_action"}


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
def test_check_env_passes_on_the_wrapped_env(env_id):
    check_env(ActionMaskObservation(gym.make(env_id).unwrapped, preset="rllib"), skip_render_check=True)


def test_custom_keys_and_dtype():
    env = ActionMaskObservation(gym.make("IPS/HyperGrid-v0"), obs_key="x", mask_key="legal", dtype="int8")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"x", "legal"} and obs["legal"].dtype == np.int8
    assert env.observation_space["legal"].dtype == np.int8
    env = ActionMaskObservation(gym.make("IPS/HyperGrid-v0"), preset="rllib", mask_key="legal")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observations", "legal"} and obs["legal"].dtype == np.float32


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown preset 'pettingzoo'"):
        ActionMaskObservation(gym.make("IPS/HyperGrid-v0"), preset="pettingzoo")
    with pytest.raises(ValueError, match="must differ"):
        ActionMaskObservation(gym.make("IPS/HyperGrid-v0"), obs_key="m", mask_key="m")
    with pytest.raises(ValueError, match="bool or numeric"):
        ActionMaskObservation(gym.make("IPS/HyperGrid-v0"), dtype=object)
    with pytest.raises(ValueError, match="Discrete action space"):
        ActionMaskObservation(gym.make("Pendulum-v1"))


def test_action_masks_through_standard_wrappers():
    inner = gym.make("IPS/CausalDAG-v0")
    outer = gym.wrappers.TimeLimit(gym.wrappers.FlattenObservation(ActionMaskObservation(
        gym.wrappers.RecordEpisodeStatistics(inner), preset="torchrl")), max_episode_steps=50)
    outer.reset(seed=1)
    np.testing.assert_array_equal(outer.get_wrapper_attr("action_masks")(), inner.unwrapped.action_masks())
    a = int(np.flatnonzero(inner.unwrapped.action_masks())[0])
    outer.step(a)
    np.testing.assert_array_equal(outer.get_wrapper_attr("action_masks")(), inner.unwrapped.action_masks())
    wrapped = gym.wrappers.RecordEpisodeStatistics(ActionMaskObservation(inner))  # standard pickles too
    clone = pickle.loads(pickle.dumps(wrapped))
    np.testing.assert_array_equal(clone.get_wrapper_attr("action_masks")(), inner.unwrapped.action_masks())


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=[m.name for m in AutoresetMode])
@pytest.mark.parametrize("vectorization", ["vector_entry_point", "sync"])
def test_vector_env_every_mode(mode, vectorization):
    kwargs = {"autoreset_mode": mode} if vectorization == "vector_entry_point" else {"vector_kwargs": {"autoreset_mode": mode}}
    base = gym.make_vec("IPS/BooleanExpr-v0", num_envs=4, vectorization_mode=vectorization, **kwargs)
    envs = ActionMaskObservation(base, preset="tianshou")
    assert isinstance(envs, VectorActionMaskObservation)
    assert envs.single_observation_space["mask"].shape == (base.single_action_space.n,)
    obs, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        assert envs.observation_space.contains(obs)
        masks = np.stack(base.unwrapped.call("action_masks"))
        np.testing.assert_array_equal(obs["mask"], masks)
        np.testing.assert_array_equal(envs.action_masks(), masks)
        assert masks.any(axis=1).all()
        obs, _, term, trunc, info = envs.step(random_legal(rng, masks))
        ended = term | trunc
        if mode == AutoresetMode.SAME_STEP and ended.any():
            for i in np.flatnonzero(ended):
                final = info["final_obs"][i]
                assert set(final) == {"obs", "mask"} and envs.single_observation_space.contains(final)
                np.testing.assert_array_equal(np.flatnonzero(final["mask"]), [ENDED_ACTION])
        if mode == AutoresetMode.DISABLED and ended.any():
            obs, _ = envs.reset(options={"reset_mask": ended})
    assert envs.get_attr("unique_paths") == base.unwrapped.get_attr("unique_paths")
    assert len(envs.call("action_masks")) == 4
    if vectorization == "vector_entry_point":  # make_vec's SyncVectorEnv holds a closure: Gymnasium's own
        pickle.loads(pickle.dumps(envs))
