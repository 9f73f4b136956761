"""Recovery-rate and distance metrics of ips_agents.evaluation on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ips_agents.evaluation import expected_recovery, js_divergence, mean_recovery_curve, recovery_curve, tv_distance


def test_expected_recovery_hand_values():
    # two admissible outcomes at 1/2 each, 2 samples: each is missed with probability 1/4
    assert expected_recovery({"a": 0.5, "b": 0.5}, ["a", "b"], 2) == pytest.approx(0.75)
    # an outcome with no mass is never recovered; zero samples recover nothing
    assert expected_recovery({"a": 1.0}, ["a", "b"], 10) == pytest.approx(0.5)
    assert expected_recovery({"a": 0.5, "b": 0.5}, ["a", "b"], 0) == 0.0


def test_uniform_sampler_ceiling_of_rr_at_5h():
    h = [str(i) for i in range(16)]
    uniform = {k: 1 / 16 for k in h}
    assert expected_recovery(uniform, h, 5 * 16) == pytest.approx(1 - (15 / 16) ** 80)
    assert expected_recovery(uniform, h, 5 * 16) < 0.995


def test_expected_recovery_matches_sampling():
    rng = np.random.default_rng(0)
    h = ["a", "b", "c", "d"]
    dist = {"a": 0.55, "b": 0.3, "c": 0.1, "d": 0.04, "x": 0.01}
    keys, probs = list(dist), np.array(list(dist.values()))
    runs = [recovery_curve(list(rng.choice(keys, size=12, p=probs)), h)[-1] for _ in range(4000)]
    assert np.mean(runs) == pytest.approx(expected_recovery(dist, h, 12), abs=0.01)


@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=8), samples=st.integers(0, 200))
def test_expected_recovery_is_monotone_in_samples_and_bounded(p, samples):
    dist = {str(i): v for i, v in enumerate(p)}
    now, later = expected_recovery(dist, dist, samples), expected_recovery(dist, dist, samples + 1)
    assert 0.0 <= now <= later <= 1.0


def test_expected_recovery_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        expected_recovery({"a": 1.0}, [], 3)
    with pytest.raises(ValueError, match="samples must be >= 0, got -1"):
        expected_recovery({"a": 1.0}, ["a"], -1)


def test_tv_distance_hand_value():
    assert tv_distance({"a": 1.0}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.5)


def test_mean_recovery_curve_on_a_grid_of_multiples():
    grid = np.array([0.0, 0.5, 1.0, 2.0, 3.0])
    # |H| = 2 found after samples 1 and 2; |H| = 1 found at sample 2 (of 2)
    curve = mean_recovery_curve([(np.array([0.5, 1.0]), 2), (np.array([0.0, 1.0]), 1)], grid)
    np.testing.assert_allclose(curve, [0.0, 0.25, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="no curves"):
        mean_recovery_curve([], grid)


def test_js_divergence_bounds_and_subnormal_mass():
    assert js_divergence({"a": 1.0}, {"b": 1.0}) == pytest.approx(np.log(2))
    assert js_divergence({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}) == 0.0
    with np.errstate(divide="raise", invalid="raise"):  # a subnormal probability must not divide by an underflowed mean
        assert 0.0 <= js_divergence({"a": 5e-324, "b": 1.0}, {"b": 1.0}) < 1e-300
