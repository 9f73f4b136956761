"""Larger outcome spaces (beyond the paper): where finite-group count estimates start to hurt.

Causal DAGs on 5 nodes with 2 observations, voxels 4x4 with height 4 and 5 viewed cells (1,024 admissible),
Boolean expressions over 3 variables at depth 2 (125 keys) and depth 3 (12,238 keys). Methods: IPS-GRPO with
the count estimator, IPS-GRPO with path-count propensities on the natural env (no canonical order),
IPS-GRPO with exact propensities in canonical order (where the domain has it), GRPO. Reported: RR@|H|,
RR@10|H|, exact TV.

    python -m benchmarks.larger_spaces [--quick] [--seeds 2] [--tasks 3] [--spaces boolean3d2 ...]
        [--methods "path counts" ...] [--ray | --ray-address ADDR]
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
from stable_baselines3.common.utils import LinearSchedule

from benchmarks import report
from benchmarks.pertask import per_task_units, pick_tasks, summarise
from benchmarks.report import table
from ips_agents.ips_grpo import GRPO, IPSGRPO
from ips_agents.units import ray_options, run_grouped

NET = {"net_arch": [256, 256]}
SPACES = {
    "causal 5 nodes, 2 obs": ("IPS/CausalDAG-v0", {"n_nodes": 5, "n_observations": 2}, True),
    "voxel 4x4, H=4, 5 cells (top-view masks)": ("IPS/Voxel3D-v0", {"grid": 4, "height": 4, "max_blocks": 5,
                                                   "min_blocks": 5, "mask_top_view": True}, True),
    "boolean x,y,z depth 2": ("IPS/BooleanExpr-v0", {"variables": ["x", "y", "z"]}, False),
    "boolean x,y,z depth 3": ("IPS/BooleanExpr-v0", {"variables": ["x", "y", "z"], "max_depth": 3}, False),
}
SHORT = {"causal5": "causal 5 nodes, 2 obs", "voxel4": "voxel 4x4, H=4, 5 cells (top-view masks)",
         "boolean3d2": "boolean x,y,z depth 2", "boolean3d3": "boolean x,y,z depth 3"}
PATHS = {"ips_estimator": "paths", "ips_eps": 1e-6, "advantage_norm": "none"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    parser.add_argument("--spaces", nargs="*", choices=list(SHORT), default=None, help="default: all")
    parser.add_argument("--methods", nargs="*", default=None, help="substrings of method labels (default: all)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 2)
    trajectories = args.trajectories or (256 if args.quick else 100_000)
    chosen = [SHORT[k] for k in args.spaces] if args.spaces else list(SPACES)
    spaces = {SHORT["boolean3d2"]: SPACES[SHORT["boolean3d2"]]} if args.quick else {k: SPACES[k] for k in chosen}
    plan, sizes = {}, {}
    for name, (env_id, kwargs, canonical) in spaces.items():
        tasks = pick_tasks(env_id, args.tasks or (1 if args.quick else 3), env_kwargs=kwargs, min_admissible=8)
        # path counts and exact propensities with their default schedule, 3e-3 falling linearly to 0 over the
        # run; the count estimator and GRPO keep the constant 1e-3 of the earlier runs
        decay = {"learning_rate": LinearSchedule(3e-3, 0.0, 1.0)}
        methods = {"IPS-GRPO (count p)": (IPSGRPO, kwargs, {"ips_estimator": "count"}), "GRPO": (GRPO, kwargs, {}),
                   "IPS-GRPO (path counts, no canonical order)": (IPSGRPO, kwargs, {**PATHS, **decay})}
        if canonical:
            methods["IPS-GRPO (exact p, canonical order)"] = (IPSGRPO, {**kwargs, "canonical_order": True},
                                                             {"ips_estimator": "exact", **decay})
        if args.methods:
            methods = {k: v for k, v in methods.items() if any(m in k for m in args.methods)}
        kernel = gym.make(env_id, **kwargs).unwrapped.kernel
        sizes[name] = "/".join(str(len(kernel.outcome_rewards(t))) for t in tasks)
        for label, (algo, env_kwargs, extra) in methods.items():
            plan[name, label] = per_task_units(f"{name}/{label}", algo, env_id, tasks, seeds, trajectories,
                                               multiples=(1, 10), env_kwargs=env_kwargs,
                                               **{"group_size": 16, "n_groups": 16, "learning_rate": 1e-3,
                                                  "policy_kwargs": NET, **extra})
    rows = []
    for (name, label), runs in run_grouped(plan, ray_options(args), label="larger_spaces").items():
        res = summarise(runs)
        rows.append([name, sizes[name], label, f"{res['rr'][1]:.3f}", f"{res['rr'][10]:.3f}", f"{res['tv']:.3f}",
                     f"{res['seconds']:.0f}"])
    header = ["space", "|H| per task", "method", "RR@|H|", "RR@10|H|", "exact TV to uniform", "train s"]
    body = table(header, rows) + f"\n\n{trajectories} trajectories per run, 16 groups x 16 per update."
    title = "Larger outcome spaces: count vs path counts vs exact propensities"
    return report.finish(title, body, args.no_write, seeds, setting=", ".join(spaces), quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
