"""IPS-GRPO behaves like a Stable-Baselines3 algorithm, and the envs plug into sb3-contrib."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

import ips_envs
from ips_agents import GRPO, IPSGRPO

SMALL = dict(group_size=4, n_groups=2, policy_kwargs={"net_arch": [16]}, seed=0)


def test_learns_a_few_hundred_steps_on_every_id(env_id):
    model = IPSGRPO("MlpPolicy", env_id, **SMALL)
    model.learn(300)
    assert model.num_timesteps >= 300
    assert model.num_trajectories >= 8


def test_maskable_ppo_trains_on_every_id(env_id):
    model = MaskablePPO("MlpPolicy", gym.make(env_id), n_steps=64, batch_size=32, n_epochs=1,
                        policy_kwargs={"net_arch": [16]}, seed=0)
    model.learn(128)


def test_save_load_roundtrip_gives_identical_predictions(tmp_path):
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", kl_coef=0.1, **SMALL)
    model.learn(200)
    env = gym.make("IPS/HyperGrid-v0").unwrapped
    obs, info = env.reset(seed=0)
    batch = np.stack([obs] * 16)
    masks = np.stack([info["action_mask"]] * 16)
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = IPSGRPO.load(path)
    for m in (model, loaded):
        m.policy.set_training_mode(False)
    a1, _ = model.predict(batch, action_masks=masks, deterministic=True)
    a2, _ = loaded.predict(batch, action_masks=masks, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    probs = lambda m: m.policy.action_probs(m.policy.obs_to_tensor(batch)[0], masks).detach().numpy()
    np.testing.assert_allclose(probs(model), probs(loaded), rtol=1e-6)
    assert loaded.group_size == 4 and loaded.ips_alpha == 1.0 and loaded.ref_policy is not None
    loaded.set_env("IPS/HyperGrid-v0")
    loaded.learn(100, reset_num_timesteps=False)


def test_callbacks_fire_and_can_stop_training():
    class Counter(BaseCallback):
        def __init__(self):
            super().__init__()
            self.events = {"start": 0, "step": 0, "rollout_start": 0, "rollout_end": 0, "end": 0}

        def _on_training_start(self):
            self.events["start"] += 1

        def _on_rollout_start(self):
            self.events["rollout_start"] += 1

        def _on_step(self):
            self.events["step"] += 1
            return self.events["step"] < 25

        def _on_rollout_end(self):
            self.events["rollout_end"] += 1

        def _on_training_end(self):
            self.events["end"] += 1

    cb = Counter()
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", **SMALL)
    model.learn(10_000, callback=cb, progress_bar=True)
    assert cb.events["start"] == 1 and cb.events["end"] == 1
    assert cb.events["step"] == 25  # stopped by the callback
    assert cb.events["rollout_start"] >= 1
    assert model.num_timesteps < 10_000


def test_works_on_make_vec_dummy_vec_env_and_single_env(tmp_path):
    vec = gym.make_vec("IPS/PathMultiplicity-v0", num_envs=8)
    model = IPSGRPO("MlpPolicy", vec, group_size=4, policy_kwargs={"net_arch": [16]}, seed=0)
    assert model.n_groups == 2
    model.learn(200)
    dummy = make_vec_env("IPS/PathMultiplicity-v0", n_envs=8)
    IPSGRPO("MlpPolicy", dummy, group_size=4, policy_kwargs={"net_arch": [16]}, seed=0).learn(200)
    sync = gym.make_vec("IPS/PathMultiplicity-v0", num_envs=8, vectorization_mode="sync")
    IPSGRPO("MlpPolicy", sync, group_size=4, policy_kwargs={"net_arch": [16]}, seed=0).learn(200)
    IPSGRPO("MlpPolicy", gym.make("IPS/PathMultiplicity-v0"), **SMALL).learn(200)


def test_logger_outputs(tmp_path):
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", **SMALL)
    model.set_logger(configure(str(tmp_path), ["csv", "tensorboard"]))
    model.learn(300)
    header = (tmp_path / "progress.csv").read_text().splitlines()[0]
    for key in ("rollout/reward_mean", "train/pg_loss", "rollout/distinct_outcomes_per_group"):
        assert key in header
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_seeding_is_reproducible():
    def run():
        model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", **SMALL)
        model.learn(300)
        return [p.detach().clone() for p in model.policy.parameters()]

    for a, b in zip(run(), run(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize(
    "kwargs,match",
    [({"group_size": 1}, "group_size"), ({"ips_alpha": 2.0}, "ips_alpha"), ({"ips_eps": 0.0}, "ips_eps"),
     ({"advantage_norm": "std"}, "advantage_norm"), ({"ips_estimator": "guess"}, "ips_estimator"),
     ({"n_epochs": 0}, "n_epochs"), ({"clip_range": 0}, "clip_range"), ({"tasks": []}, "tasks")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", **kwargs)


def test_exact_estimator_needs_unique_paths():
    with pytest.raises(ValueError, match="unique_paths"):
        IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="exact")
    IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_estimator="exact", env_kwargs={"canonical_order": True},
            **SMALL).learn(100)


def test_grpo_is_ips_grpo_without_scaling():
    model = GRPO("MlpPolicy", "IPS/HyperGrid-v0", **SMALL)
    assert model.ips_alpha == 0.0 and isinstance(model, IPSGRPO)
    with pytest.raises(ValueError, match="ips_alpha"):
        GRPO("MlpPolicy", "IPS/HyperGrid-v0", ips_alpha=1.0)


def test_vector_env_size_must_match_groups():
    with pytest.raises(ValueError, match="num_envs"):
        IPSGRPO("MlpPolicy", gym.make_vec("IPS/HyperGrid-v0", num_envs=6), group_size=4, n_groups=2)


def test_group_members_share_the_task_and_steps_after_the_end_are_not_recorded():
    model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", **SMALL)
    batch = model.collect_batch()
    assert batch is not None
    # every trajectory records exactly its own length; its last recorded step is the terminal one
    np.testing.assert_array_equal(np.bincount(batch.traj, minlength=8), batch.lengths)
    assert batch.n_steps == batch.lengths.sum()
    assert all(o for o in batch.outcomes)
    # trajectory log-probs are the sums of the step log-probs
    np.testing.assert_allclose(np.bincount(batch.traj, weights=batch.log_probs), batch.traj_log_probs)
