"""MaskedActorPolicy's direct masked categorical and its per-distinct-observation update forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from ips_agents.policies import MaskedActorPolicy, distinct_rows


def _policy(deduplicate: bool = True, seed: int = 0) -> MaskedActorPolicy:
    th.manual_seed(seed)
    return MaskedActorPolicy(spaces.Box(0.0, 1.0, (5,), np.float32), spaces.Discrete(4), lambda _: 1e-3,
                             net_arch=[16], deduplicate=deduplicate)


def _batch(rng: np.random.Generator, n: int = 64) -> tuple[th.Tensor, np.ndarray]:
    rows = rng.integers(0, 2, (6, 5)).astype(np.float32)  # few distinct rows, repeated
    obs = th.as_tensor(rows[rng.integers(0, 6, n)])
    masks = rng.random((n, 4)) < 0.6
    masks[np.arange(n), rng.integers(0, 4, n)] = True  # at least one legal action per row
    return obs, masks


def test_log_probs_and_entropy_match_sb3_masked_categorical():
    policy = _policy()
    obs, masks = _batch(np.random.default_rng(0))
    actions = th.as_tensor(np.array([np.flatnonzero(m)[0] for m in masks]))
    logp, entropy = policy.evaluate_actions(obs, actions, masks)
    dist = policy.distribution(obs, masks)
    assert th.allclose(logp, dist.log_prob(actions), atol=1e-6)
    assert th.allclose(entropy, dist.entropy(), atol=1e-6)


def test_samples_are_legal_and_follow_the_masked_probabilities():
    policy = _policy()
    obs = th.zeros((20_000, 5))
    masks = np.tile([True, False, True, True], (20_000, 1))
    th.manual_seed(1)
    actions, logp = policy(obs, action_masks=masks)
    assert set(actions.tolist()) <= {0, 2, 3}
    probs = policy.action_probs(obs[:1], masks[:1])[0].detach().numpy()
    freq = np.bincount(actions.numpy(), minlength=4) / len(actions)
    assert freq[1] == 0.0
    assert np.abs(freq - probs).max() < 0.015  # ~4 standard errors at n = 20,000
    assert th.allclose(logp, th.log(th.as_tensor(probs, dtype=th.float32))[actions], atol=1e-5)
    det, _ = policy(obs[:3], deterministic=True, action_masks=masks[:3])
    assert det.tolist() == [int(np.argmax(np.where(masks[0], probs, -1)))] * 3


def test_distinct_rows_inverts_exactly():
    x = th.as_tensor(np.array([[1, 0], [0, 1], [1, 0], [1, 0], [0, 0]], dtype=np.float32))
    first, inverse = distinct_rows(x)
    assert len(first) == 3
    assert th.equal(x[first][inverse], x)
    assert distinct_rows(th.eye(3)) is None and distinct_rows(th.zeros((1, 3))) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deduplicated_update_has_the_same_values_and_gradients(seed):
    rng = np.random.default_rng(seed)
    obs, masks = _batch(rng)
    actions = th.as_tensor(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
    adv = th.as_tensor(rng.normal(size=len(obs)), dtype=th.float32)
    grads, values = [], []
    for dedup in (True, False):
        policy = _policy(dedup, seed)
        logp, entropy = policy.evaluate_actions(obs, actions, masks)
        loss = -(adv * logp).mean() - 0.01 * entropy.mean()
        policy.optimizer.zero_grad()
        loss.backward()
        grads.append([p.grad.clone() for p in policy.parameters()])
        values.append((logp.detach(), entropy.detach()))
    assert th.allclose(values[0][0], values[1][0], atol=1e-6) and th.allclose(values[0][1], values[1][1], atol=1e-6)
    for a, b in zip(*grads, strict=True):
        assert th.allclose(a, b, atol=1e-6)
