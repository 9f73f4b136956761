"""Large outcome spaces: distance to the target over training, support kept, lost modes, methods side by side.

Spaces (masks at their defaults): HyperGrid 2D H=8 and 4D H=8 (distance: exact L1, threshold 1e-3), Boolean
x,y,z depth 2 and 3, causal DAGs on 5 nodes, voxels 4x4 with sparse top views and no top-view mask (distance:
exact TV, threshold 0.05). Methods: IPS-GRPO at its defaults (off-policy exploration 0.05 falling to 0, exact
correction), IPS-GRPO on-policy (``explore_eps=0``, the default before exploration), IPS-GRPO with constant
exploration, GRPO, trajectory balance and FlowRL (ips-rl's). Every run is evaluated exactly
``--evals`` times; the report gives the distance at each checkpoint, the trajectories and training seconds to the
threshold, and at the end the mass on the admissible set and the support kept (admissible outcomes holding at
least a tenth of their target probability), with figures of distance vs trajectories and vs seconds. Runs of all
methods are interleaved (seed by seed, task by task) so machine load hits every method alike.

    python -m benchmarks.large_spaces [--quick] [--spaces boolean3d2 hypergrid2d ...] [--methods ...]
        [--seeds 3] [--tasks 5] [--trajectories N] [--evals 10] [--no-write] [--ray | --ray-address ADDR]

torchgfn's TB / DB / SubTB on the same HyperGrid DAGs: ``benchmarks/torchgfn_compare.py`` (its own venv).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks import report
from benchmarks.pertask import pick_tasks, tracked
from benchmarks.report import figures_dir, table
from ips_agents import plots
from ips_agents.algorithms import GRPO, IPSGRPO, TrajectoryBalance
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import Unit, run_grouped

SPACES: dict[str, dict[str, Any]] = {
    "hypergrid2d": {"env": "IPS/HyperGrid-v0", "kwargs": {"ndim": 2, "height": 8}, "metric": "l1", "goal": 1e-3,
                    "trajectories": 102_400, "tasks": 0},
    "hypergrid4d": {"env": "IPS/HyperGrid-v0", "kwargs": {"ndim": 4, "height": 8}, "metric": "l1", "goal": 1e-3,
                    "trajectories": 102_400, "tasks": 0},
    "boolean3d2": {"env": "IPS/BooleanExpr-v0", "kwargs": {"variables": ["x", "y", "z"]}, "metric": "tv",
                   "goal": 0.05, "trajectories": 200_000, "tasks": 5},
    "boolean3d3": {"env": "IPS/BooleanExpr-v0", "kwargs": {"variables": ["x", "y", "z"], "max_depth": 3},
                   "metric": "tv", "goal": 0.10, "trajectories": 1_000_000, "tasks": 5},
    "causal5": {"env": "IPS/CausalDAG-v0", "kwargs": {"n_nodes": 5, "n_observations": 2}, "metric": "tv",
                "goal": 0.05, "trajectories": 200_000, "tasks": 3},
    "voxel4sparse": {"env": "IPS/Voxel3D-v0", "kwargs": {"grid": 4, "height": 3}, "metric": "tv", "goal": 0.05,
                     "trajectories": 100_000, "tasks": 3, "min_mass": 1e-4},
}
"""Each space: env id and arguments, the distance reported and its threshold, the full budget, tasks (0: none),
and ``min_mass`` where the exact evaluation must drop prefixes reached with less probability (4^16 height maps:
the TV is then an upper bound, at most the pruned mass above the exact value, which the report prints)."""

METHODS: dict[str, tuple[type, dict[str, Any]]] = {
    "IPS-GRPO (defaults)": (IPSGRPO, {}),
    "IPS-GRPO on-policy": (IPSGRPO, {"explore_eps": 0.0}),
    "IPS-GRPO constant explore 0.05": (IPSGRPO, {"explore_schedule": "constant"}),
    "GRPO": (GRPO, {}),
    "TB": (TrajectoryBalance, {}),
    "FlowRL": (TrajectoryBalance, {"objective": "flowrl"}),
}
"""Methods by label: class and arguments on top of the library defaults (nothing tuned per space)."""
KEPT_FRACTION = 0.1
"""An admissible outcome counts as kept when it holds at least this fraction of its target probability."""


def run_metrics(run: Any, target: Mapping[str, float], metric: str, goal: float) -> dict[str, Any]:
    """Distance per checkpoint, first trajectories / seconds at or below ``goal``, final mass and support kept."""
    curve = [(c.trajectories, c.seconds, c.report[metric]) for c in run.history]
    reached = next(((t, s) for t, s, d in curve if d <= goal), (None, None))
    final = run.final.dist
    mass = float(sum(final.get(o, 0.0) for o in target))
    kept = sum(final.get(o, 0.0) >= KEPT_FRACTION * p for o, p in target.items())
    return {"curve": curve, "to_goal": reached, "final": curve[-1][2], "mass": mass, "kept": kept,
            "admissible": len(target), "pruned": float(run.final.report.get("pruned_mass", 0.0))}


def one_run(label: str, space: str, task: Mapping[str, Any] | None, seed: int, trajectories: int, evals: int
            ) -> dict[str, Any]:
    """One unit of work: train ``label`` on one task of ``space`` and measure it (:func:`run_metrics`)."""
    spec = SPACES[space]
    algo, kwargs = METHODS[label]
    run = tracked(label, algo, spec["env"], trajectories, evals=evals, env_kwargs=spec["kwargs"], task=task,
                  seed=seed, algo_kwargs=kwargs, min_mass=spec.get("min_mass", 0.0))
    env = gym.make(spec["env"], **spec["kwargs"])
    env.reset(seed=seed, options=None if task is None else {"task": dict(task)})
    return run_metrics(run, env.unwrapped.target_distribution(), spec["metric"], spec["goal"])


def plan_units(spaces: Sequence[str], methods: Sequence[str], seeds: int, n_tasks: int | None, trajectories: int | None,
               evals: int) -> dict[tuple[str, str], list[Unit]]:
    """Units per (space, method); within a space the methods alternate unit by unit (interleaved order)."""
    plan: dict[tuple[str, str], list[Unit]] = {}
    for space in spaces:
        spec = SPACES[space]
        count = spec["tasks"] if n_tasks is None else (n_tasks if spec["tasks"] else 0)
        tasks: list[Any] = pick_tasks(spec["env"], count, env_kwargs=spec["kwargs"], min_admissible=2) if count else [None]
        budget = trajectories or spec["trajectories"]
        for seed in range(seeds):
            for i, task in enumerate(tasks):
                for label in methods:
                    unit = Unit(f"{space}/{label}/seed={seed}/task={i}", one_run,
                                {"label": label, "space": space, "task": task, "seed": seed, "trajectories": budget,
                                 "evals": evals})
                    plan.setdefault((space, label), []).append(unit)
    return plan


def _fmt(x: float | None, metric: str) -> str:
    if x is None:
        return "-"
    return f"{x:.1e}" if metric == "l1" else f"{x:.3f}"


def summary_rows(space: str, label: str, runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One table row: mean final distance, runs reaching the goal, median trajectories / seconds to it, mass, kept."""
    spec = SPACES[space]
    hits = [r["to_goal"] for r in runs if r["to_goal"][0] is not None]
    med_t = f"{np.median([h[0] for h in hits]):,.0f}" if hits else "-"
    med_s = f"{np.median([h[1] for h in hits]):.1f}" if hits else "-"
    kept = f"{np.mean([r['kept'] / r['admissible'] for r in runs]):.2f}"
    pruned = max(r.get("pruned", 0.0) for r in runs)
    return [space, label, _fmt(float(np.mean([r["final"] for r in runs])), spec["metric"]), f"{len(hits)}/{len(runs)}",
            med_t, med_s, f"{np.mean([r['mass'] for r in runs]):.3f}", kept, f"{pruned:.1e}" if pruned else "0"]


def figures(results: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]], quick: bool) -> list[str]:
    """Distance vs trajectories and vs seconds per space (mean over runs at each checkpoint); the paths written."""
    written = []
    for space in sorted({s for s, _ in results}):
        metric = SPACES[space]["metric"]
        for axis, name in ((0, "trajectories"), (1, "seconds")):
            curves = {}
            for (s, label), runs in results.items():
                if s != space:
                    continue
                xs = np.mean([[c[axis] for c in r["curve"]] for r in runs], axis=0)
                ys = np.mean([[c[2] for c in r["curve"]] for r in runs], axis=0)
                curves[label] = (xs, ys)
            path = figures_dir() / f"large_spaces_{space}_{name}{'_quick' if quick else ''}.png"
            plots.plot_curves(curves, path, name, f"exact {metric.upper()}", f"{space}: exact {metric.upper()} vs {name}",
                              logy=True)
            written.append(str(path))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    parser.add_argument("--spaces", nargs="*", choices=list(SPACES), default=None,
                        help="default: all (--quick: boolean3d2 and hypergrid2d)")
    parser.add_argument("--methods", nargs="*", choices=list(METHODS), default=None, help="default: all")
    parser.add_argument("--evals", type=int, default=None, help="exact evaluations per run (default 10; --quick 2)")
    args = parser.parse_args(argv)
    spaces = args.spaces or (["boolean3d2", "hypergrid2d"] if args.quick else list(SPACES))
    methods = args.methods or list(METHODS)
    seeds = args.seeds or (1 if args.quick else 3)
    trajectories = args.trajectories or (512 if args.quick else None)
    evals = args.evals or (2 if args.quick else 10)
    n_tasks = args.tasks or (1 if args.quick else None)
    plan = plan_units(spaces, methods, seeds, n_tasks, trajectories, evals)
    results = run_grouped(plan, ray_options(args), label="large_spaces")
    rows = [summary_rows(space, label, runs) for (space, label), runs in results.items()]
    header = ["space", "method", "final distance", "reached goal", "median trajectories to goal",
              "median train s to goal", "mass on admissible", "support kept", "pruned mass"]
    goals = "; ".join(f"{s}: exact {SPACES[s]['metric'].upper()} <= {SPACES[s]['goal']:g}" for s in spaces)
    body = table(header, rows) + (
        f"\n\nGoals: {goals}. Budget per run: {trajectories or 'each space’s full budget'} trajectories, {evals} exact "
        f"evaluations; support kept = share of admissible outcomes holding >= {KEPT_FRACTION:g} x their target "
        f"probability. Load while running: {report.load_line()}.")
    for path in figures(results, args.quick):
        name = path.rsplit("/", 1)[-1]
        body += f"\n\n![{name}](figures/{name})"
    setting = ", ".join(spaces) if args.spaces else None
    return report.finish("Large outcome spaces: distance over training, support kept", body, args.no_write, seeds,
                         setting=setting, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
