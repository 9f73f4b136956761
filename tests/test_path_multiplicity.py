"""PathMultiplicity: the path counts that make the toy work."""

from __future__ import annotations

from math import comb

import gymnasium as gym
import numpy as np
import pytest

import ips_envs
from ips_envs.path_multiplicity import PathMultiplicityKernel
from tests.test_hypergrid import _count_paths


def test_default_path_counts_are_35_and_7():
    kernel = PathMultiplicityKernel()
    assert _count_paths(kernel) == {"A": 35, "B": 7}
    assert kernel.path_counts() == {"A": 35, "B": 7}


@pytest.mark.parametrize("length,a,b", [(5, 2, 0), (6, 4, 1), (8, 3, 6)])
def test_path_counts_follow_arguments(length, a, b):
    kernel = PathMultiplicityKernel(length=length, a_right=a, b_right=b)
    assert _count_paths(kernel) == {"A": comb(length, a), "B": comb(length, b)}


def test_target_is_half_half_and_every_episode_ends_in_a_or_b():
    env = gym.make("IPS/PathMultiplicity-v0").unwrapped
    env.reset(seed=0)
    assert env.target_distribution() == {"A": 0.5, "B": 0.5}
    dist = ips_envs.exact_outcome_distribution(env, lambda o, m: m / m.sum(1, keepdims=True))
    assert set(dist) == {"A", "B"}


def test_equal_ends_rejected():
    with pytest.raises(ValueError, match="a_right and b_right must differ"):
        gym.make("IPS/PathMultiplicity-v0", a_right=2, b_right=2)
