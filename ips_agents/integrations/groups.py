"""Inverse probability scaling of rewards grouped by prompt, shared by the TRL and verl integrations.

Both trainers hand a reward function a flat batch of completions; what differs is how the groups are marked
(TRL: consecutive runs of ``num_generations``; verl: a ``uid`` per prompt). :func:`scale_by_group` takes the
rewards, outcome keys and group ids of such a batch and returns ``r / max(p, eps) ** alpha`` with ``p`` the
outcome's share of its group. Needs numpy only (no TRL, no verl), so the verl venv can import it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

try:  # the IPS arithmetic lives in ips_agents.estimators (formerly ips_agents.estimators)
    from ips_agents.estimators import group_frequencies, ips_rewards
except ImportError:  # pragma: no cover - before the move
    from ips_agents.estimators import group_frequencies, ips_rewards

NO_ANSWER = "\x00no answer"
"""Outcome counted for completions without a parsed answer (their reward is 0, so their weight never matters)."""

__all__ = ["NO_ANSWER", "PROPENSITY_RULES", "group_frequencies", "ips_rewards", "outcome_keys", "scale_by_group",
           "sequence_propensities"]

PROPENSITY_RULES = ("count", "mass", "max", "singleton_mass")
"""Ways :func:`sequence_propensities` estimates ``p(o)`` from a group (see there)."""


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


def sequence_propensities(outcomes: Sequence[Hashable | None], groups: Sequence[Hashable],
                          sequences: Sequence[Hashable], logprobs: Sequence[float], rule: str = "mass") -> np.ndarray:
    """Each sample's outcome probability estimated from its group's sampled sequences and their log-probabilities.

    For an outcome ``o`` of a group of ``G``: ``count`` = ``n_o / G`` (what IPS-GRPO uses), ``mass`` = the summed
    probability ``sum exp(logprob(y))`` of the *distinct* sampled sequences ``y`` that read as ``o`` (a lower
    bound of ``p(o)`` that, unlike the count, can be far below ``1 / G``), ``max`` = the larger of the two,
    ``singleton_mass`` = ``mass`` for an outcome sampled once and ``count`` otherwise.

    Args:
        outcomes: outcome key per sample (``None``: no answer).
        groups: group id per sample (one prompt's completions).
        sequences: a hashable identity of each sample's text (its token ids or string): equal sequences
            count once in ``mass``.
        logprobs: ``log pi(y | prompt)`` of each sample's whole sequence.
        rule: one of :data:`PROPENSITY_RULES`.
    """
    if rule not in PROPENSITY_RULES:
        raise ValueError(f"rule must be one of {PROPENSITY_RULES}, got {rule!r}")
    n = len(outcomes)
    if not len(groups) == len(sequences) == len(logprobs) == n:
        raise ValueError(f"need one group, sequence and log-probability per outcome, got {n} outcomes, {len(groups)} "
                         f"groups, {len(sequences)} sequences and {len(logprobs)} log-probabilities")
    keys = outcome_keys(outcomes)
    logprobs = np.asarray(logprobs, dtype=np.float64)
    if np.any(logprobs > 1e-6):
        raise ValueError(f"log-probabilities must be <= 0, got a maximum of {logprobs.max()}")
    members: dict[tuple[str, str], list[int]] = {}
    sizes: dict[str, int] = {}
    for i, (g, o) in enumerate(zip(map(str, groups), keys, strict=True)):
        members.setdefault((g, o), []).append(i)
        sizes[g] = sizes.get(g, 0) + 1
    out = np.empty(n, dtype=np.float64)
    for (g, _), idx in members.items():
        count = len(idx) / sizes[g]
        distinct = {sequences[i]: logprobs[i] for i in idx}
        mass = min(1.0, max(float(np.exp(list(distinct.values())).sum()), np.finfo(np.float64).tiny))
        value = {"count": count, "mass": mass, "max": max(count, mass),
                 "singleton_mass": mass if len(idx) == 1 else count}[rule]
        out[idx] = value
    return out
