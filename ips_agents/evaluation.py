"""Outcome-level evaluation: exact and sampled outcome distributions, recovery curves, distances."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

import ips_envs
import ips_envs.core.enumeration
from ips_envs.core.kernel import INVALID_OUTCOME, PRUNED_OUTCOME
from ips_envs.core.validation import check_int


def policy_probs_fn(model: Any):
    """``(obs, masks) -> probs`` for :func:`ips_envs.exact_outcome_distribution`, from a model or a policy."""
    policy = getattr(model, "policy", model)

    def probs(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        policy.set_training_mode(False)
        with th.no_grad():
            out = []
            for start in range(0, len(masks), 65_536):
                sl = slice(start, start + 65_536)
                obs_t = policy.obs_to_tensor(obs[sl])[0]
                out.append(policy.action_probs(obs_t, masks[sl]).cpu().numpy().astype(np.float64))
        return np.concatenate(out)

    return probs


def _single_env(env: Any, **kwargs: Any) -> Any:
    if isinstance(env, str):
        env = gym.make(env, **kwargs)
    return env.unwrapped


def exact_outcome_distribution(model: Any, env: Any, task: Mapping[str, Any] | None = None,
                               min_mass: float = 0.0) -> dict[str, float]:
    """Exact outcome distribution of ``model``'s policy on ``task`` (default: the env's current task).

    ``env`` is an ``IPS/`` env or id (the task must be enumerable by dynamic programming). ``min_mass > 0``
    drops states reached with probability below it and reports their mass under
    :data:`~ips_envs.core.kernel.PRUNED_OUTCOME` (see :func:`ips_envs.exact_outcome_distribution`).
    """
    base = _single_env(env)
    if task is None and getattr(base, "_task", None) is None and getattr(base, "fixed_task", None) is None:
        raise ValueError("the env has no task yet: pass task=, make the env with task=..., or reset it first")
    return ips_envs.exact_outcome_distribution(base, policy_probs_fn(model), task=task, min_mass=min_mass)


def sample_outcomes(
    model: Any,
    env: Any,
    n: int,
    task: Mapping[str, Any] | None = None,
    seed: int | None = None,
    deterministic: bool = False,
    batch_size: int = 4096,
    return_valid: bool = False,
) -> list[str] | tuple[list[str], np.ndarray]:
    """``n`` outcome keys sampled from ``model`` on one task (batched through the env's vector face).

    ``env`` is an id or an ``IPS/`` env (its spec kwargs are reused); ``task`` defaults to the env's current task.
    With ``return_valid=True`` the result is ``(outcomes, valid)``, ``valid`` the env's ``info["valid"]`` flag of
    each episode (bool array): the only reliable validity (an invalid SMILES has an outcome key too).
    """
    n = check_int("n", n, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(env, str):
        env_id, kwargs = env, {}
    else:
        spec = env.spec if env.spec is not None else env.unwrapped.spec
        env_id, kwargs = spec.id, {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
        if task is None and getattr(env.unwrapped, "_task", None) is not None:
            task = env.unwrapped.task
    policy = getattr(model, "policy", model)
    torch_state = th.random.get_rng_state()
    if seed is not None:
        th.manual_seed(seed)
    outcomes: list[str] = []
    valid_parts: list[np.ndarray] = []
    try:
        while len(outcomes) < n:
            m = min(batch_size, n - len(outcomes))
            envs = gym.make_vec(env_id, num_envs=m, **kwargs)
            options = None if task is None else {"task": task}
            obs, info = envs.reset(seed=seed, options=options)
            masks = info["action_mask"]
            done = np.zeros(m, dtype=bool)
            got = np.full(m, "", dtype=object)
            ok = np.zeros(m, dtype=bool)
            while not done.all():
                actions = masks.argmax(axis=1)
                live = np.flatnonzero(~done)
                act, _ = policy.predict(obs[live], deterministic=deterministic, action_masks=masks[live])
                actions[live] = act
                obs, _, term, trunc, info = envs.step(actions)
                ended = (term | trunc) & ~done
                got[ended] = info["outcome"][ended]
                ok[ended] = np.asarray(info["valid"], dtype=bool)[ended]
                done |= term | trunc
                masks = info["action_mask"]
            envs.close()
            outcomes.extend(got.tolist())
            valid_parts.append(ok)
            seed = None if seed is None else seed + m
    finally:
        if seed is not None:
            th.random.set_rng_state(torch_state)
    if return_valid:
        return outcomes, np.concatenate(valid_parts) if valid_parts else np.zeros(0, dtype=bool)
    return outcomes


def recovery_curve(outcomes: Sequence[str], admissible: Iterable[str]) -> np.ndarray:
    """RR(S) for S = 1..len(outcomes): distinct admissible outcomes among the first S, over |admissible|."""
    admissible = set(admissible)
    if not admissible:
        raise ValueError("the admissible set is empty")
    seen: set[str] = set()
    curve = np.empty(len(outcomes))
    for i, o in enumerate(outcomes):
        if o in admissible:
            seen.add(o)
        curve[i] = len(seen)
    return curve / len(admissible)


def mean_recovery_curve(curves: Sequence[tuple[np.ndarray, int]], multiples: np.ndarray) -> np.ndarray:
    """Mean RR over runs on a common grid of S / |admissible| (``multiples``), for tasks of different sizes.

    Each run is ``(curve, n_admissible)`` with ``curve[i]`` the RR after ``i + 1`` samples; RR(0) = 0 and
    values between sample counts are interpolated linearly (beyond a curve's end its last value is kept).
    """
    if not curves:
        raise ValueError("no curves to average")
    rows = []
    for curve, n in curves:
        if n < 1:
            raise ValueError(f"n_admissible must be >= 1, got {n}")
        curve = np.asarray(curve, dtype=np.float64)
        x = np.arange(len(curve) + 1) / n
        rows.append(np.interp(multiples, x, np.concatenate([[0.0], curve])))
    return np.mean(rows, axis=0)


def recovery_rate(outcomes: Sequence[str], admissible: Iterable[str]) -> float:
    """Fraction of the admissible set found among ``outcomes``."""
    return float(recovery_curve(outcomes, admissible)[-1]) if len(outcomes) else 0.0


def expected_recovery(dist: Mapping[str, float], admissible: Iterable[str], samples: float) -> float:
    """Expected RR after ``samples`` i.i.d. draws from ``dist``: mean over admissible h of 1 - (1 - P(h))^samples.

    Exact (no sampling noise). Even ``dist`` = uniform over H stays below 1: about 1 - e^-5 = 0.993 at
    ``samples = 5|H|`` for large H, which is the ceiling of RR@5|H|.
    """
    admissible = list(admissible)
    if not admissible:
        raise ValueError("admissible set is empty")
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    p = np.clip(np.array([dist.get(h, 0.0) for h in admissible], dtype=np.float64), 0.0, 1.0)
    return float(np.mean(1.0 - (1.0 - p) ** samples))


def distinct_valid(outcomes: Iterable[str], admissible: Iterable[str]) -> int:
    """Number of distinct admissible outcomes among ``outcomes``."""
    return len(set(outcomes) & set(admissible))


def empirical_distribution(outcomes: Sequence[str]) -> dict[str, float]:
    """Outcome frequencies of a sample."""
    counts = Counter(outcomes)
    return {k: c / len(outcomes) for k, c in counts.items()}


def _aligned(p: Mapping[str, float], q: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(p) | set(q))
    return np.array([p.get(k, 0.0) for k in keys]), np.array([q.get(k, 0.0) for k in keys])


def l1_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Sum over outcomes of |p - q| (in [0, 2])."""
    a, b = _aligned(p, q)
    return float(np.abs(a - b).sum())


def tv_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance: half the L1 distance (in [0, 1])."""
    return 0.5 * l1_distance(p, q)


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence in nats (in [0, ln 2])."""
    a, b = _aligned(p, q)
    m = 0.5 * (a + b)

    def kl(x: np.ndarray) -> float:
        nz = (x > 0) & (m > 0)  # m can underflow to 0 where x is subnormal
        return float((x[nz] * np.log(x[nz] / m[nz])).sum())

    return 0.5 * kl(a) + 0.5 * kl(b)


def outcome_report(dist: Mapping[str, float], target: Mapping[str, float]) -> dict[str, float]:
    """Exact distances of an outcome distribution to the target, plus the mass on valid outcomes."""
    return {
        "l1": l1_distance(dist, target),
        "tv": tv_distance(dist, target),
        "jsd": js_divergence(dist, target),
        "valid_mass": float(sum(p for k, p in dist.items() if k in target)),
        "invalid_action_mass": float(dist.get(INVALID_OUTCOME, 0.0)),
        "pruned_mass": float(dist.get(PRUNED_OUTCOME, 0.0)),
        "support": float(sum(1 for k in target if dist.get(k, 0.0) > 1e-6)),
    }


def recovery_at(model: Any, env: Any, task: Mapping[str, Any], multiples: Sequence[int] = (1, 5), seed: int = 0
                ) -> tuple[dict[int, float], np.ndarray]:
    """RR at ``m * |admissible|`` samples for each ``m`` in ``multiples``, and the whole curve.

    One sample of ``max(multiples) * |admissible|`` outcomes is drawn; RR@m|H| reads its prefixes.
    """
    base = _single_env(env)
    admissible = ips_envs.core.enumeration.admissible_outcomes(base.kernel, base.kernel.validate_task(task))
    samples = sample_outcomes(model, env, max(multiples) * len(admissible), task=task, seed=seed)
    curve = recovery_curve(samples, admissible)
    return {m: float(curve[m * len(admissible) - 1]) for m in multiples}, curve


# ------------------------------------------------------------------------------------ HypoSpace's metrics
HYPOSPACE_METRICS = ("validity", "uniqueness", "recovery", "valid_unique", "parse_rate")
"""Per-task scores of :func:`hypospace_scores`, in report order."""


def hypospace_queries(n_admissible: int, multiplier: float = 1.0) -> int:
    """HypoSpace's number of queries for a task: ``N = max(1, int(|H| * multiplier))``."""
    if isinstance(n_admissible, bool) or not isinstance(n_admissible, int | np.integer) or n_admissible < 1:
        raise ValueError(f"n_admissible must be a positive integer, got {n_admissible!r}")
    if not np.isfinite(multiplier) or multiplier <= 0:
        raise ValueError(f"multiplier must be a positive number, got {multiplier!r}")
    return max(1, int(n_admissible * multiplier))


def _proposal(item: Any, admissible: frozenset[str]) -> tuple[str | None, bool]:
    """``(outcome or None, valid)`` of a proposal: a parse result (``.outcome``, ``.valid``), an
    ``(outcome, valid)`` pair, or an outcome key (valid when admissible; None / ``"<invalid>"`` = unparsed)."""
    if hasattr(item, "outcome") and hasattr(item, "valid"):
        return item.outcome, bool(item.valid)
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], bool(item[1])
    if item is None or item == INVALID_OUTCOME:
        return None, False
    if isinstance(item, str):
        return item, item in admissible
    raise ValueError(f"a proposal is a parse result, an (outcome, valid) pair or an outcome key; got {item!r}")


def hypospace_scores(proposals: Sequence[Any], admissible: Iterable[str], n_queries: int | None = None
                     ) -> dict[str, float]:
    """HypoSpace's per-task rates of a list of proposals, with its definitions (Chen et al. 2025).

    Args:
        proposals: one entry per query answered, in order: parse results (``.outcome``, ``.valid``, e.g.
            from :meth:`ips_envs.text.TextFace.parse`), ``(outcome, valid)`` pairs, or outcome keys (valid when
            admissible); an unparsed answer has outcome None.
        admissible: the task's admissible set ``H``.
        n_queries: ``N``, the queries asked (default ``len(proposals)``; queries that got no answer at all
            count in ``N`` without a proposal). Use :func:`hypospace_queries` for ``max(1, int(|H| * m))``.

    Returns:
        ``validity`` = #valid proposals (duplicates count) / N; ``uniqueness`` (HypoSpace's "novelty rate") =
        #distinct outcomes among parsed proposals, valid or not / N; ``recovery`` = |distinct valid proposals
        ∩ H| / |H|; ``valid_unique`` (ours) = #distinct valid proposals / N, which, unlike uniqueness, gives no
        credit for distinct wrong answers; ``parse_rate`` = #parsed proposals / N; and ``n_queries``.
    """
    admissible = frozenset(admissible)
    if not admissible:
        raise ValueError("the admissible set is empty")
    n = len(proposals) if n_queries is None else n_queries
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n_queries must be a positive integer, got {n!r}")
    if len(proposals) > n:
        raise ValueError(f"{len(proposals)} proposals for n_queries={n}: at most one proposal per query")
    pairs = [_proposal(p, admissible) for p in proposals]
    parsed = [o for o, _ in pairs if o is not None]
    valid = [o for o, ok in pairs if ok and o is not None]
    return {
        "validity": len(valid) / n,
        "uniqueness": len(set(parsed)) / n,
        "recovery": len(set(valid) & admissible) / len(admissible),
        "valid_unique": len(set(valid)) / n,
        "parse_rate": len(parsed) / n,
        "n_queries": float(n),
    }


def hypospace_summary(per_task: Sequence[Mapping[str, float]], metrics: Sequence[str] = HYPOSPACE_METRICS
                      ) -> dict[str, dict[str, float]]:
    """HypoSpace's aggregation over tasks: unweighted mean, std (population, as ``np.std``), min and max."""
    if not per_task:
        raise ValueError("no per-task scores to summarise")
    out = {}
    for m in metrics:
        values = np.array([float(s[m]) for s in per_task])
        out[m] = {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
                  "max": float(values.max())}
    return out
