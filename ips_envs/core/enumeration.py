"""Admissible sets and reward-proportional targets of enumerable tasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ips_envs.core.kernel import Kernel


def _rewards(kernel: Kernel, task: Mapping[str, Any]) -> dict[str, float]:
    rewards = kernel.outcome_rewards(task)
    if rewards is None:
        raise NotImplementedError(
            f"{type(kernel).__name__} tasks with these arguments are not enumerable (or too large to enumerate; "
            "see the env's docstring): no admissible set or exact target"
        )
    return rewards


def admissible_outcomes(kernel: Kernel, task: Mapping[str, Any]) -> frozenset[str]:
    """Outcome keys with positive reward for ``task``."""
    return frozenset(k for k, r in _rewards(kernel, task).items() if r > 0)


def target_distribution(kernel: Kernel, task: Mapping[str, Any]) -> dict[str, float]:
    """Outcome key -> r(o) / sum r, over the outcomes with positive reward (sums to 1)."""
    rewards = {k: float(r) for k, r in _rewards(kernel, task).items() if r > 0}
    total = sum(rewards.values())
    if total <= 0:
        raise ValueError(f"task {dict(task)!r} has no outcome with positive reward")
    return {k: r / total for k, r in rewards.items()}
