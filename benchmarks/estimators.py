"""Propensity estimators (beyond the paper): the paper's in-group count vs the exact trajectory probability.

For each group size G, estimator (count / exact, canonical-order envs) and advantage normalisation
(group std / none): exact L1 and TV to the reward-proportional target, and how much of their target mass
the outcomes with target p < 1/G keep (the count estimator's rich-get-richer bias hits exactly those).

    python -m benchmarks.estimators [--quick] [--seeds 2] [--ray | --ray-address ADDR]
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from benchmarks import report
from benchmarks.pertask import tracked
from benchmarks.report import table
from ips_agents.algorithms.ips_grpo import IPSGRPO
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import Unit, run_grouped

SPACES = {
    "HyperGrid 2D H=8": ("IPS/HyperGrid-v0", {"ndim": 2, "height": 8, "canonical_order": True}),
    "voxel 4x4 H=4, 5 cells": ("IPS/Voxel3D-v0", {"grid": 4, "height": 4, "max_blocks": 5, "min_blocks": 5,
                                                  "mask_top_view": True, "canonical_order": True}),
}


def rare_mass_kept(dist: dict[str, float], target: dict[str, float], group_size: int) -> float:
    """Learned mass over target mass, summed over the outcomes whose target probability is below 1/G."""
    rare = [k for k, p in target.items() if p < 1.0 / group_size]
    want = sum(target[k] for k in rare)
    return float(sum(dist.get(k, 0.0) for k in rare) / want) if want > 0 else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, ray=True)
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 2)
    trajectories = args.trajectories or (512 if args.quick else 100_000)
    groups = [16] if args.quick else [4, 16, 64]
    spaces = dict(list(SPACES.items())[:1]) if args.quick else SPACES
    plan, targets = {}, {}
    for name, (env_id, kwargs) in spaces.items():
        env = gym.make(env_id, **kwargs)
        env.reset(seed=0)
        task = env.unwrapped.task
        targets[name] = env.unwrapped.target_distribution()
        for g in groups:
            for estimator in ("count", "exact"):
                for norm in ("group", "none"):
                    algo_kwargs = dict(group_size=g, n_groups=max(1, 256 // g), ips_estimator=estimator,
                                       advantage_norm=norm, learning_rate=3e-4, policy_kwargs={"net_arch": [256, 256]})
                    plan[name, g, estimator, norm] = [
                        Unit(f"{name}/G={g}/{estimator}/{norm}/seed={seed}", tracked,
                             {"label": estimator, "algo": IPSGRPO, "env_id": env_id, "trajectories": trajectories,
                              "evals": 1, "env_kwargs": kwargs, "task": task, "seed": seed, "algo_kwargs": algo_kwargs})
                        for seed in range(seeds)]
    rows = []
    for (name, g, estimator, norm), runs in run_grouped(plan, ray_options(args), label="estimators").items():
        target = targets[name]
        l1 = [r.final.report["l1"] for r in runs]
        tv = [r.final.report["tv"] for r in runs]
        kept = [rare_mass_kept(r.final.dist, target, g) for r in runs]
        n_rare = sum(p < 1 / g for p in target.values())
        rows.append([name, g, estimator, norm, f"{np.mean(l1):.4f}", f"{np.mean(tv):.4f}",
                     f"{n_rare}/{len(target)}", f"{np.mean(kept):.3f}"])
    header = ["space", "G", "estimator", "advantage norm", "exact L1", "exact TV", "outcomes with p* < 1/G",
              "their learned / target mass"]
    body = table(header, rows) + f"\n\n{trajectories} trajectories per run, 256 trajectories per update."
    title = "Propensity estimators: count vs exact, group size, normalisation"
    return report.finish(title, body, args.no_write, seeds, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
