"""Batched group rollouts: all B*G trajectories advance with one policy forward and one env step per step."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th

from ips_agents.policies.masked_actor import sample_log_probs
from ips_agents.sampling.group_env import GroupEnv, Obs, concat_obs, index_obs


@dataclass
class GroupBatch:
    """The steps and trajectories of one batch of groups.

    Step arrays (length = number of recorded steps, ``S``): ``obs``, ``masks``, ``actions``,
    ``log_probs`` (behaviour policy) and ``traj`` (trajectory index of each step).
    Trajectory arrays (length ``N = B * G``): ``groups``, ``outcomes`` (object array of keys),
    ``rewards``, ``valid``, ``lengths``, ``traj_log_probs`` (summed step log-probabilities) and
    ``path_counts`` (float64: the env's ``info["path_count"]`` of each outcome, -1 where the env gave none).
    With exploration (``explore_eps > 0`` in :func:`collect_groups`) ``traj_behaviour_log_probs`` holds the
    behaviour policy's ``log q(tau)``.
    """

    obs: Obs
    masks: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    traj: np.ndarray
    groups: np.ndarray
    outcomes: np.ndarray
    rewards: np.ndarray
    valid: np.ndarray
    lengths: np.ndarray
    traj_log_probs: np.ndarray
    path_counts: np.ndarray | None = None
    traj_behaviour_log_probs: np.ndarray | None = None
    """``log q(tau)`` of each trajectory when it was sampled from an exploring behaviour policy ``q`` (None:
    on-policy, ``q = p``); ``log_probs`` / ``traj_log_probs`` are then still the policy's own ``log p``."""

    @property
    def n_steps(self) -> int:
        return len(self.actions)

    @property
    def n_trajectories(self) -> int:
        return len(self.rewards)


ObsToTensor = Callable[[Obs], Any]


def collect_groups(
    policy: Any,
    env: GroupEnv,
    group_size: int,
    tasks: Sequence[Mapping[str, Any]] | None,
    seeds: Sequence[int] | None,
    max_steps: int = 100_000,
    on_step: Callable[[int], bool] | None = None,
    explore_eps: float = 0.0,
) -> GroupBatch | None:
    """Run every copy of ``env`` to termination once; copies ``[b*G, (b+1)*G)`` form group ``b``.

    Args:
        policy: a :class:`~ips_agents.policies.MaskedActorPolicy`.
        env: the adapted env with ``num_envs = B * G``.
        group_size: G.
        tasks: one task per copy (or None); members of a group share a task.
        seeds: one reset seed per copy (or None).
        max_steps: safety bound on the number of lock-step steps.
        on_step: called after every env step with the number of active copies; returning False aborts
            (the function then returns None).
        explore_eps: sample from the behaviour policy ``q = (1 - eps) * pi + eps * uniform(legal actions)`` at
            every step (0: the policy itself). The policy's own log-probabilities are still recorded, and the
            batch also gets ``traj_behaviour_log_probs`` (``log q(tau)``) for the off-policy correction.
    """
    n = env.num_envs
    sub_obs, sub_masks = env.reset(tasks=tasks, seeds=seeds)
    idx = np.arange(n)  # the copies whose episodes are running; sub_obs / sub_masks are their rows
    rewards = np.zeros(n)
    valid = np.zeros(n, dtype=bool)
    outcomes = np.full(n, "", dtype=object)
    lengths = np.zeros(n, dtype=np.int64)
    traj_log_probs = np.zeros(n)
    path_counts = np.full(n, -1.0)
    behaviour_log_probs = np.zeros(n) if explore_eps > 0 else None
    rec_obs, rec_masks, rec_actions, rec_logp, rec_traj = [], [], [], [], []
    policy.set_training_mode(False)
    for _ in range(max_steps):
        playable = sub_masks.any(axis=1)
        if not playable.all():
            bad = int(idx[np.flatnonzero(~playable)[0]])
            raise RuntimeError(f"env {bad} has no legal action but did not terminate")
        with th.inference_mode():
            if behaviour_log_probs is None:
                act_t, logp_t = policy(policy.batch_to_tensor(sub_obs), action_masks=sub_masks)
            else:
                act_t, logp_t, logq_t = explore_step(policy, sub_obs, sub_masks, explore_eps)
                behaviour_log_probs[idx] += logq_t.numpy(force=True).astype(np.float64)
        sub_actions = act_t.numpy(force=True).astype(np.int64, copy=False)
        logp = logp_t.numpy(force=True).astype(np.float64)
        rec_obs.append(sub_obs)
        rec_masks.append(sub_masks)
        rec_actions.append(sub_actions)
        rec_logp.append(logp)
        rec_traj.append(idx)
        traj_log_probs[idx] += logp
        lengths[idx] += 1
        step_obs, step_masks, rew, done, outc, ok, counts = env.step_active(idx, sub_actions)
        n_active = len(idx)
        if done.any():
            ended = idx[done]
            rewards[ended] = rew[done]
            path_counts[ended] = counts[done]
            outcomes[ended] = outc[done]
            valid[ended] = ok[done]
            keep = ~done
            idx = idx[keep]
            sub_obs, sub_masks = index_obs(step_obs, keep), step_masks[keep]
        else:
            sub_obs, sub_masks = step_obs, step_masks
        if on_step is not None and on_step(n_active) is False:
            return None
        if not len(idx):
            break
    else:
        raise RuntimeError(f"episodes still running after max_steps={max_steps} lock-step steps")
    return GroupBatch(
        obs=concat_obs(rec_obs),
        masks=np.concatenate(rec_masks),
        actions=np.concatenate(rec_actions),
        log_probs=np.concatenate(rec_logp),
        traj=np.concatenate(rec_traj),
        groups=np.arange(n) // group_size,
        outcomes=outcomes,
        rewards=rewards,
        valid=valid,
        lengths=lengths,
        traj_log_probs=traj_log_probs,
        path_counts=path_counts,
        traj_behaviour_log_probs=behaviour_log_probs,
    )


def explore_step(policy: Any, obs: Obs, masks: np.ndarray, eps: float) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """One step from ``q = (1 - eps) * pi + eps * uniform(legal)``: ``(actions, log pi(a), log q(a))``."""
    logp_all = policy.masked_log_probs(policy.batch_to_tensor(obs), masks)
    legal = th.as_tensor(masks, device=logp_all.device)
    uniform = legal / legal.sum(dim=-1, keepdim=True)
    logq_all = th.log((1.0 - eps) * logp_all.exp() + eps * uniform)
    actions = sample_log_probs(logq_all)  # masked-out actions have q = 0 (log q = -inf): never drawn
    return actions.squeeze(-1), logp_all.gather(-1, actions).squeeze(-1), logq_all.gather(-1, actions).squeeze(-1)
