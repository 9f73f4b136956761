"""Larger outcome spaces (beyond the paper): where finite-group count estimates start to hurt.

Causal DAGs on 5 nodes with 2 observations, voxels 4x4 with height 4 and 5 viewed cells (1,024 admissible),
Boolean expressions over 3 variables at depth 2 (125 keys) and depth 3 (12,238 keys). Methods: IPS-GRPO with
the count estimator, IPS-GRPO with path-count propensities on the natural env (no canonical order),
IPS-GRPO with exact propensities in canonical order (where the domain has it), GRPO. Reported: RR@|H|,
RR@10|H|, exact TV. For each Boolean space also: its number of keys and trees, the seconds of the path-count
DP (cold cache), and one exact evaluation of an untrained policy (the exact DP over every prefix).

    python -m benchmarks.larger_spaces [--quick] [--seeds 2] [--tasks 3] [--spaces boolean3d2 ...]
        [--methods "path counts" ...] [--min-mass M] [--ray | --ray-address ADDR]

``--min-mass`` (default 0: exact) drops prefixes the policy reaches with probability below it in the exact
evaluation; the largest dropped mass is printed, and the TV is then an upper bound (at most that much above).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from stable_baselines3.common.utils import LinearSchedule

from benchmarks import report
from benchmarks.pertask import per_task_units, pick_tasks, summarise
from benchmarks.report import table
from ips_agents.evaluation import exact_outcome_distribution
from ips_agents.algorithms.ips_grpo import GRPO, IPSGRPO
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import run_grouped

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


def boolean_space_line(name: str, env_id: str, kwargs: dict[str, Any], task: dict[str, Any], min_mass: float) -> str:
    """Keys, trees, path-count DP seconds (cold cache) and one exact evaluation of an untrained policy."""
    from ips_envs import PRUNED_OUTCOME
    from ips_envs.boolean_expr.space import expression_space

    env = gym.make(env_id, **kwargs)
    kernel = env.unwrapped.kernel
    expression_space.cache_clear()
    t0 = time.perf_counter()
    counts = kernel.expression_path_counts()
    dp = time.perf_counter() - t0
    model = IPSGRPO("MlpPolicy", env_id, env_kwargs={**kwargs, "task": task}, policy_kwargs=NET, seed=0)
    t0 = time.perf_counter()
    dist = exact_outcome_distribution(model, env, task, min_mass=min_mass)
    evaluation = time.perf_counter() - t0
    pruned = f", pruned mass {dist.get(PRUNED_OUTCOME, 0.0):.2e}" if min_mass > 0 else ""
    return (f"{name}: {len(counts):,} keys, {sum(counts.values()):,} trees; path-count DP {dp:.3f} s (cold cache); "
            f"exact outcome distribution of an untrained MLP {NET['net_arch']} policy on task 0: {evaluation:.1f} s "
            f"({len(dist):,} outcomes{pruned}).")


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    parser.add_argument("--spaces", nargs="*", choices=list(SHORT), default=None, help="default: all")
    parser.add_argument("--methods", nargs="*", default=None, help="substrings of method labels (default: all)")
    parser.add_argument("--min-mass", type=float, default=0.0,
                        help="drop prefixes below this probability in the exact evaluation (default 0: exact)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.min_mass < 1.0:
        parser.error(f"--min-mass must be in [0, 1), got {args.min_mass}")
    seeds = args.seeds or (1 if args.quick else 2)
    trajectories = args.trajectories or (256 if args.quick else 100_000)
    chosen = [SHORT[k] for k in args.spaces] if args.spaces else list(SPACES)
    spaces = {SHORT["boolean3d2"]: SPACES[SHORT["boolean3d2"]]} if args.quick else {k: SPACES[k] for k in chosen}
    plan, sizes, notes = {}, {}, []
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
        if env_id == "IPS/BooleanExpr-v0":
            notes.append(boolean_space_line(name, env_id, kwargs, tasks[0], args.min_mass))
            print(notes[-1])
        for label, (algo, env_kwargs, extra) in methods.items():
            plan[name, label] = per_task_units(f"{name}/{label}", algo, env_id, tasks, seeds, trajectories,
                                               multiples=(1, 10), env_kwargs=env_kwargs, min_mass=args.min_mass,
                                               **{"group_size": 16, "n_groups": 16, "learning_rate": 1e-3,
                                                  "policy_kwargs": NET, **extra})
    rows, pruned = [], 0.0
    for (name, label), runs in run_grouped(plan, ray_options(args), label="larger_spaces").items():
        res = summarise(runs)
        pruned = max(pruned, res["pruned"])
        rows.append([name, sizes[name], label, f"{res['rr'][1]:.3f}", f"{res['rr'][10]:.3f}", f"{res['tv']:.3f}",
                     f"{res['seconds']:.0f}"])
    header = ["space", "|H| per task", "method", "RR@|H|", "RR@10|H|", "exact TV to uniform", "train s"]
    body = table(header, rows) + f"\n\n{trajectories} trajectories per run, 16 groups x 16 per update."
    if args.min_mass > 0:
        body += (f" Exact evaluation with min_mass={args.min_mass:g}: largest pruned mass {pruned:.2e} (TV is an "
                 "upper bound, at most that much above the exact value).")
    body += "".join(f"\n\n{line}" for line in notes)
    title = "Larger outcome spaces: count vs path counts vs exact propensities"
    return report.finish(title, body, args.no_write, seeds, setting=", ".join(spaces), quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
