"""The losses of the group algorithms as pure torch functions (no env, no sampler, no SB3).

Every function takes per-step tensors of a batch of trajectories (flat over steps, ``traj`` giving each step's
trajectory where needed) and returns a scalar loss, so each can be tested on hand-made numbers and reused by
other trainers. Sums run over a trajectory's steps and means over trajectories: the gradient of the
trajectory-level objective the paper analyses (a per-token mean would favour short constructions).
"""

from __future__ import annotations

import torch as th


def clipped_policy_loss(logp: th.Tensor, old_logp: th.Tensor, advantages: th.Tensor, clip_range: float,
                        n_trajectories: int) -> tuple[th.Tensor, th.Tensor]:
    """PPO's clipped surrogate, summed over steps and averaged over ``n_trajectories``.

    ``-(1/N) sum_t min(rho_t A_t, clip(rho_t, 1 - c, 1 + c) A_t)`` with ``rho_t = exp(logp_t - old_logp_t)``;
    every step carries its trajectory's advantage. Returns ``(loss, ratio)`` (the ratio for statistics).
    """
    ratio = th.exp(logp - old_logp)
    surrogate = th.min(ratio * advantages, th.clamp(ratio, 1 - clip_range, 1 + clip_range) * advantages)
    return -surrogate.sum() / n_trajectories, ratio


def k3_kl(logp: th.Tensor, ref_logp: th.Tensor, n_trajectories: int) -> th.Tensor:
    """The k3 estimate of ``KL(pi || pi_ref)`` on the sampled steps, per trajectory.

    ``(1/N) sum_t (exp(d_t) - d_t - 1)`` with ``d_t = ref_logp_t - logp_t``: non-negative, and unbiased for the
    KL when the steps are sampled from ``pi``.
    """
    diff = ref_logp - logp
    return (th.exp(diff) - diff - 1).sum() / n_trajectories


def trajectory_log_probs(logp: th.Tensor, traj: th.Tensor, n_trajectories: int) -> th.Tensor:
    """``log p(tau)`` of each trajectory: the step log-probabilities summed by trajectory index."""
    return th.zeros(n_trajectories, dtype=logp.dtype, device=logp.device).index_add(0, traj, logp)


def trajectory_balance_loss(log_z: th.Tensor, traj_log_probs: th.Tensor, targets: th.Tensor) -> th.Tensor:
    """Trajectory balance: ``mean_tau (log Z + log p(tau) - target(tau))^2``.

    With ``target = beta log R(x) + log P_B(tau | x)`` the minimiser samples ``x`` with probability proportional
    to ``R(x)^beta`` (GFlowNet TB); FlowRL passes normalised rewards and length-normalised ``log p``.
    """
    return ((log_z + traj_log_probs - targets) ** 2).mean()
