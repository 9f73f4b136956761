"""Per-task training and evaluation shared by the benchmark scripts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from ips_agents.evaluation import exact_outcome_distribution, expected_recovery, outcome_report, recovery_at
from ips_agents.tracking import train_tracked


def pick_tasks(env_id: str, n: int, env_kwargs: Mapping[str, Any] | None = None, seed: int = 0,
               min_admissible: int = 2) -> list[dict[str, Any]]:
    """``n`` distinct tasks the env samples (seeded), each with at least ``min_admissible`` admissible outcomes."""
    env = gym.make(env_id, **dict(env_kwargs or {})).unwrapped
    rng = np.random.default_rng(seed)
    tasks: list[dict[str, Any]] = []
    for _ in range(100 * n):
        task = env.kernel.sample_task(rng)
        if task not in tasks and len(env.kernel.outcome_rewards(task) or {}) >= min_admissible:
            tasks.append(task)
        if len(tasks) == n:
            break
    return tasks


def task_metrics(model: Any, env: gym.Env, task: Mapping[str, Any], multiples: Sequence[int], seed: int,
                 dist: Mapping[str, float] | None = None) -> dict[str, Any]:
    """A trained ``model`` on one task: sampled RR@m|H| (``rr``), its expectation under the exact outcome
    distribution (``rr_exact``), exact TV and L1 to the target, the RR curve and |H|.

    ``dist`` is the model's exact outcome distribution on ``task`` when already computed.
    """
    env.reset(options={"task": dict(task)})
    target = env.unwrapped.target_distribution()
    rates, curve = recovery_at(model, env, task, multiples, seed)
    if dist is None:
        dist = exact_outcome_distribution(model, env, task)
    report = outcome_report(dist, target)
    return {"rr": rates, "rr_exact": {m: expected_recovery(dist, target, m * len(target)) for m in multiples},
            "tv": report["tv"], "l1": report["l1"], "curve": curve, "n_admissible": len(target)}


def evaluate_per_task(label: str, algo: type, env_id: str, tasks: Sequence[Mapping[str, Any]], seeds: int,
                      trajectories: int, multiples: Sequence[int] = (1, 5), env_kwargs: Mapping[str, Any] | None = None,
                      **algo_kwargs: Any) -> dict[str, Any]:
    """Train one policy per (task, seed); mean RR@m|H| for each m (sampled, ``rr``, and expected from the exact
    distribution, ``rr_exact``), mean exact TV/L1, mean training seconds, and every run's ``(RR curve, |H|)``."""
    rr: dict[int, list[float]] = {m: [] for m in multiples}
    rr_exact: dict[int, list[float]] = {m: [] for m in multiples}
    tv, l1, secs, curves = [], [], [], []
    for seed in range(seeds):
        for task in tasks:
            run = train_tracked(label, algo, env_id, trajectories, evals=1, env_kwargs=env_kwargs, task=task,
                                seed=seed, **algo_kwargs)
            env = gym.make(env_id, **dict(env_kwargs or {}))
            res = task_metrics(run.model, env, task, multiples, seed, dist=run.final.dist)
            for m in multiples:
                rr[m].append(res["rr"][m])
                rr_exact[m].append(res["rr_exact"][m])
            tv.append(res["tv"])
            l1.append(res["l1"])
            secs.append(run.final.seconds)
            curves.append((res["curve"], res["n_admissible"]))
    return {"rr": {m: float(np.mean(v)) for m, v in rr.items()},
            "rr_exact": {m: float(np.mean(v)) for m, v in rr_exact.items()}, "tv": float(np.mean(tv)),
            "l1": float(np.mean(l1)), "seconds": float(np.mean(secs)), "runs": len(tv), "curves": curves}


def ceiling(env_id: str, tasks: Sequence[Mapping[str, Any]], multiples: Sequence[float],
            env_kwargs: Mapping[str, Any] | None = None) -> np.ndarray:
    """Mean expected RR after m|H| samples of a perfect sampler (the target itself), for each m in ``multiples``."""
    env = gym.make(env_id, **dict(env_kwargs or {}))
    out = []
    for task in tasks:
        env.reset(options={"task": dict(task)})
        target = env.unwrapped.target_distribution()
        out.append([expected_recovery(target, target, m * len(target)) for m in multiples])
    return np.mean(out, axis=0)
