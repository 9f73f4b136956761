"""HyperGrid: exact reward facts, canonical order, arguments."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ips_envs
from ips_envs.hypergrid import HyperGridKernel, hypergrid_reward
from tests.conftest import uniform_probs
from tests.conftest import count_paths


def _n_best(ndim: int, height: int) -> int:
    env = gym.make("IPS/HyperGrid-v0", ndim=ndim, height=height).unwrapped
    env.reset(seed=0)
    rewards = env.kernel.outcome_rewards(env.task)
    assert len(rewards) == height**ndim
    best = max(rewards.values())
    assert best == pytest.approx(0.1 + 0.5 + 2.0)
    return sum(1 for r in rewards.values() if r == best)


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_gflownet_reward_has_2_pow_ndim_maximal_cells(ndim):
    assert _n_best(ndim, 8) == 2**ndim


@pytest.mark.parametrize("ndim,height", [(2, 20), (3, 20), (2, 32)])
def test_mode_regions_are_products_of_one_dimensional_bands(ndim, height):
    assert _n_best(ndim, height) == _n_best(1, height) ** ndim


def test_known_reward_values_h8():
    # a_d = |x/7 - 0.5|: x = 1 and 6 give 0.357 (mode band), x = 0 and 7 give 0.5 (R1 only)
    assert hypergrid_reward(np.array([1, 6]), 8) == pytest.approx(2.6)
    assert hypergrid_reward(np.array([0, 7]), 8) == pytest.approx(0.6)
    assert hypergrid_reward(np.array([3, 3]), 8) == pytest.approx(0.1)
    assert hypergrid_reward(np.array([1, 3]), 8) == pytest.approx(0.1)
    # paper's literal reading: u = x/7 in (0.6, 0.8) only for x = 5, u > 0.5 for x >= 4
    assert hypergrid_reward(np.array([5, 5]), 8, reward="paper") == pytest.approx(2.6)
    assert hypergrid_reward(np.array([4, 7]), 8, reward="paper") == pytest.approx(0.6)
    assert hypergrid_reward(np.array([1, 6]), 8, reward="paper") == pytest.approx(0.1)


def test_canonical_order_gives_one_path_per_cell():
    kernel = HyperGridKernel(ndim=3, height=3, canonical_order=True)
    counts = count_paths(kernel)
    assert len(counts) == 27 and set(counts.values()) == {1}
    assert kernel.unique_paths
    free = count_paths(HyperGridKernel(ndim=2, height=3))
    # multinomial path counts without canonical order: cell (i, j) has C(i+j, i) paths
    assert free["2,2"] == 6 and free["1,1"] == 2 and free["0,2"] == 1


def test_canonical_order_trajectory_probability_is_outcome_probability():
    env = gym.make("IPS/HyperGrid-v0", ndim=2, height=4, canonical_order=True).unwrapped
    env.reset(seed=0)
    assert env.unique_paths
    exact = ips_envs.exact_outcome_distribution(env, uniform_probs)
    # one path: the product of uniform legal probabilities along it
    for key, p in exact.items():
        x, y = map(int, key.split(","))
        prob, state = 1.0, env.kernel.initial_state([{}])
        for a in [0] * x + [1] * y + [2]:
            m = env.kernel.legal_actions(state)[0]
            prob /= m.sum()
            env.kernel.apply(state, np.array([a]))
        assert p == pytest.approx(prob)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"ndim": 0}, "ndim"), ({"height": 1}, "height"), ({"reward": "foo"}, "reward"), ({"R0": 0.0}, "R0"),
     ({"ndim": 2.5}, "ndim")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("IPS/HyperGrid-v0", **kwargs)


@settings(max_examples=25, deadline=None)
@given(ndim=st.integers(1, 4), height=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_random_walks_stay_on_grid(ndim, height, seed):
    env = gym.make("IPS/HyperGrid-v0", ndim=ndim, height=height).unwrapped
    _, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(env.kernel.max_length):
        a = rng.choice(np.flatnonzero(info["action_mask"]))
        _, r, term, _, info = env.step(a)
        if term:
            cell = np.array(list(map(int, info["outcome"].split(","))))
            assert np.all((cell >= 0) & (cell < height))
            assert r == pytest.approx(float(hypergrid_reward(cell, height)))
            return
    pytest.fail("walk did not stop")


def test_exhaustive_small_grid_rewards_match_enumeration():
    kernel = HyperGridKernel(ndim=2, height=4)
    rewards = kernel.outcome_rewards({})
    for x, y in itertools.product(range(4), repeat=2):
        assert rewards[f"{x},{y}"] == pytest.approx(float(hypergrid_reward(np.array([x, y]), 4)))
