"""Defaults as a new user meets them: ``IPSGRPO("MlpPolicy", env)`` with nothing else, ``learn(100_000)``.

One policy per task on HypoSpace tasks with many admissible outcomes (causal 4-node tasks with 12 admissible
DAGs, Boolean x,y depth-2 tasks with 12 and 8 admissible expressions, voxel tasks with 27 admissible
structures), every argument at its default (which picks path-count propensities on these envs), against the
same call with ``ips_estimator="count"`` (the count estimator at its own defaults). Reported per task: how
many admissible outcomes the learned policy puts exact probability >= 1e-3 on, exact TV to the uniform
target, E[RR@5|H|] from the exact distribution, and the perfect sampler's E[RR@5|H|] (the ceiling).

    python -m benchmarks.defaults [--quick] [--seeds 1] [--tasks 3] [--trajectories 100000]

(``--trajectories`` here is the ``learn`` budget in env steps, as a new user would pass it.)
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from benchmarks import report
from benchmarks.report import table
from ips_agents.evaluation import exact_outcome_distribution, expected_recovery, outcome_report
from ips_agents.algorithms.ips_grpo import IPSGRPO

# family -> (env id, env kwargs, admissible-set sizes to pick tasks from, in order)
FAMILIES = {
    "causal 4 nodes": ("IPS/CausalDAG-v0", {}, [12]),
    "boolean x,y depth 2": ("IPS/BooleanExpr-v0", {}, [12, 12, 8]),
    "voxel 3x3 H=3": ("IPS/Voxel3D-v0", {}, [27]),
}
METHODS = {"defaults": {}, "count estimator (its defaults)": {"ips_estimator": "count"}}


def family_tasks(env_id: str, kwargs: dict, sizes: Sequence[int], n: int) -> list[dict]:
    """The first ``n`` tasks of the env's task table whose admissible sets have the sizes ``sizes`` (cycled)."""
    kernel = gym.make(env_id, **kwargs).unwrapped.kernel
    by_size: dict[int, list[dict]] = {}
    for task in kernel.task_table():
        by_size.setdefault(len(kernel.outcome_rewards(task)), []).append(dict(task))
    picks, used = [], {s: 0 for s in sizes}
    for i in range(n):
        size = sizes[i % len(sizes)]
        picks.append(by_size[size][used[size]])
        used[size] += 1
    return picks


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True)
    args = parser.parse_args(argv)
    seeds = args.seeds or 1
    steps = args.trajectories or (300 if args.quick else 100_000)
    n_tasks = args.tasks or (1 if args.quick else 3)
    families = dict(list(FAMILIES.items())[:1]) if args.quick else FAMILIES
    rows = []
    for family, (env_id, kwargs, sizes) in families.items():
        for t, task in enumerate(family_tasks(env_id, kwargs, sizes, n_tasks)):
            env = gym.make(env_id, **kwargs)
            env.reset(options={"task": task})
            target = env.unwrapped.target_distribution()
            top = expected_recovery(target, target, 5 * len(target))
            for label, extra in METHODS.items():
                found, tv, rr, estimator = [], [], [], ""
                for seed in range(seeds):
                    model = IPSGRPO("MlpPolicy", env_id, env_kwargs={**kwargs, "task": task}, seed=seed, **extra)
                    model.learn(steps)
                    estimator = model.ips_estimator
                    dist = exact_outcome_distribution(model, env, task)
                    found.append(sum(dist.get(o, 0.0) >= 1e-3 for o in target))
                    tv.append(outcome_report(dist, target)["tv"])
                    rr.append(expected_recovery(dist, target, 5 * len(target)))
                rows.append([family, t, len(target), f"{label} ({estimator})",
                             " / ".join(map(str, found)), f"{np.mean(tv):.3f}", f"{np.mean(rr):.3f}", f"{top:.3f}"])
                print(" | ".join(map(str, rows[-1])), flush=True)
    header = ["family", "task", "|H|", "method (estimator)", "admissible found (p >= 1e-3), per seed",
              "exact TV", "E[RR@5|H|]", "ceiling E[RR@5|H|]"]
    body = table(header, rows) + (f"\n\n`IPSGRPO(\"MlpPolicy\", env_id, env_kwargs={{\"task\": task}}, seed=s)"
                                  f".learn({steps:,})`; every other argument at its default.")
    return report.finish("Defaults as a new user meets them: one policy per task", body, args.no_write, seeds,
                         setting=f"learn({steps:,})", quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
