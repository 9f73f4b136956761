"""IPSGRPO.learn runs torch on ``torch_threads`` threads and leaves the process's setting as it found it."""

from __future__ import annotations

import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from ips_agents.algorithms.ips_grpo import IPSGRPO


class _Threads(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def _on_step(self) -> bool:
        self.seen.add(th.get_num_threads())
        return True


@pytest.mark.parametrize("threads, inside", [(1, 1), (2, 2), (None, 3)])
def test_learn_uses_torch_threads_and_restores_them(threads, inside):
    before = th.get_num_threads()
    th.set_num_threads(3)
    try:
        model = IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", group_size=4, n_groups=2, torch_threads=threads,
                        policy_kwargs={"net_arch": [8]}, env_kwargs={"height": 3}, seed=0)
        seen = _Threads()
        model.learn(50, callback=seen)
        assert seen.seen == {inside}
        assert th.get_num_threads() == 3
    finally:
        th.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_torch_threads_are_named(bad):
    with pytest.raises(ValueError, match="torch_threads"):
        IPSGRPO("MlpPolicy", "IPS/HyperGrid-v0", group_size=4, n_groups=2, torch_threads=bad)
