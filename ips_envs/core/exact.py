"""Exact terminal-outcome distribution of a policy, by dynamic programming over the state graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ips_envs.core.kernel import INVALID_OUTCOME, PRUNED_OUTCOME, take
from ips_envs.core.validation import check_float, check_int

PolicyProbs = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(observations [M, ...], masks [M, A]) -> action probabilities [M, A]``."""


def _merge(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of ``keys`` (first index of each) and the summed weights per unique row."""
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first, np.bincount(inverse.reshape(-1), weights=weights, minlength=len(first))


PROB_SUM_TOLERANCE = 1e-4
"""How far a row of ``policy_probs`` may sum from 1 (float32 softmax rounding is far below it)."""


def _check_probabilities(probs: np.ndarray, normalized: bool = True) -> None:
    """Raise ValueError naming the first row that is not a probability vector (finite, >= 0, sums to 1)."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1)
        if normalized:
            bad |= ~(np.abs(probs.sum(axis=1) - 1.0) <= PROB_SUM_TOLERANCE)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = f"a probability vector (finite, >= 0, summing to 1 within {PROB_SUM_TOLERANCE})" if normalized \
            else "a vector of finite weights >= 0"
        raise ValueError(f"policy_probs row {i} is not {what}: {probs[i].tolist()} (sum {probs[i].sum()})")


def exact_outcome_distribution(
    env: Any,
    policy_probs: PolicyProbs,
    task: Mapping[str, Any] | None = None,
    max_states: int = 2_000_000,
    normalized: bool = True,
    min_mass: float = 0.0,
) -> dict[str, float]:
    """The exact probability of every terminal outcome when ``policy_probs`` acts in ``env``.

    The states reachable from the start of ``task`` (default: the env's current task) are expanded
    layer by layer (one layer per step); equal states are merged, so the cost is the number of distinct
    reachable states, each evaluated once by one batched ``policy_probs`` call per layer.

    Probability that the policy puts on masked-out actions is reported under
    :data:`~ips_envs.core.kernel.INVALID_OUTCOME` (an episode that ends on an invalid action).

    With ``min_mass > 0`` the programme drops every unfinished state whose probability of being reached is
    below ``min_mass`` (for prefix trees too large to expand whole in the time at hand; Boolean expressions
    over 3 variables at depth 3, 1.2 million prefixes in 15 layers, are still expanded whole without it). The
    dropped probability is reported under
    :data:`~ips_envs.core.kernel.PRUNED_OUTCOME`, so the values still sum to 1 and every other value is a lower
    bound on the exact one, short of it by at most the pruned mass ``m`` in total. For any target ``q`` that
    gives no mass to the sentinel, the total-variation distance of the returned distribution is an upper
    bound on the exact one and at most ``m`` above it (moving mass ``m`` onto an outcome outside the target
    raises the TV by at most ``m``, and never lowers it).

    Args:
        env: an ``IPS/`` env (wrapped or not) built on a :class:`~ips_envs.core.kernel.Kernel`.
        policy_probs: maps a batch of observations and bool masks to action probabilities.
        task: the task to evaluate; default ``env.unwrapped.task`` (or the ``task=`` the env was made with,
            before its first reset).
        max_states: refuse (RuntimeError) when a layer holds more distinct states than this.
        normalized: when False, rows may be any finite non-negative weights (e.g. 1 on every legal action,
            which makes the result the number of construction paths of each outcome).
        min_mass: drop unfinished states reached with probability below this (default 0: exact; needs
            ``normalized=True``).

    Raises ValueError when ``policy_probs`` returns a row that is not a probability vector (NaN, infinite or
    negative entries, or, unless ``normalized=False``, a sum further than :data:`PROB_SUM_TOLERANCE` from 1),
    naming the row.

    Returns:
        dict outcome key -> probability; the values sum to 1 up to rounding.
    """
    base = env.unwrapped
    kernel = getattr(base, "kernel", None)
    if kernel is None:
        raise TypeError(f"{type(base).__name__} is not an ips_envs construction env (no .kernel)")
    check_int("max_states", max_states, 1)
    min_mass = check_float("min_mass", min_mass, 0.0, 1.0, high_open=True)
    if min_mass > 0 and not normalized:
        raise ValueError(f"min_mass={min_mass} needs normalized=True (it drops states by their probability)")
    if task is None:
        fixed = getattr(base, "fixed_task", None)
        task = fixed if fixed is not None and getattr(base, "_task", None) is None else base.task
    else:
        task = kernel.validate_task(task)
    layer = kernel.initial_state([task])
    mass = np.ones(1)
    totals: dict[str, float] = {}

    def add(key: str, p: float) -> None:
        totals[key] = totals.get(key, 0.0) + p

    for _ in range(kernel.max_length + 1):
        if len(mass) == 0:
            break
        if len(mass) > max_states:
            raise RuntimeError(f"{len(mass)} distinct states in one layer exceeds max_states={max_states}")
        masks = kernel.legal_actions(layer)
        probs = np.asarray(policy_probs(kernel.observe(layer), masks), dtype=np.float64)
        if probs.shape != masks.shape:
            raise ValueError(f"policy_probs returned shape {probs.shape}, expected {masks.shape}")
        _check_probabilities(probs, normalized)
        lost = float((mass * np.where(masks, 0.0, probs).sum(axis=1)).sum())
        if lost > 0:
            add(INVALID_OUTCOME, lost)
        rows, acts = np.nonzero(masks & (probs > 0))
        children = take(layer, rows)
        weights = mass[rows] * probs[rows, acts]
        ended = kernel.apply(children, acts)
        if ended.any():
            keys, _, _ = kernel.outcomes(take(children, np.flatnonzero(ended)))
            uniq, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
            for key, p in zip(uniq, np.bincount(inverse, weights=weights[ended]), strict=True):
                add(str(key), float(p))
        live = np.flatnonzero(~ended)
        if len(live) == 0:
            layer, mass = children, np.zeros(0)
            break
        children = take(children, live)
        first, mass = _merge(kernel.state_keys(children), weights[live])
        layer = take(children, first)
        if min_mass > 0:
            keep = mass >= min_mass
            if not keep.all():
                add(PRUNED_OUTCOME, float(mass[~keep].sum()))
                layer, mass = take(layer, np.flatnonzero(keep)), mass[keep]
    else:
        if len(mass):
            raise RuntimeError(f"episodes still running after max_length={kernel.max_length} steps")
    return totals
