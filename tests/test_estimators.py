"""The propensity estimators of IPS-GRPO: registry, arithmetic, requirements."""

from __future__ import annotations

import numpy as np
import pytest

from ips_agents import IPSGRPO
from ips_agents.ips import ESTIMATORS, get_estimator, group_frequencies, path_propensities, propensities

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
