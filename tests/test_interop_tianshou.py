"""Tianshou 2.0: the info dict has the same keys on every step, so its collector and buffer accept the envs.

(Before, the keys appeared only on the final step: the buffer held None elsewhere and training stopped at
step 0 with "Encountered NaNs in buffer".) The masked DQN runs in examples/tianshou_dqn.py.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("tianshou")

from tianshou.algorithm.random import MARLRandomDiscreteMaskedOffPolicyAlgorithm  # noqa: E402
from tianshou.data import Collector, VectorReplayBuffer  # noqa: E402
from tianshou.env import DummyVectorEnv  # noqa: E402

from ips_envs import PENDING_OUTCOME  # noqa: E402
from ips_envs.wrappers import ActionMaskObservation  # noqa: E402


def test_collector_buffer_holds_every_info_key_on_every_step(env_id):
    def make():
        return ActionMaskObservation(gym.make(env_id), preset="tianshou")

    envs = DummyVectorEnv([make, make])
    random_masked = MARLRandomDiscreteMaskedOffPolicyAlgorithm(make().action_space)  # picks within obs.mask
    buffer = VectorReplayBuffer(400, len(envs))
    collector = Collector(random_masked, envs, buffer, raise_on_nan_in_buffer=True)
    collector.reset()
    stats = collector.collect(n_step=120)
    batch = buffer[buffer.sample_indices(0)]  # every stored transition
    n = len(batch)
    assert n == stats.n_collected_steps >= 120
    info = batch.info
    for key in ("outcome", "valid", "invalid_action", "action_mask"):
        assert len(info[key]) == n and not any(v is None for v in info[key])
    assert info["valid"].dtype == bool and not info["invalid_action"].any()  # masks obeyed
    ended = info["outcome"] != PENDING_OUTCOME
    np.testing.assert_array_equal(ended, batch.terminated)
    assert ended.any()
