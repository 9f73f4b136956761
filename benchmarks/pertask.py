"""Per-task training and evaluation shared by the benchmark scripts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from ips_agents.evaluation import expected_recovery, recovery_at
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
            rates, curve = recovery_at(run.model, env, task, multiples, seed)
            env.reset(options={"task": dict(task)})
            admissible = list(env.unwrapped.target_distribution())
            for m in multiples:
                rr[m].append(rates[m])
                rr_exact[m].append(expected_recovery(run.final.dist, admissible, m * len(admissible)))
            tv.append(run.final.report["tv"])
            l1.append(run.final.report["l1"])
            secs.append(run.final.seconds)
            curves.append((curve, len(admissible)))
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
