"""PathMultiplicity: the path counts that make the toy work."""

from __future__ import annotations

from math import comb

import gymnasium as gym
import numpy as np
import pytest

import ips_envs
from ips_envs.path_multiplicity import PathMultiplicityKernel
from tests.conftest import count_paths


def test_default_path_counts_are_35_and_7():
    kernel = PathMultiplicityKernel()
    counts = count_paths(kernel)
    assert counts["A"] == 35 and counts["B"] == 7
    assert sum(counts.values()) == 2**7
    assert kernel.path_counts() == {"A": 35, "B": 7}
    assert count_paths(PathMultiplicityKernel(mask_dead_ends=True)) == {"A": 35, "B": 7}


@pytest.mark.parametrize("length,a,b", [(5, 2, 0), (6, 4, 1), (8, 3, 6)])
def test_path_counts_follow_arguments(length, a, b):
    kernel = PathMultiplicityKernel(length=length, a_right=a, b_right=b, mask_dead_ends=True)
    assert count_paths(kernel) == {"A": comb(length, a), "B": comb(length, b)}
    free = count_paths(PathMultiplicityKernel(length=length, a_right=a, b_right=b))
    assert free["A"] == comb(length, a) and free["B"] == comb(length, b)


def test_target_is_half_half_and_uniform_walks_favour_a():
    env = gym.make("IPS/PathMultiplicity-v0").unwrapped
    env.reset(seed=0)
    assert env.target_distribution() == {"A": 0.5, "B": 0.5}
    dist = ips_envs.exact_outcome_distribution(env, lambda o, m: m / m.sum(1, keepdims=True))
    assert dist["A"] == pytest.approx(35 / 128) and dist["B"] == pytest.approx(7 / 128)
    masked = gym.make("IPS/PathMultiplicity-v0", mask_dead_ends=True).unwrapped
    masked.reset(seed=0)
    dist = ips_envs.exact_outcome_distribution(masked, lambda o, m: m / m.sum(1, keepdims=True))
    assert set(dist) == {"A", "B"}


def test_other_ends_are_invalid_with_zero_reward():
    env = gym.make("IPS/PathMultiplicity-v0").unwrapped
    env.reset(seed=0)
    for _ in range(7):
        _, r, term, _, info = env.step(1)  # straight up: ends at (0, 7)
    assert term and r == 0.0 and info["outcome"] == "0,7" and not info["valid"]


def test_equal_ends_rejected():
    with pytest.raises(ValueError, match="a_right and b_right must differ"):
        gym.make("IPS/PathMultiplicity-v0", a_right=2, b_right=2)


def test_dead_end_masks_refuse_moves_that_miss_both_ends():
    env = gym.make("IPS/PathMultiplicity-v0", mask_dead_ends=True, strict=True).unwrapped
    env.reset(seed=0)
    for _ in range(4):
        env.step(0)  # four right moves: x = 4 > a_right = 3, so a fifth right is a dead end
        if not env.action_masks()[0]:
            break
    assert not env.action_masks()[0]
    with pytest.raises(ValueError, match="masked out"):
        env.step(0)


def test_history_observation_is_the_move_sequence():
    env = gym.make("IPS/PathMultiplicity-v0", observation="history")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (14,) and not obs.any()
    for a in (0, 1, 1):
        obs, *_ = env.step(a)
    np.testing.assert_array_equal(obs, [1, 0, 0, 1, 0, 1] + [0] * 8)
    # two walks to the same point (right-up vs up-right) look alike per state, not with the history
    state_env = gym.make("IPS/PathMultiplicity-v0").unwrapped
    kernels = {"state": state_env.kernel, "history": env.unwrapped.kernel}
    for name, kernel in kernels.items():
        a, b = kernel.initial_state([{}]), kernel.initial_state([{}])
        for s, moves in ((a, (0, 1)), (b, (1, 0))):
            for m in moves:
                kernel.apply(s, np.array([m]))
        same = np.array_equal(kernel.observe(a), kernel.observe(b))
        assert same == (name == "state")
    # same dynamics, rewards and path counts: the uniform policy's exact outcomes agree
    uniform = lambda o, m: m / m.sum(1, keepdims=True)  # noqa: E731
    env.reset(seed=0)
    state_env.reset(seed=0)
    assert ips_envs.exact_outcome_distribution(env, uniform) == pytest.approx(
        ips_envs.exact_outcome_distribution(state_env, uniform))
    assert count_paths(env.unwrapped.kernel) == count_paths(state_env.kernel)
    with pytest.raises(ValueError, match="observation"):
        gym.make("IPS/PathMultiplicity-v0", observation="pixels")
