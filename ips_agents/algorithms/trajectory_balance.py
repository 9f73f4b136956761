"""Flow-matching baselines: trajectory balance (GFlowNet TB) and its FlowRL variant, on the same sampler.

Trajectory balance learns ``log Z`` with the policy and minimises, per trajectory,
``(log Z + sum_t log pi(a_t|s_t) - beta * log R(x) - sum_t log P_B(s_t|s_{t+1}))^2``. With one construction
path per outcome (``unique_paths``, e.g. ``canonical_order=True``) the backward policy is 1 and the
optimum samples ``x`` with probability proportional to ``R(x)^beta``. Without unique paths the loss uses
``P_B = 1`` anyway (a documented bias: it then matches ``R`` per *trajectory*, like expected-return methods
with path multiplicity), unless ``log_pb`` gives the backward log-probability of each trajectory.

``objective="flowrl"`` is FlowRL's form: rewards are group-normalised (GRPO style) and scaled by the
temperature ``beta``, and the trajectory log-probability is divided by its length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from torch import nn

from ips_agents import estimators
from ips_agents.algorithms import losses
from ips_agents.algorithms.base import GroupAlgorithm
from ips_agents.sampling import GroupBatch

OBJECTIVES = ("tb", "flowrl")


class TrajectoryBalance(GroupAlgorithm):
    """Trajectory balance with a learned ``log Z`` (and the FlowRL variant), on the same group sampler as IPS-GRPO.

    Args (besides the sampler, policy and SB3 arguments of :class:`~ips_agents.algorithms.base.GroupAlgorithm`;
    the learning rate defaults to a constant 1e-3):
        objective: ``"tb"`` or ``"flowrl"``.
        beta: reward exponent / temperature (TB: ``R ** beta``; FlowRL: ``beta * normalised reward``).
        logz_learning_rate: learning rate of ``log Z`` (default 0.1, as torchgfn's examples).
        reward_floor: rewards are clipped below at this value before the log (TB needs ``R > 0``).
        log_pb: optional function of a :class:`~ips_agents.sampling.GroupBatch` returning the backward
            log-probability of each trajectory (default 0, exact when the env has ``unique_paths``).
    """

    def __init__(self, policy: Any, env: Any, objective: str = "tb", beta: float = 1.0,
                 logz_learning_rate: float = 0.1, reward_floor: float = 1e-6,
                 log_pb: Callable[[GroupBatch], np.ndarray] | None = None, **kwargs: Any) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta!r}")
        if not logz_learning_rate > 0:
            raise ValueError(f"logz_learning_rate must be > 0, got {logz_learning_rate!r}")
        if not reward_floor > 0:
            raise ValueError(f"reward_floor must be > 0, got {reward_floor!r}")
        self.objective, self.beta = objective, float(beta)
        self.logz_learning_rate, self.reward_floor = float(logz_learning_rate), float(reward_floor)
        self.log_pb = log_pb
        super().__init__(policy, env, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        self.policy.log_z = nn.Parameter(th.zeros((), device=self.device))
        self.policy.optimizer.add_param_group({"params": [self.policy.log_z], "lr": self.logz_learning_rate})

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "log_pb"]

    def _targets(self, batch: GroupBatch) -> np.ndarray:
        if self.objective == "flowrl":
            return self.beta * estimators.group_advantages(batch.rewards, batch.groups, "group")
        return self.beta * np.log(np.maximum(batch.rewards, self.reward_floor))

    def train_on_batch(self, batch: GroupBatch) -> dict[str, float]:
        """``n_epochs`` gradient steps on the trajectory-balance loss of one batch."""
        self.policy.set_training_mode(True)
        device = self.device
        obs_t = self.policy.obs_to_tensor(batch.obs)[0]
        masks_t = th.as_tensor(batch.masks, device=device)
        actions_t = th.as_tensor(batch.actions, device=device)
        traj_t = th.as_tensor(batch.traj, device=device)
        with np.errstate(all="ignore"):
            target = self._targets(batch)
        if self.log_pb is not None:
            target = target + np.asarray(self.log_pb(batch), dtype=np.float64)
        if not (np.isfinite(batch.rewards).all() and np.isfinite(target).all()):
            return self._skip_batch(batch, target)
        target_t = th.as_tensor(target, dtype=th.float32, device=device)
        lengths_t = th.as_tensor(np.maximum(batch.lengths, 1), dtype=th.float32, device=device)
        stats = []
        for _ in range(self.n_epochs):
            logp, _ = self.policy.evaluate_actions(obs_t, actions_t, masks_t)
            traj_logp = losses.trajectory_log_probs(logp, traj_t, batch.n_trajectories)
            if self.objective == "flowrl":
                traj_logp = traj_logp / lengths_t
            loss = losses.trajectory_balance_loss(self.policy.log_z, traj_logp, target_t)
            if self._gradient_step(loss):
                stats.append(loss.item())
        self._n_updates += self.n_epochs
        return {"loss": float(np.mean(stats)) if stats else float("nan"), "log_z": float(self.policy.log_z.item())}
