"""``ips-rl eval``: evaluate a run folder (a table on stdout, recovery and outcome PNGs in the folder)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ips_agents.cli.parsing import check_env_id, json_object, one_line, positive_int, seed_int


def add_eval_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``eval`` to the ``ips-rl`` subparsers."""
    ev = sub.add_parser("eval", help="evaluate a run folder: table + PNG plots")
    ev.add_argument("run", help="run folder made by `ips-rl train`")
    ev.add_argument("--samples", type=positive_int, default=1000)
    ev.add_argument("--task", type=json_object, default=None, help="JSON task dict (default: the run's task or seed)")
    ev.add_argument("--seed", type=seed_int, default=0, help="seed of the sampled episodes, in [0, 2**32 - 1]")
    return ev


def run_eval(args: argparse.Namespace) -> int:
    """``ips-rl eval``: exact evaluation where the task is enumerable, sampled otherwise."""
    import gymnasium as gym

    from ips_agents import plots
    from ips_agents.evaluation import (
        empirical_distribution,
        exact_outcome_distribution,
        outcome_report,
        recovery_curve,
        sample_outcomes,
    )
    from ips_agents.runs.training import load_run

    config, model = load_run(args.run)
    check_env_id(config.env, ips_only=True)
    env = gym.make(config.env, **config.env_kwargs_with_task())
    env.reset(seed=args.seed, options=None if args.task is None else {"task": args.task})
    task = env.unwrapped.task
    samples, valid = sample_outcomes(model, env, args.samples, task=task, seed=args.seed, return_valid=True)
    out = Path(args.run)
    print(f"{config.env} ({config.algo}), task: {json.dumps(task)}")
    try:
        target = env.unwrapped.target_distribution()
        exact = exact_outcome_distribution(model, env, task)
    except (NotImplementedError, RuntimeError) as e:  # not enumerable, or too large for the exact DP: sample
        print(f"no exact evaluation ({one_line(e)}); from {args.samples} samples:")
        dist = empirical_distribution(samples)
        print(f"{len(dist)} distinct outcomes in {args.samples} samples; valid fraction {valid.mean():.3f}")
        return 0
    report = outcome_report(exact, target)
    curve = recovery_curve(samples, target)
    rows = [("|admissible|", len(target)), ("samples", args.samples), ("valid fraction", f"{valid.mean():.3f}"),
            ("RR(samples)", f"{curve[-1]:.3f}"), *((f"exact {k}", f"{v:.4f}") for k, v in report.items())]
    for name, value in rows:
        print(f"{name:>26s}  {value}")
    plots.plot_recovery({config.algo: curve}, out / "recovery.png", f"{config.env}: recovery", len(target))
    plots.plot_outcome_bars({config.algo: exact}, target, out / "outcomes.png", f"{config.env}: exact outcomes")
    print(f"wrote {out / 'recovery.png'} and {out / 'outcomes.png'}")
    return 0
