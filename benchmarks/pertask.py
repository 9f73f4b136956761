"""Per-task training and evaluation shared by the benchmark scripts: one unit of work per (method, seed, task)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from ips_agents.evaluation import exact_outcome_distribution, expected_recovery, outcome_report, recovery_at
from ips_agents.runs.tracking import TrackedRun, train_tracked
from ips_agents.integrations.ray_tune import RayOptions
from ips_agents.runs.units import Unit, run_units


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
                 dist: Mapping[str, float] | None = None, min_mass: float = 0.0) -> dict[str, Any]:
    """A trained ``model`` on one task: sampled RR@m|H| (``rr``), its expectation under the exact outcome
    distribution (``rr_exact``), exact TV and L1 to the target, the RR curve, |H| and the probability the
    exact programme dropped (``pruned``: 0 unless ``min_mass > 0``; TV is then an upper bound, at most
    ``pruned`` above the exact value, and ``rr_exact`` a lower bound).

    ``dist`` is the model's exact outcome distribution on ``task`` when already computed.
    """
    env.reset(options={"task": dict(task)})
    target = env.unwrapped.target_distribution()
    rates, curve = recovery_at(model, env, task, multiples, seed)
    if dist is None:
        dist = exact_outcome_distribution(model, env, task, min_mass=min_mass)
    report = outcome_report(dist, target)
    return {"rr": rates, "rr_exact": {m: expected_recovery(dist, target, m * len(target)) for m in multiples},
            "tv": report["tv"], "l1": report["l1"], "curve": curve, "n_admissible": len(target),
            "pruned": report["pruned_mass"]}


def train_and_evaluate(label: str, algo: type, env_id: str, task: Mapping[str, Any], seed: int, trajectories: int,
                       multiples: Sequence[int] = (1, 5), env_kwargs: Mapping[str, Any] | None = None,
                       algo_kwargs: Mapping[str, Any] | None = None, min_mass: float = 0.0) -> dict[str, Any]:
    """One run (a unit of work): train ``algo`` on ``task`` with ``seed``; :func:`task_metrics` plus ``seconds``
    (``min_mass``: see :func:`task_metrics`)."""
    run = train_tracked(label, algo, env_id, trajectories, evals=1, env_kwargs=env_kwargs, task=task, seed=seed,
                        min_mass=min_mass, **dict(algo_kwargs or {}))
    env = gym.make(env_id, **dict(env_kwargs or {}))
    return {**task_metrics(run.model, env, task, multiples, seed, dist=run.final.dist), "seconds": run.final.seconds}


def tracked(label: str, algo: type, env_id: str, trajectories: int, evals: int = 10,
            env_kwargs: Mapping[str, Any] | None = None, task: Mapping[str, Any] | None = None, seed: int = 0,
            algo_kwargs: Mapping[str, Any] | None = None, min_mass: float = 0.0) -> TrackedRun:
    """One run (a unit of work): :func:`~ips_agents.runs.tracking.train_tracked` without its model (so the result
    is small to pickle and send back from a Ray worker)."""
    run = train_tracked(label, algo, env_id, trajectories, evals=evals, env_kwargs=env_kwargs, task=task, seed=seed,
                        min_mass=min_mass, **dict(algo_kwargs or {}))
    run.model = None  # type: ignore[assignment]
    return run


def per_task_units(label: str, algo: type, env_id: str, tasks: Sequence[Mapping[str, Any]], seeds: int,
                   trajectories: int, multiples: Sequence[int] = (1, 5), env_kwargs: Mapping[str, Any] | None = None,
                   min_mass: float = 0.0, **algo_kwargs: Any) -> list[Unit]:
    """One :func:`train_and_evaluate` unit per (seed, task), named ``label/seed=s/task=i``."""
    return [Unit(f"{label}/seed={seed}/task={i}", train_and_evaluate,
                 {"label": label, "algo": algo, "env_id": env_id, "task": dict(task), "seed": seed,
                  "trajectories": trajectories, "multiples": tuple(multiples), "env_kwargs": dict(env_kwargs or {}),
                  "algo_kwargs": algo_kwargs, "min_mass": min_mass})
            for seed in range(seeds) for i, task in enumerate(tasks)]


def summarise(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over runs of :func:`train_and_evaluate`: RR@m|H| for each m (sampled, ``rr``, and expected from the
    exact distribution, ``rr_exact``), exact TV/L1, training seconds, and every run's ``(RR curve, |H|)``."""
    multiples = list(results[0]["rr"])
    return {"rr": {m: float(np.mean([r["rr"][m] for r in results])) for m in multiples},
            "rr_exact": {m: float(np.mean([r["rr_exact"][m] for r in results])) for m in multiples},
            "tv": float(np.mean([r["tv"] for r in results])), "l1": float(np.mean([r["l1"] for r in results])),
            "pruned": float(max(r.get("pruned", 0.0) for r in results)),
            "seconds": float(np.mean([r["seconds"] for r in results])), "runs": len(results),
            "curves": [(r["curve"], r["n_admissible"]) for r in results]}


def evaluate_per_task(label: str, algo: type, env_id: str, tasks: Sequence[Mapping[str, Any]], seeds: int,
                      trajectories: int, multiples: Sequence[int] = (1, 5), env_kwargs: Mapping[str, Any] | None = None,
                      ray: RayOptions | None = None, **algo_kwargs: Any) -> dict[str, Any]:
    """Train one policy per (task, seed) (sequentially, or as Ray Tune trials with ``ray``); :func:`summarise`."""
    units = per_task_units(label, algo, env_id, tasks, seeds, trajectories, multiples, env_kwargs, **algo_kwargs)
    return summarise(run_units(units, ray, label=label))


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
