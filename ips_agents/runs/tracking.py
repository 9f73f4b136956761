"""Train while tracking the exact outcome distribution: the loop behind the demo and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from stable_baselines3.common.logger import Logger

from ips_agents.evaluation import exact_outcome_distribution, outcome_report
from ips_agents.algorithms.base import torch_threads
from ips_agents.algorithms.ips_grpo import IPSGRPO
from ips_envs.core.validation import check_int


@dataclass
class Checkpoint:
    """The state of a run at one evaluation point."""

    timesteps: int
    trajectories: int
    seconds: float
    dist: dict[str, float]
    report: dict[str, float]


@dataclass
class TrackedRun:
    """A trained model and its evaluation history."""

    label: str
    model: IPSGRPO
    history: list[Checkpoint] = field(default_factory=list)

    @property
    def final(self) -> Checkpoint:
        return self.history[-1]


def train_trajectories(model: IPSGRPO, trajectories: int, schedule_total: int | None = None) -> float:
    """Update ``model`` until it has sampled ``trajectories`` trajectories in total; returns the seconds spent.

    ``schedule_total`` (default ``trajectories``) is the horizon of learning-rate schedules.
    """
    if getattr(model, "_logger", None) is None:
        model.set_logger(Logger(folder=None, output_formats=[]))
    horizon = schedule_total or trajectories
    t0 = time.perf_counter()
    with torch_threads(getattr(model, "torch_threads", None)):  # as learn() does
        while model.num_trajectories < trajectories:
            model._update_current_progress_remaining(model.num_trajectories, horizon)
            batch = model.collect_batch()
            assert batch is not None
            model.num_trajectories += batch.n_trajectories
            model.train_on_batch(batch)
    return time.perf_counter() - t0


def train_tracked(
    label: str,
    algo: type[IPSGRPO],
    env_id: str,
    trajectories: int,
    evals: int = 10,
    env_kwargs: Mapping[str, Any] | None = None,
    task: Mapping[str, Any] | None = None,
    seed: int = 0,
    min_mass: float = 0.0,
    **algo_kwargs: Any,
) -> TrackedRun:
    """Train ``algo`` for about ``trajectories`` trajectories on one task, evaluating exactly ``evals`` times.

    The task is ``task`` or the one the env samples with ``seed``; training is fixed to it. ``min_mass`` is passed
    to the exact evaluation (states reached with a smaller probability are dropped; 0 keeps it exact).
    """
    trajectories = check_int("trajectories", trajectories, 1)
    evals = check_int("evals", evals, 1)
    env_kwargs = dict(env_kwargs or {})
    env = gym.make(env_id, **env_kwargs)
    env.reset(seed=seed, options=None if task is None else {"task": dict(task)})
    task = env.unwrapped.task
    target = env.unwrapped.target_distribution()
    model = algo("MlpPolicy", env_id, env_kwargs={**env_kwargs, "task": task}, seed=seed, **algo_kwargs)
    run = TrackedRun(label, model)
    per_eval = max(1, trajectories // evals)
    trained = 0.0
    while model.num_trajectories < trajectories:
        goal = min(trajectories, model.num_trajectories + per_eval)
        trained += train_trajectories(model, goal, schedule_total=trajectories)
        dist = exact_outcome_distribution(model, env, task, min_mass=min_mass)
        run.history.append(Checkpoint(model.num_timesteps, model.num_trajectories, trained, dist,
                                      outcome_report(dist, target)))
    return run
