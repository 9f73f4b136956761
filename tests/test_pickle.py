"""Every env and vector env pickles with the standard pickle (subprocess and Ray workers need it)."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

from ips_envs.smiles.oracle import Oracle
from ips_envs.smiles.scoring import ORACLES, make_drug_mpo, make_isomer, make_rediscovery, make_similarity
from tests.conftest import random_legal


def _continue(env, steps: int, seed: int) -> list:
    """The next ``steps`` results of a vector env under seeded random legal actions."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        obs, rew, term, _, info = env.step(random_legal(rng, env.unwrapped.action_masks()))
        out.append((obs.copy(), rew.copy(), term.copy(), list(info["outcome"])))
    return out


def test_single_env_pickles_and_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.unwrapped.task == env.unwrapped.task
    rng = np.random.default_rng(0)
    terminated = False
    while not terminated:
        a = int(random_legal(rng, env.unwrapped.action_masks()[None])[0])
        (o1, r1, terminated, t1, i1), (o2, r2, term2, t2, i2) = env.step(a), clone.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert (r1, terminated, t1, i1["outcome"]) == (r2, term2, t2, i2["outcome"])
        np.testing.assert_array_equal(i1["action_mask"], i2["action_mask"])


def test_vector_env_pickles_and_continues_identically(env_id):
    envs = gym.make_vec(env_id, num_envs=4)
    envs.reset(seed=5)
    _continue(envs, 3, seed=0)
    clone = pickle.loads(pickle.dumps(envs))
    for (o1, r1, t1, k1), (o2, r2, t2, k2) in zip(_continue(envs, 20, 1), _continue(clone, 20, 1), strict=True):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(t1, t2)
        assert k1 == k2


@pytest.mark.parametrize("fn", [*ORACLES.values(), make_rediscovery("CCO"), make_similarity("CCO", "AP"),
                                make_isomer("C2H6O"), make_drug_mpo("c1ccccc1O")], ids=repr)
def test_oracles_pickle_and_score_the_same(fn):
    clone = pickle.loads(pickle.dumps(fn))
    for smiles in ("CCO", "c1ccccc1O", "not a molecule"):
        assert clone(smiles) == fn(smiles)
    assert clone.__name__ == fn.__name__


def test_budgeted_oracle_pickles_with_its_history():
    oracle = Oracle("qed", budget=3)
    oracle("CCO")
    clone = pickle.loads(pickle.dumps(oracle))
    assert clone.calls == 1 and clone.remaining == 2 and clone("CCO") == oracle("CCO")
    env = gym.make("IPS/SMILES-v0", oracle=oracle)
    assert pickle.loads(pickle.dumps(env)) is not None
