"""Time to quality: wall time for IPS-GRPO to reach RR 0.99 on causal 4-node tasks; peak RSS of the demo.

Per task (the 4-node, 3-observation causal family, one policy per task, the HypoSpace benchmark's settings:
G = 64, eps = 0.01, 128 trajectories per update), training is paused every ``--every`` trajectories and
the exact outcome distribution P is computed; the run stops once the expected recovery rate
E[RR@5|H|] = mean over admissible h of 1 - (1 - P(h))^(5|H|) reaches 0.99 (exact, so no sampling noise
decides when to stop). Reported: trajectories and seconds to get there (training only, and wall time
including the exact evaluations and model construction), and one sampled RR@5|H| at the stopping point.

The demo (``ips-rl demo``, every budget times ``--demo-scale``) runs in a child process whose peak resident
set size is read from ``getrusage(RUSAGE_CHILDREN)``.

    python -m benchmarks.time_to_quality [--quick] [--tasks 10] [--seeds 1] [--ray]

With ``--ray`` the runs are Ray Tune trials; on one machine they then share its cores, which slows each run,
so compare wall times only between runs made the same way.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks import report
from benchmarks.hypospace import COMMON, DOMAIN_KWARGS, METHODS
from benchmarks.pertask import pick_tasks
from benchmarks.report import table
from ips_agents.evaluation import exact_outcome_distribution, expected_recovery, recovery_at
from ips_agents.algorithms.ips_grpo import IPSGRPO
from ips_agents.runs.tracking import train_trajectories
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import Unit, run_units

ENV_ID = "IPS/CausalDAG-v0"


def time_to_rr(task: Mapping[str, Any], seed: int, goal: float, every: int, budget: int) -> dict[str, Any]:
    """Train IPS-GRPO on ``task`` until E[RR@5|H|] >= ``goal`` (or ``budget`` trajectories)."""
    wall0 = time.perf_counter()
    env = gym.make(ENV_ID)
    env.reset(options={"task": dict(task)})
    admissible = list(env.unwrapped.admissible_outcomes())
    kwargs = {**COMMON, **DOMAIN_KWARGS["causal"], **METHODS["IPS-GRPO"][1]}
    model = IPSGRPO("MlpPolicy", ENV_ID, env_kwargs={"task": dict(task)}, seed=seed, **kwargs)
    trained, rr = 0.0, 0.0
    while model.num_trajectories < budget:
        trained += train_trajectories(model, model.num_trajectories + every, schedule_total=budget)
        rr = expected_recovery(exact_outcome_distribution(model, env, task), admissible, 5 * len(admissible))
        if rr >= goal:
            break
    wall = time.perf_counter() - wall0
    sampled, _ = recovery_at(model, env, task, (5,), seed)
    return {"H": len(admissible), "reached": rr >= goal, "expected_rr": rr, "sampled_rr": sampled[5],
            "trajectories": model.num_trajectories, "train_s": trained, "wall_s": wall}


def demo_peak(scale: float) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of ``ips-rl demo --scale scale`` in a child process."""
    with tempfile.TemporaryDirectory() as out:
        code = f"from ips_agents.cli import main; raise SystemExit(main(['demo', '--out', {out!r}, '--scale', '{scale}']))"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    parser.add_argument("--goal", type=float, default=0.99)
    parser.add_argument("--every", type=int, default=2_560, help="trajectories between exact evaluations")
    parser.add_argument("--demo-scale", type=float, default=None, help="demo budget multiplier (default 1; quick 0.01)")
    args = parser.parse_args(argv)
    seeds = args.seeds or 1
    n_tasks = args.tasks or (1 if args.quick else 10)
    budget = args.trajectories or (1_280 if args.quick else 200_000)
    every = min(args.every, budget)
    demo_scale = args.demo_scale or (0.01 if args.quick else 1.0)
    demo_s, demo_rss = demo_peak(demo_scale)
    print(f"demo (scale {demo_scale}): {demo_s:.1f} s, peak RSS {demo_rss:.2f} GB", flush=True)
    cells = [(i, seed, task) for seed in range(seeds) for i, task in enumerate(pick_tasks(ENV_ID, n_tasks))]
    runs = run_units([Unit(f"seed={seed}/task={i}", time_to_rr, {"task": task, "seed": seed, "goal": args.goal,
                                                                   "every": every, "budget": budget})
                      for i, seed, task in cells], ray_options(args), label="time_to_quality")
    rows = []
    for (i, seed, _), r in zip(cells, runs, strict=True):
        rows.append([i, seed, r["H"], "yes" if r["reached"] else "no", f"{r['expected_rr']:.3f}",
                     f"{r['sampled_rr']:.3f}", r["trajectories"], f"{r['train_s']:.1f}", f"{r['wall_s']:.1f}"])
    wall = np.array([r["wall_s"] for r in runs])
    reached = sum(r["reached"] for r in runs)
    body = table(["task", "seed", "|H|", f"E[RR@5|H|] >= {args.goal}", "E[RR@5|H|]", "sampled RR@5|H|",
                  "trajectories", "train s", "wall s"], rows)
    body += (f"\n\nReached in {reached}/{len(runs)} runs; wall time median {np.median(wall):.1f} s, "
             f"max {wall.max():.1f} s (one process, torch on 1 thread).\n\n"
             f"`ips-rl demo --scale {demo_scale}`: {demo_s:.1f} s, peak RSS {demo_rss:.2f} GB.")
    return report.finish("Time to quality: causal RR 0.99, demo peak memory", body, args.no_write, seeds,
                         quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
