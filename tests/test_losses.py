"""The losses as pure torch functions, on hand-computed numbers."""

from __future__ import annotations

import math

import pytest
import torch as th

from ips_agents.algorithms.losses import clipped_policy_loss, k3_kl, trajectory_balance_loss, trajectory_log_probs


def test_clipped_surrogate_by_hand():
    logp = th.log(th.tensor([0.5, 0.3, 0.9]))
    old = th.log(th.tensor([0.25, 0.3, 0.3]))  # ratios 2, 1, 3
    adv = th.tensor([1.0, -2.0, -1.0])
    loss, ratio = clipped_policy_loss(logp, old, adv, clip_range=0.2, n_trajectories=2)
    assert ratio.tolist() == pytest.approx([2.0, 1.0, 3.0])
    # min(2*1, 1.2*1) = 1.2; min(1*-2, 1*-2) = -2; min(3*-1, 1.2*-1) = -3
    assert loss.item() == pytest.approx(-(1.2 - 2.0 - 3.0) / 2)


def test_clipped_surrogate_gradient_is_the_policy_gradient_inside_the_clip():
    logp = th.tensor([-1.0, -2.0], requires_grad=True)
    loss, _ = clipped_policy_loss(logp, logp.detach(), th.tensor([3.0, -1.0]), 0.2, n_trajectories=1)
    loss.backward()
    assert logp.grad.tolist() == pytest.approx([-3.0, 1.0])  # ratio 1: d(-A * ratio)/d logp = -A


def test_k3_kl_is_zero_at_the_reference_and_positive_elsewhere():
    logp = th.log(th.tensor([0.5, 0.2]))
    assert k3_kl(logp, logp, 1).item() == 0.0
    ref = th.log(th.tensor([0.25, 0.4]))
    d = ref - logp
    expected = float((th.exp(d) - d - 1).sum()) / 2
    assert k3_kl(logp, ref, 2).item() == pytest.approx(expected) and expected > 0


def test_trajectory_log_probs_and_trajectory_balance_by_hand():
    logp = th.tensor([-1.0, -0.5, -2.0, -0.25])
    traj = th.tensor([0, 0, 1, 1])
    per = trajectory_log_probs(logp, traj, 2)
    assert per.tolist() == [-1.5, -2.25]
    log_z = th.tensor(0.5)
    targets = th.tensor([math.log(2.0), -1.0])
    loss = trajectory_balance_loss(log_z, per, targets)
    expected = ((0.5 - 1.5 - math.log(2.0)) ** 2 + (0.5 - 2.25 + 1.0) ** 2) / 2
    assert loss.item() == pytest.approx(expected)
    assert trajectory_balance_loss(th.tensor(1.5 + math.log(2.0)), per[:1], targets[:1]).item() == pytest.approx(0.0)
