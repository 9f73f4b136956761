"""IPS-GRPO (and GRPO, its ``ips_alpha=0`` special case): arguments, defaults, advantages and the update.

The group loop (rollouts, learn, logging, model files) is :class:`~ips_agents.algorithms.base.GroupAlgorithm`'s;
the IPS arithmetic is :mod:`ips_agents.estimators`; the loss is :func:`~ips_agents.algorithms.losses.clipped_policy_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import Schedule

from ips_agents import estimators
from ips_agents.algorithms import losses
from ips_agents.algorithms.base import GroupAlgorithm, frozen_copy
from ips_agents.algorithms.settings import SETTINGS, check_value, default_estimator, resolve_estimator_defaults
from ips_agents.policies import MaskedActorPolicy
from ips_agents.sampling import GroupBatch, GroupEnv, index_obs

ESTIMATORS = tuple(estimators.ESTIMATORS)
"""The ``ips_estimator`` names (see :mod:`ips_agents.estimators`)."""


class IPSGRPO(GroupAlgorithm):
    """Group Relative Policy Optimisation with Inverse Probability Scaling of terminal rewards.

    Each update samples ``n_groups`` task instances, rolls out ``group_size`` trajectories for each in
    lock step (one policy forward and one batched env step per step), scales every terminal reward by the
    inverse estimated probability of its outcome (``r / max(p, ips_eps) ** ips_alpha``), turns the scaled
    rewards into group-relative advantages and takes ``n_epochs`` clipped policy-gradient steps. Its stable
    fixed point is the reward-proportional outcome distribution ``p(o) = r(o) / sum r`` (for ``ips_alpha=1``);
    ``ips_alpha=0`` is plain GRPO (see :class:`GRPO`).

    Every default comes from the one table :data:`ips_agents.algorithms.settings.SETTINGS`, shared with
    ``ips-rl train`` and :class:`~ips_agents.runs.config.RunConfig`. Those left at None are resolved when the
    env is attached (:func:`~ips_agents.algorithms.settings.resolve_estimator_defaults`), for these reasons
    (the measurements are in the README's IPS-GRPO section and benchmarks/RESULTS.md):

    * ``ips_estimator``: ``"paths"`` where the env reports path counts (every enumerable ``IPS/`` env), else
      ``"count"``. The count estimate is at least ``1/G`` for every sampled outcome, so outcomes with
      probability below ``1/G`` cannot be told from common ones and the first ones found take the mass;
      ``n(o) p(tau)`` has the reward-proportional fixed point whatever the number of paths per outcome
      (derivation in :mod:`ips_agents.estimators`).
    * ``ips_eps``: 1e-6 with the probability-based estimators (only an underflow guard: a larger floor caps
      exactly the weights of the rare outcomes), 0.01 with the count estimator (benchmarks/ablation.py).
    * ``advantage_norm``: ``"none"`` with the probability-based estimators: the scaled rewards ``r / p`` all
      equal ``Z`` at the fixed point, so unnormalised advantages vanish as the policy converges, while dividing
      by the shrinking group std keeps the policy jittering around it; ``"group"`` with the count one (the
      paper's choice).
    * ``explore_eps``: 0.05, falling linearly to 0 over each :meth:`learn` call, with the probability-based
      estimators (0 with the count estimator and GRPO). On-policy, an outcome whose probability has fallen to
      1e-9 is never sampled again and IPS cannot revive it; sampled from the policy mixed with uniform-over-legal
      actions and weighted by ``p(tau) / q(tau)``, it gets the weight ``r / (n(o) q(tau))`` back. Boolean x,y,z
      depth 2 tasks keep every admissible expression (exact TV 0.0003 against 0.54 on-policy at 100k
      trajectories, benchmarks/large_spaces.py); the decay keeps HyperGrid's final accuracy close to on-policy.
    * ``learning_rate``: with the probability-based estimators 3e-3 falling linearly to 0 over each
      :meth:`learn` call (with exact propensities the expected update vanishes at the target and what is left
      is sampling noise, which a decaying rate averages out; give :meth:`learn` the whole budget at once, as a
      second call restarts the decay); with the count estimator (and GRPO) a constant 1e-3.

    Args:
        policy, env, group_size, n_groups, n_epochs, learning_rate, max_grad_norm, tasks, env_kwargs,
            torch_threads, policy_kwargs, tensorboard_log, verbose, seed, device, stats_window_size:
            see :class:`~ips_agents.algorithms.base.GroupAlgorithm`.
        ips_alpha: tempering exponent in [0, 1]: rewards are divided by ``p ** ips_alpha``; 0 is GRPO.
        ips_eps: probability floor in (0, 1] (the weight is at most ``1 / ips_eps ** ips_alpha``).
        ips_estimator: how the outcome probability ``p`` is estimated (:data:`ESTIMATORS`): ``"count"`` (the
            paper's Eq. 9, the outcome's frequency in its group; any env), ``"paths"`` (``n(o) * p(tau)``; needs
            ``info["path_count"]``, refused on an env that cannot count paths), ``"exact"`` (``p(tau)``; needs
            ``unique_paths``, where it equals ``"paths"``) or ``"trajectory"`` (``p(tau)`` with no requirement:
            the probability of the sampled sequence, e.g. a SMILES string).
        advantage_norm: ``"group"`` (divide by the group std), ``"batch"`` (by the batch std) or ``"none"``
            (only subtract the group mean).
        explore_eps: sample each step from ``(1 - explore_eps) * pi + explore_eps * uniform(legal actions)`` and
            correct exactly with ``p(tau) / q(tau)`` (:func:`~ips_agents.estimators.off_policy_advantages`), so the
            fixed point is unchanged while outcomes the policy has nearly lost keep being sampled (0: on-policy).
        explore_schedule: ``"linear"`` (the rate falls to 0 over each :meth:`learn` call, so the end of training is
            on-policy and free of importance-weight noise) or ``"constant"``.
        clip_range: PPO ratio clipping.
        minibatch_size: trajectories per gradient step (default: the whole batch).
        ent_coef: entropy bonus (per-trajectory summed entropy).
        kl_coef: weight of the k3 KL estimate to a frozen copy of the initial policy (0 disables it).
    """

    def __init__(
        self,
        policy: str | type[MaskedActorPolicy],
        env: Any,
        group_size: int = SETTINGS["group_size"].default,
        n_groups: int | None = SETTINGS["n_groups"].default,
        ips_alpha: float = SETTINGS["ips_alpha"].default,
        ips_eps: float | None = SETTINGS["ips_eps"].default,
        ips_estimator: str | None = SETTINGS["ips_estimator"].default,
        advantage_norm: str | None = SETTINGS["advantage_norm"].default,
        explore_eps: float | None = SETTINGS["explore_eps"].default,
        explore_schedule: str = SETTINGS["explore_schedule"].default,
        clip_range: float = SETTINGS["clip_range"].default,
        n_epochs: int = SETTINGS["n_epochs"].default,
        minibatch_size: int | None = SETTINGS["minibatch_size"].default,
        learning_rate: float | Schedule | None = SETTINGS["learning_rate"].default,
        ent_coef: float = SETTINGS["ent_coef"].default,
        kl_coef: float = SETTINGS["kl_coef"].default,
        max_grad_norm: float | None = SETTINGS["max_grad_norm"].default,
        tasks: Sequence[Mapping[str, Any]] | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        torch_threads: int | None = SETTINGS["torch_threads"].default,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        self.ips_alpha = ips_alpha
        self.ips_estimator = ips_estimator
        self.ips_eps = ips_eps
        self.advantage_norm = advantage_norm
        self.explore_eps = explore_eps
        self.explore_schedule = explore_schedule
        self.clip_range = clip_range
        self.minibatch_size = minibatch_size
        self.ent_coef = ent_coef
        self.kl_coef = kl_coef
        super().__init__(
            policy, env, group_size=group_size, n_groups=n_groups, n_epochs=n_epochs, learning_rate=learning_rate,
            max_grad_norm=max_grad_norm, tasks=tasks, env_kwargs=env_kwargs, torch_threads=torch_threads,
            stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, policy_kwargs=policy_kwargs,
            verbose=verbose, seed=seed, device=device, _init_setup_model=_init_setup_model,
        )

    # ----------------------------------------------------------- arguments
    def _validate(self) -> None:
        super()._validate()
        for name in ("ips_alpha", "ips_eps", "ips_estimator", "advantage_norm", "explore_eps", "explore_schedule",
                     "clip_range", "minibatch_size", "ent_coef", "kl_coef"):
            setattr(self, name, check_value(SETTINGS[name], getattr(self, name)))

    def _configure(self, group_env: GroupEnv) -> None:
        """Resolve the estimator and the settings that default per estimator; refuse an unmet requirement."""
        if self.ips_estimator is None:
            self.ips_estimator = default_estimator(self.ips_alpha, group_env.path_counts)
        resolved = resolve_estimator_defaults(self.ips_estimator, self.ips_alpha, self.ips_eps, self.advantage_norm,
                                              None, self.explore_eps)
        self.ips_eps, self.advantage_norm = resolved.ips_eps, resolved.advantage_norm
        self.explore_eps = resolved.explore_eps
        self._check_estimator(group_env)
        from_probabilities = estimators.get_estimator(self.ips_estimator).from_probabilities
        if self.explore_eps > 0 and self.ips_alpha > 0 and not from_probabilities:
            raise ValueError(f"explore_eps={self.explore_eps} needs a probability-based ips_estimator (paths, exact or "
                             f"trajectory): the in-group count of an exploring sampler estimates the sampler's outcome "
                             f"distribution, not the policy's; got ips_estimator={self.ips_estimator!r}")

    def default_learning_rate(self) -> float | Schedule:
        assert self.ips_estimator is not None
        return resolve_estimator_defaults(self.ips_estimator, self.ips_alpha, self.ips_eps, self.advantage_norm,
                                          None).learning_rate

    def _check_estimator(self, group_env: GroupEnv) -> None:
        """Refuse an estimator whose requirement the env does not meet (only when IPS is on)."""
        needs = estimators.get_estimator(self.ips_estimator).requires
        if self.ips_alpha == 0 or needs is None:
            return
        if needs == "unique_paths" and not group_env.unique_paths:
            raise ValueError(
                "ips_estimator='exact' needs an env with unique_paths (one construction path per outcome, e.g. "
                "canonical_order=True); this env does not declare it: use ips_estimator='paths' where the env "
                "reports path counts, else 'count'"
            )
        if needs == "path_counts" and group_env.path_counts is False:
            raise ValueError(
                "ips_estimator='paths' needs the number of construction paths of each outcome "
                "(info['path_count'] at termination); this env does not report path counts: use "
                "ips_estimator='count' (or 'trajectory' where an outcome is its action sequence)"
            )

    # --------------------------------------------------------------- model
    def _setup_model(self) -> None:
        super()._setup_model()
        self.ref_policy: MaskedActorPolicy | None = frozen_copy(self.policy) if self.kl_coef > 0 else None

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        names, others = super()._get_torch_save_params()
        return [*names, "ref_policy"] if self.kl_coef > 0 else names, others

    # -------------------------------------------------------------- update
    def propensities(self, batch: GroupBatch) -> np.ndarray:
        """Estimated outcome probability of each trajectory under ``ips_estimator``."""
        counts = batch.path_counts
        if self.ips_estimator == "paths":
            missing = np.flatnonzero(counts < 0) if counts is not None else np.arange(batch.n_trajectories)
            if len(missing):
                raise ValueError(
                    f"ips_estimator='paths' needs info['path_count'] at termination, but trajectory "
                    f"{int(missing[0])} (outcome {batch.outcomes[missing[0]]!r}) ended without one: use an env "
                    "that reports path counts, or ips_estimator='count'"
                )
        return estimators.propensities(self.ips_estimator, batch.outcomes, batch.groups, batch.traj_log_probs, counts)

    def _rollout_kwargs(self) -> dict[str, Any]:
        eps = getattr(self, "explore_eps", None) or 0.0  # (zips saved before exploration existed have none)
        if getattr(self, "explore_schedule", "constant") == "linear":
            eps *= self._current_progress_remaining
        return {"explore_eps": eps}

    def advantages(self, batch: GroupBatch) -> np.ndarray:
        """Per-trajectory advantages: IPS scaling (unless ``ips_alpha == 0``) then group normalisation, with the
        exact off-policy correction when the batch was sampled with exploration
        (:func:`~ips_agents.estimators.off_policy_advantages`)."""
        scaled = batch.rewards
        if self.ips_alpha > 0:
            scaled = estimators.ips_rewards(batch.rewards, self.propensities(batch), self.ips_alpha, self.ips_eps)
        if batch.traj_behaviour_log_probs is not None:
            return estimators.off_policy_advantages(scaled, batch.traj_log_probs, batch.traj_behaviour_log_probs,
                                                    batch.groups, self.advantage_norm)
        return estimators.group_advantages(scaled, batch.groups, self.advantage_norm)

    def train_on_batch(self, batch: GroupBatch) -> dict[str, float]:
        """Clipped policy-gradient epochs on one batch; returns the logged statistics."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        with np.errstate(all="ignore"):
            adv_traj = self.advantages(batch)
        if not (np.isfinite(batch.rewards).all() and np.isfinite(adv_traj).all()):
            return self._skip_batch(batch, adv_traj)
        device = self.device
        obs_t = self.policy.batch_to_tensor(batch.obs)
        masks_t = th.as_tensor(batch.masks, device=device)
        actions_t = th.as_tensor(batch.actions, device=device)
        old_logp_t = th.as_tensor(batch.log_probs, dtype=th.float32, device=device)
        adv_t = th.as_tensor(adv_traj[batch.traj], dtype=th.float32, device=device)
        ref_logp_t = None
        if self.ref_policy is not None:
            with th.no_grad():
                ref_logp_t = self.ref_policy.evaluate_actions(obs_t, actions_t, masks_t)[0]
        n_traj = batch.n_trajectories
        mb = n_traj if self.minibatch_size is None else min(self.minibatch_size, n_traj)
        stats: dict[str, list[float]] = {k: [] for k in ("loss", "pg_loss", "entropy", "kl", "clip_fraction", "approx_kl")}
        for _ in range(self.n_epochs):
            order = self._rng.permutation(n_traj) if mb < n_traj else None
            for start in range(0, n_traj, mb):
                if order is None:  # the whole batch: no gathering
                    idx, n_mb = slice(None), n_traj
                    obs_mb, actions_mb, masks_mb = obs_t, actions_t, masks_t
                else:
                    chosen = np.zeros(n_traj, dtype=bool)
                    chosen[order[start : start + mb]] = True
                    idx = th.as_tensor(np.flatnonzero(chosen[batch.traj]), device=device)
                    n_mb = int(chosen.sum())
                    obs_mb, actions_mb, masks_mb = index_obs(obs_t, idx), actions_t[idx], masks_t[idx]
                logp, entropy = self.policy.evaluate_actions(obs_mb, actions_mb, masks_mb)
                pg_loss, ratio = losses.clipped_policy_loss(logp, old_logp_t[idx], adv_t[idx], self.clip_range, n_mb)
                ent = entropy.sum() / n_mb
                loss = pg_loss - self.ent_coef * ent
                kl = th.zeros((), device=device)
                if ref_logp_t is not None:
                    kl = losses.k3_kl(logp, ref_logp_t[idx], n_mb)
                    loss = loss + self.kl_coef * kl
                if not self._gradient_step(loss):
                    continue
                with th.no_grad():
                    log_ratio = logp - old_logp_t[idx]
                    stats["loss"].append(loss.item())
                    stats["pg_loss"].append(pg_loss.item())
                    stats["entropy"].append(ent.item())
                    stats["kl"].append(kl.item())
                    stats["clip_fraction"].append(((ratio - 1).abs() > self.clip_range).float().mean().item())
                    stats["approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
        self._n_updates += self.n_epochs
        return {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}


class GRPO(IPSGRPO):
    """Plain GRPO: :class:`IPSGRPO` with ``ips_alpha=0`` (no inverse probability scaling)."""

    def __init__(self, policy: str | type[MaskedActorPolicy], env: Any, **kwargs: Any) -> None:
        if kwargs.get("ips_alpha", 0.0) != 0.0:
            raise ValueError(f"GRPO has ips_alpha=0; got ips_alpha={kwargs['ips_alpha']!r} (use IPSGRPO)")
        kwargs["ips_alpha"] = 0.0
        super().__init__(policy, env, **kwargs)
