"""The IPS arithmetic of IPS-GRPO as small pure numpy functions (no torch, no SB3).

Pipeline for one batch of ``B`` groups of ``G`` trajectories (flat arrays of length ``B * G``):

1. a propensity per trajectory from one of the :data:`ESTIMATORS`, chosen by name
   (:func:`propensities`): the paper's in-group count, or one computed from the trajectory probability;
2. :func:`ips_rewards`: ``r / max(p, eps) ** alpha`` (``alpha = 0`` is plain GRPO);
3. :func:`group_advantages`: subtract the group mean, optionally divide by a group or batch std.

The estimators
--------------
``"count"`` (the paper's Eq. 9): ``p_hat(o) = #{g: o_g = o} / G``, the outcome's frequency in its group.
Needs nothing from the env, but it is at least ``1/G`` for every sampled outcome, so it cannot tell an
outcome of probability ``1e-4`` from one of ``1/G``: rare outcomes are under-weighted until they are common.

``"paths"``: ``q(tau) = n(o) * p(tau)``, where ``p(tau)`` is the probability of the sampled trajectory under
the behaviour policy and ``n(o)`` the number of construction paths (under the env's masks) that end in its
outcome ``o`` (``info["path_count"]`` at termination). Derivation of its fixed point (``alpha = 1``, no
floor): the IPS policy gradient is

    E_tau[ r(o) / (n(o) p(tau)) * grad log p(tau) ] = sum_tau p(tau) r(o) / (n(o) p(tau)) grad log p(tau)
                                                   = sum_tau (r(o) / n(o)) grad log p(tau),

the gradient of the cross-entropy ``sum_tau w(tau) log p(tau)`` with weights ``w(tau) = r(o) / n(o)``.
Over the simplex of path distributions its maximiser is ``p*(tau) = w(tau) / sum w``; the outcome marginal
is then ``sum_{tau -> o} p*(tau) = n(o) * (r(o) / n(o)) / Z = r(o) / Z`` with ``Z = sum_o r(o)``: the
reward-proportional target, whatever the path counts. On a state graph whose states determine their
completions a Markov policy reaches every path distribution that depends only on the end state
(``P(s'|s) = F(s') / F(s)``, ``F`` the summed weight of the completions of a state), so the fixed point is
attainable by the policy class. Group-mean centring keeps the fixed point: ``x_i - mean_j x_j`` is
``(1 - 1/G) x_i`` minus a sum over the other members, whose expectation given ``tau_i`` times
``grad log p(tau_i)`` is zero, so the expected gradient is only scaled by ``1 - 1/G``. When every outcome has one path (``unique_paths``), ``n = 1`` and ``q`` is
the exact outcome probability.

``"exact"``: ``p(tau)``, allowed only where the env declares ``unique_paths`` (there it equals ``"paths"``).

``"trajectory"``: ``p(tau)`` with no requirement. Where outcomes are sequences (a SMILES string is its
token sequence), ``p(tau)`` is the probability of the sampled string. Where several paths reach one outcome
it is a lower bound on the outcome probability, and its fixed point is ``p(tau) proportional to r(o)`` per
path, i.e. outcome mass ``n(o) r(o) / sum n r`` (it then favours outcomes with many paths).

Cost per update: ``"count"`` is one sort of the ``B*G`` outcome keys; the other three use the summed
behaviour log-probabilities the sampler already keeps (and, for ``"paths"``, one integer per trajectory
that the env reports at termination): no extra policy forward, no extra env step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADVANTAGE_NORMS = ("group", "batch", "none")


@dataclass(frozen=True)
class Estimator:
    """A propensity estimator of IPS-GRPO.

    Attributes:
        name: its name in :data:`ESTIMATORS` (the ``ips_estimator`` argument of IPSGRPO).
        requires: what the env must provide: ``None``, ``"unique_paths"`` (one construction path per outcome)
            or ``"path_counts"`` (``info["path_count"]`` at termination).
        from_probabilities: True when the propensity is computed from the trajectory probability (then a
            tiny floor ``eps`` only guards against underflow, and advantages need no std normalisation).
        summary: one line for docs and error messages.
    """

    name: str
    requires: str | None
    from_probabilities: bool
    summary: str


ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator("count", None, False, "in-group frequency of the outcome (the paper's Eq. 9)"),
        Estimator("paths", "path_counts", True, "n(o) * p(tau): path count of the outcome times trajectory probability"),
        Estimator("exact", "unique_paths", True, "p(tau), the outcome probability when every outcome has one path"),
        Estimator("trajectory", None, True, "p(tau), the probability of the sampled trajectory (e.g. a SMILES string)"),
    )
}
"""Every estimator by name."""


def get_estimator(name: str) -> Estimator:
    """The estimator called ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise ValueError(f"ips_estimator must be one of {list(ESTIMATORS)}, got {name!r}")
    return ESTIMATORS[name]


def path_propensities(traj_log_probs: np.ndarray, path_counts: np.ndarray) -> np.ndarray:
    """``n(o) * p(tau)`` computed as ``exp(log n + log p)`` (no overflow for large counts).

    Args:
        traj_log_probs: summed behaviour log-probabilities of each trajectory ``[N]``.
        path_counts: path count of each trajectory's outcome ``[N]`` (>= 0; 0 marks an invalid-action ending,
            whose propensity is then 0 and only ever meets reward 0).
    """
    logp = np.asarray(traj_log_probs, dtype=np.float64)
    counts = np.asarray(path_counts, dtype=np.float64)
    if counts.shape != logp.shape:
        raise ValueError(f"path_counts must have shape {logp.shape}, got {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        bad = counts[(counts < 0) | ~np.isfinite(counts)][0]
        raise ValueError(f"path counts must be finite and >= 0, got {bad!r}")
    out = np.zeros_like(logp)
    pos = counts > 0
    out[pos] = np.exp(np.log(counts[pos]) + logp[pos])
    return out


def propensities(
    name: str,
    outcomes: np.ndarray,
    groups: np.ndarray,
    traj_log_probs: np.ndarray,
    path_counts: np.ndarray | None = None,
) -> np.ndarray:
    """The propensity of every trajectory under the estimator ``name`` (see :data:`ESTIMATORS`).

    Args:
        name: ``"count"``, ``"paths"``, ``"exact"`` or ``"trajectory"``.
        outcomes: outcome keys ``[N]``.
        groups: group id of each trajectory ``[N]``.
        traj_log_probs: summed behaviour log-probabilities ``[N]``.
        path_counts: path counts of the outcomes ``[N]`` (required by ``"paths"``).
    """
    est = get_estimator(name)
    if est.name == "count":
        return group_frequencies(np.asarray(outcomes).astype(str), groups)
    if est.name == "paths":
        if path_counts is None:
            raise ValueError("ips_estimator='paths' needs the path count of every outcome (info['path_count'])")
        return path_propensities(traj_log_probs, path_counts)
    return np.exp(np.asarray(traj_log_probs, dtype=np.float64))


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


def off_policy_advantages(
    scaled: np.ndarray,
    traj_log_probs: np.ndarray,
    behaviour_log_probs: np.ndarray,
    groups: np.ndarray,
    norm: str = "none",
    delta: float = 1e-8,
) -> np.ndarray:
    """Advantages of trajectories sampled from a behaviour policy ``q`` instead of the policy ``p`` (exact correction).

    With importance weights ``w = p(tau) / q(tau)`` (both known exactly: ``q`` is the policy mixed with a known
    exploration distribution), ``E_q[w (x - b) grad log p] = E_p[(x - b) grad log p]`` for any ``b`` that does not
    depend on the sample, so the on-policy gradient and its fixed point are kept. For IPS with path counts
    (``x = r / (n(o) p(tau))``) the weighted value is ``w x = r(o) / (n(o) q(tau))``: the policy's own probability
    drops out, and an outcome the policy has almost lost but ``q`` still samples gets its full weight back (the
    on-policy estimate never sees it). The baseline is the group mean of ``w x`` (an estimate of ``E_p[x]``, which
    is ``Z`` at the IPS fixed point); the advantage is ``w_i (x_i - b_g)``, then optionally divided by the group or
    batch std as in :func:`group_advantages`.

    Args:
        scaled: per-trajectory (scaled) rewards ``x`` ``[N]``.
        traj_log_probs: ``log p(tau)`` under the policy that sampled the batch ``[N]``.
        behaviour_log_probs: ``log q(tau)`` under the behaviour policy ``[N]``.
        groups: group id of each trajectory ``[N]``.
        norm: ``"none"``, ``"group"`` or ``"batch"`` (see :func:`group_advantages`).
        delta: added to the std.
    """
    if norm not in ADVANTAGE_NORMS:
        raise ValueError(f"advantage_norm must be one of {list(ADVANTAGE_NORMS)}, got {norm!r}")
    x = np.asarray(scaled, dtype=np.float64)
    log_w = np.asarray(traj_log_probs, dtype=np.float64) - np.asarray(behaviour_log_probs, dtype=np.float64)
    if log_w.shape != x.shape:
        raise ValueError(f"log-probabilities must have shape {x.shape}, got {log_w.shape}")
    groups = _check_groups(groups, len(x))
    w = np.exp(log_w)
    _, g_idx, g_size = np.unique(groups, return_inverse=True, return_counts=True)
    g_idx = g_idx.reshape(-1)
    baseline = np.bincount(g_idx, weights=w * x) / g_size
    adv = w * (x - baseline[g_idx])
    if norm == "none":
        return adv
    if norm == "batch":
        return adv / (adv.std() + delta)
    var = np.bincount(g_idx, weights=(adv - (np.bincount(g_idx, weights=adv) / g_size)[g_idx]) ** 2) / g_size
    return adv / (np.sqrt(var)[g_idx] + delta)
