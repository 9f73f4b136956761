"""Inverse probability scaling of rewards grouped by prompt, shared by the TRL and verl integrations.

Both trainers hand a reward function a flat batch of completions; what differs is how the groups are marked
(TRL: consecutive runs of ``num_generations``; verl: a ``uid`` per prompt). :func:`scale_by_group` takes the
rewards, outcome keys and group ids of such a batch and returns ``r / max(p, eps) ** alpha`` with ``p`` the
outcome's share of its group. Needs numpy only (no TRL, no verl), so the verl venv can import it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

try:  # the IPS arithmetic lives in ips_agents.estimators (formerly ips_agents.ips)
    from ips_agents.estimators import group_frequencies, ips_rewards
except ImportError:  # pragma: no cover - before the move
    from ips_agents.ips import group_frequencies, ips_rewards

NO_ANSWER = "\x00no answer"
"""Outcome counted for completions without a parsed answer (their reward is 0, so their weight never matters)."""

__all__ = ["NO_ANSWER", "group_frequencies", "ips_rewards", "outcome_keys", "scale_by_group"]


def outcome_keys(outcomes: Sequence[Hashable | None]) -> np.ndarray:
    """Outcome keys as strings (``None``, no parsed answer, becomes :data:`NO_ANSWER`)."""
    return np.array([NO_ANSWER if o is None else str(o) for o in outcomes], dtype=object).astype(str)


def scale_by_group(rewards: Sequence[float], outcomes: Sequence[Hashable | None], groups: Sequence[Hashable],
                   alpha: float = 1.0, eps: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(scaled, frequencies)``: each reward divided by its outcome's in-group frequency (tempered by ``alpha``).

    Args:
        rewards: one reward per completion (>= 0).
        outcomes: one outcome key per completion (``None`` where no answer was read).
        groups: one group id per completion (any hashable: the prompt's uid, a group index).
        alpha: tempering exponent in [0, 1] (0: rewards unchanged).
        eps: probability floor in (0, 1].
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if not len(rewards) == len(outcomes) == len(groups):
        raise ValueError(f"need one outcome and one group per reward, got {len(rewards)} rewards, "
                         f"{len(outcomes)} outcomes and {len(groups)} group ids")
    _, group_index = np.unique(np.array([str(g) for g in groups], dtype=object).astype(str), return_inverse=True)
    freq = group_frequencies(outcome_keys(outcomes), group_index)
    return ips_rewards(rewards, freq, alpha=alpha, eps=eps), freq
