"""The IPS arithmetic of IPS-GRPO as small pure numpy functions (no torch, no SB3).

Pipeline for one batch of ``B`` groups of ``G`` trajectories (flat arrays of length ``B * G``):

1. :func:`group_frequencies` (the paper's Eq. 9: ``p_hat(o) = #{g: o_g = o} / G``) or an exact
   propensity (the trajectory probability when every outcome has one construction path);
2. :func:`ips_rewards`: ``r / max(p, eps) ** alpha`` (``alpha = 0`` is plain GRPO);
3. :func:`group_advantages`: subtract the group mean, optionally divide by a group or batch std.
"""

from __future__ import annotations

import numpy as np

ADVANTAGE_NORMS = ("group", "batch", "none")


def _check_groups(groups: np.ndarray, n: int) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
    return groups


def group_frequencies(outcomes: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Fraction of its group that shares each sample's outcome.

    Args:
        outcomes: outcome keys (any hashable dtype numpy can sort: str, int) ``[N]``.
        groups: group id of each sample ``[N]``.

    Returns:
        float64 ``[N]``: ``#{j in group(i): outcome_j == outcome_i} / |group(i)|``.
    """
    outcomes = np.asarray(outcomes)
    groups = _check_groups(groups, len(outcomes))
    _, g_idx, g_size = np.unique(groups, return_inverse=True, return_counts=True)
    _, o_idx = np.unique(outcomes, return_inverse=True)
    pair = g_idx.reshape(-1).astype(np.int64) * (o_idx.max(initial=0) + 1) + o_idx.reshape(-1)
    _, pair_idx, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
    return pair_count[pair_idx.reshape(-1)] / g_size[g_idx.reshape(-1)]


def ips_rewards(rewards: np.ndarray, propensities: np.ndarray, alpha: float = 1.0, eps: float = 0.1) -> np.ndarray:
    """Inverse-probability-scaled rewards ``r / max(p, eps) ** alpha``.

    Args:
        rewards: terminal rewards ``[N]`` (>= 0).
        propensities: estimated outcome probabilities ``[N]`` in (0, 1].
        alpha: tempering exponent in [0, 1]; 0 returns ``rewards`` unchanged (GRPO), 1 is IPS.
        eps: probability floor in (0, 1] bounding the weight at ``1 / eps ** alpha``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if not 0.0 < eps <= 1.0:
        raise ValueError(f"eps must be in (0, 1], got {eps}")
    rewards = np.asarray(rewards, dtype=np.float64)
    p = np.maximum(np.asarray(propensities, dtype=np.float64), eps)
    return rewards / p**alpha


def group_advantages(
    values: np.ndarray, groups: np.ndarray, norm: str = "group", delta: float = 1e-8
) -> np.ndarray:
    """GRPO advantages: ``(x - mean_group) / (std + delta)``.

    Args:
        values: per-trajectory (scaled) rewards ``[N]``.
        groups: group id of each trajectory ``[N]``.
        norm: ``"group"`` divides by the group's std, ``"batch"`` by the std over the whole batch of the
            group-centred values, ``"none"`` only subtracts the group mean.
        delta: added to the std; a group whose values are all equal gets advantage 0 (never NaN).
    """
    if norm not in ADVANTAGE_NORMS:
        raise ValueError(f"advantage_norm must be one of {list(ADVANTAGE_NORMS)}, got {norm!r}")
    values = np.asarray(values, dtype=np.float64)
    groups = _check_groups(groups, len(values))
    _, g_idx, g_size = np.unique(groups, return_inverse=True, return_counts=True)
    g_idx = g_idx.reshape(-1)
    mean = np.bincount(g_idx, weights=values) / g_size
    centred = values - mean[g_idx]
    # a group of equal values has advantage exactly 0: the rounding error of its mean must not be divided
    # by its (zero) std and come back as a spurious advantage
    g_max = np.full(len(g_size), -np.inf)
    g_min = np.full(len(g_size), np.inf)
    np.maximum.at(g_max, g_idx, values)
    np.minimum.at(g_min, g_idx, values)
    centred[(g_max == g_min)[g_idx]] = 0.0
    if norm == "none":
        return centred
    if norm == "batch":
        return centred / (centred.std() + delta)
    var = np.bincount(g_idx, weights=centred**2) / g_size
    return centred / (np.sqrt(var)[g_idx] + delta)
