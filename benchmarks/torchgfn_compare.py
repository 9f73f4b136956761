"""ips-rl against torchgfn 2.4.1 on HyperGrid: env throughput, TB per iteration, exact L1 per trajectory.

Three side-by-side measurements in one run on one machine (ratios, because the machine is shared):

1. Env throughput with uniformly random legal actions at batch 256: ``gymnasium.make_vec("IPS/HyperGrid-v0")``
   against torchgfn's ``HyperGrid`` stepped with ``env._step`` (its sampler's path). Unit: transitions/s.
2. Trajectory balance per iteration (batch 128, MLP 2x256, Adam lr 1e-3, log Z lr 0.1) on 2D H=8:
   ``ips_agents.TrajectoryBalance`` against torchgfn's ``TBGFlowNet``.
3. Exact sum-L1 of the terminal distribution to R/Z against trajectories sampled, at 6,400-trajectory
   checkpoints up to 51,200: torchgfn TB, ips-rl TB and IPS-GRPO with exact propensities (batch 128).

torchgfn needs ``numpy<2``, so it runs in its own interpreter (``make torchgfn-venv`` builds
``.venv-torchgfn``; ``--torchgfn-python`` or ``$IPS_RL_TORCHGFN_PYTHON`` names another). Without one, the
torchgfn columns are reported as missing and only the ips-rl side runs.

Differences to keep in mind: in parts 2-3 ips-rl's HyperGrid runs with ``canonical_order=True`` (one path per
cell, so P_B = 1 and propensities are exact); torchgfn's TB learns P_B over the full grid DAG. Both targets
are the same R(x)/Z over all H^ndim cells (exit is legal everywhere in both).

4. ``--part dag``: the same DAG on both sides. IPS-GRPO on the grid without canonical order, with path-count
   propensities (``n(x) p(tau)``, ``n(x)`` the multinomial number of move orders to the cell; its defaults:
   lr 3e-3 falling linearly to 0 over the run), against torchgfn TB with a learned P_B and with P_B fixed to
   uniform over parents, batch 128 on every side, on 2D and 4D H=8: the trajectories and training seconds to
   the first checkpoint with exact L1 <= 1e-3, and the L1 at the end of the budget.

    python -m benchmarks.torchgfn_compare [--quick] [--seeds 3] [--part all|dag]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.utils import LinearSchedule

import ips_envs  # noqa: F401  (registers the ids)
from benchmarks import report
from benchmarks.report import figures_dir, table
from ips_agents import plots
from ips_agents.algorithms.ips_grpo import IPSGRPO
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance
from ips_agents.runs.tracking import train_tracked

ROOT = Path(__file__).resolve().parent.parent
SIDE = Path(__file__).resolve().parent / "torchgfn_side.py"
NET = {"net_arch": [256, 256]}
ANCHOR = 32_000
"""Trajectories at which the brief's torchgfn anchor was measured (exact L1 0.0035)."""
OURS = {
    "ips-rl TB": (TrajectoryBalance, dict(group_size=16, n_groups=8, learning_rate=1e-3, logz_learning_rate=0.1,
                                          policy_kwargs=NET)),
    # lr 1e-3 falling linearly to 0 over the 51,200 trajectories; advantage_norm "none" (the exact default)
    "ips-rl IPS-GRPO (exact p)": (IPSGRPO, dict(group_size=16, n_groups=8, learning_rate=LinearSchedule(1e-3, 0.0, 1.0),
                                                ips_estimator="exact", policy_kwargs=NET)),
}


def torchgfn_python(explicit: str | None) -> str | None:
    """The interpreter that has torchgfn: ``explicit``, ``$IPS_RL_TORCHGFN_PYTHON`` or ``.venv-torchgfn``.

    ``explicit="none"`` turns the torchgfn side off."""
    if explicit == "none":
        return None
    for candidate in (explicit, os.environ.get("IPS_RL_TORCHGFN_PYTHON"), ROOT / ".venv-torchgfn" / "bin" / "python"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def run_side(python: str, *args: str) -> dict:
    """Run ``torchgfn_side.py`` with ``python`` and return the JSON it prints."""
    proc = subprocess.run([python, str(SIDE), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"torchgfn side failed ({python} {' '.join(args)}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ours_env_throughput(ndim: int, height: int, batch: int, seconds: float, seed: int) -> float:
    """Transitions/s of ``make_vec`` HyperGrid under uniformly random legal actions (autoreset steps excluded)."""
    env = gym.make_vec("IPS/HyperGrid-v0", num_envs=batch, ndim=ndim, height=height)
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    resetting = np.zeros(batch, bool)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        mask = info["action_mask"]
        cum = np.cumsum(mask, axis=1)
        pick = (rng.random(batch) * cum[:, -1]).astype(np.int64)
        # rows that just ended allow only the dummy ENDED_ACTION; the autoreset step ignores it
        actions = np.minimum((cum <= pick[:, None]).sum(1), mask.shape[1] - 1)
        _, _, term, trunc, info = env.step(actions)
        steps += int((~resetting).sum())
        resetting = term | trunc
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def env_rows(python: str | None, quick: bool, seeds: int) -> list[list]:
    rows = []
    seconds = 1.0 if quick else 5.0
    for ndim, height in [(2, 8)] if quick else [(2, 8), (4, 8), (2, 20)]:
        ours = [ours_env_throughput(ndim, height, 256, seconds, s) for s in range(seeds)]
        theirs = ([run_side(python, "env", "--ndim", str(ndim), "--height", str(height), "--batch", "256",
                            "--seconds", str(seconds), "--seed", str(s))["steps_per_s"] for s in range(seeds)]
                  if python else [])
        ratio = f"{np.mean(ours) / np.mean(theirs):.1f}x" if theirs else "n/a"
        rows.append([f"{ndim}D H={height}", f"{np.mean(ours):,.0f}",
                     f"{np.mean(theirs):,.0f}" if theirs else "not installed", ratio])
        print(" | ".join(map(str, rows[-1])), flush=True)
    return rows


def training_rows(python: str | None, quick: bool, seeds: int) -> tuple[list[list], list[list], dict]:
    total = 1_280 if quick else 51_200
    evals = 2 if quick else 8
    checkpoints = [total * (i + 1) // evals for i in range(evals)]
    curves: dict[str, tuple[list, list]] = {}
    finals: dict[str, list[dict]] = {}
    for label, (algo, kwargs) in OURS.items():
        for seed in range(seeds):
            run = train_tracked(label, algo, "IPS/HyperGrid-v0", total, evals=evals,
                                env_kwargs={"ndim": 2, "height": 8, "canonical_order": True}, seed=seed, **kwargs)
            points = [{"trajectories": c.trajectories, "seconds": c.seconds, "l1": c.report["l1"]} for c in run.history]
            iterations = run.history[-1].trajectories / 128
            finals.setdefault(label, []).append({"checkpoints": points,
                                                 "ms_per_iteration": 1e3 * run.history[-1].seconds / iterations})
            print(f"{label} seed {seed}: L1 {points[-1]['l1']:.3g}", flush=True)
    if python:
        for seed in range(seeds):
            res = run_side(python, "tb", "--ndim", "2", "--height", "8", "--batch", "128", "--seed", str(seed),
                           "--checkpoints", *map(str, checkpoints))
            finals.setdefault("torchgfn TB", []).append(res)
            print(f"torchgfn TB seed {seed}: L1 {res['checkpoints'][-1]['l1']:.3g}", flush=True)
    rows = []
    marks = sorted({min(ANCHOR, total), total})  # ANCHOR is one of the full run's 6,400-trajectory checkpoints
    for label, runs in finals.items():
        cells = [label, f"{np.mean([r['ms_per_iteration'] for r in runs]):.1f}"]
        for mark in marks:
            l1 = [next(c["l1"] for c in r["checkpoints"] if c["trajectories"] >= mark) for r in runs]
            secs = [next(c["seconds"] for c in r["checkpoints"] if c["trajectories"] >= mark) for r in runs]
            cells += [f"{np.mean(l1):.2g} ± {np.std(l1):.2g}", f"{np.mean(secs):.1f}"]
        rows.append(cells)
        curves[label] = ([c["trajectories"] for c in runs[0]["checkpoints"]],
                         [float(np.mean([r["checkpoints"][i]["l1"] for r in runs])) for i in range(len(runs[0]["checkpoints"]))])
    header = ["method", "ms / iteration (batch 128)"]
    for mark in marks:
        header += [f"exact L1 at {mark:,} traj", f"s to {mark:,}"]
    return rows, header, curves


L1_GOAL = 1e-3
"""Exact sum-L1 the DAG comparison times each method to."""
DAG_BUDGETS = {(2, 8): 51_200, (4, 8): 102_400}
"""Trajectories per run on the DAG (the full runs; --trajectories overrides, --quick uses 1,280)."""


def time_to_goal(checkpoints: Sequence[dict], goal: float = L1_GOAL) -> tuple[int | None, float | None]:
    """Trajectories and seconds at the first checkpoint whose exact L1 is <= ``goal`` (None, None if none is)."""
    for c in checkpoints:
        if c["l1"] <= goal:
            return c["trajectories"], c["seconds"]
    return None, None


def dag_rows(python: str | None, quick: bool, seeds: int, budget: int | None,
             grids: Sequence[tuple[int, int]] | None = None) -> tuple[list[list], dict]:
    """IPS-GRPO with path counts vs torchgfn TB (learned / uniform P_B), all on the HyperGrid DAG."""
    rows, curves = [], {}
    grids = [(2, 8)] if quick else list(grids or DAG_BUDGETS)
    for ndim, height in grids:
        total = 1_280 if quick else (budget or DAG_BUDGETS[(ndim, height)])
        evals = 2 if quick else 16
        checkpoints = [total * (i + 1) // evals for i in range(evals)]
        runs: dict[str, list[list[dict]]] = {}
        label = "ips-rl IPS-GRPO (path counts)"
        for seed in range(seeds):
            run = train_tracked(label, IPSGRPO, "IPS/HyperGrid-v0", total, evals=evals,
                                env_kwargs={"ndim": ndim, "height": height}, seed=seed, group_size=16, n_groups=8,
                                policy_kwargs=NET)
            assert run.model.ips_estimator == "paths"
            runs.setdefault(label, []).append([{"trajectories": c.trajectories, "seconds": c.seconds,
                                                "l1": c.report["l1"]} for c in run.history])
            print(f"{ndim}D {label} seed {seed}: L1 {runs[label][-1][-1]['l1']:.3g}", flush=True)
        if python:
            for pb in ("learned", "uniform"):
                tb_label = f"torchgfn TB ({pb} P_B)"
                for seed in range(seeds):
                    res = run_side(python, "tb", "--ndim", str(ndim), "--height", str(height), "--batch", "128",
                                   "--seed", str(seed), "--pb", pb, "--checkpoints", *map(str, checkpoints))
                    runs.setdefault(tb_label, []).append(res["checkpoints"])
                    print(f"{ndim}D {tb_label} seed {seed}: L1 {res['checkpoints'][-1]['l1']:.3g}", flush=True)
        for name, per_seed in runs.items():
            hits = [time_to_goal(points) for points in per_seed]
            reached = [h for h in hits if h[0] is not None]
            final = [points[-1]["l1"] for points in per_seed]
            traj = f"{np.mean([h[0] for h in reached]):,.0f}" if reached else f"> {total:,}"
            secs = f"{np.mean([h[1] for h in reached]):.1f}" if reached else "—"
            rows.append([f"{ndim}D H={height}", name, f"{len(reached)}/{len(per_seed)}", traj, secs,
                         f"{np.mean(final):.2g} ± {np.std(final):.2g}", f"{total:,}"])
            curves[f"{ndim}D {name}"] = ([c["trajectories"] for c in per_seed[0]],
                                         [float(np.mean([p[i]["l1"] for p in per_seed])) for i in range(evals)])
            print(" | ".join(map(str, rows[-1])), flush=True)
    return rows, curves


def dag_main(args, python: str | None, seeds: int) -> int:
    grids = [tuple(int(v) for v in g.split("x")) for g in args.grids] if args.grids else None
    rows, curves = dag_rows(python, args.quick, seeds, args.trajectories, grids)
    plots.plot_curves(curves, figures_dir() / "torchgfn_hypergrid_dag_l1.png", "trajectories",
                      "exact sum-L1 to target", "HyperGrid DAG: IPS-GRPO (path counts) vs torchgfn TB", logy=True)
    header = ["grid", "method", f"seeds reaching L1 <= {L1_GOAL:g}", "trajectories to it (mean of those)",
              "training s to it", "exact L1 at the end", "budget (trajectories)"]
    body = table(header, rows)
    body += ("\n\nBoth sides on the same grid DAG (no canonical order), batch 128, MLP 2x256, 16 checkpoints per run. "
             "IPS-GRPO: group_size 16 x 8 groups, path-count propensities and its defaults (lr 3e-3 falling "
             "linearly to 0 over the budget). torchgfn TB: Adam 1e-3, log Z lr 0.1. Seconds are training time "
             "only (no evaluation), on a shared 2-core machine. Figure: figures/torchgfn_hypergrid_dag_l1.png")
    return report.finish("ips-rl vs torchgfn on the HyperGrid DAG: trajectories and seconds to exact L1 <= 1e-3",
                         body, args.no_write, seeds, quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__)
    parser.add_argument("--torchgfn-python", default=None, help="interpreter with torchgfn 2.4.1 installed ('none': ips-rl side only)")
    parser.add_argument("--part", choices=["all", "dag"], default="all",
                        help="all: throughput, TB per iteration and the canonical-order L1 runs; dag: part 4 only")
    parser.add_argument("--grids", nargs="*", default=None, choices=["2x8", "4x8"],
                        help="--part dag: grids as NDIMxHEIGHT (default: both)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    python = torchgfn_python(args.torchgfn_python)
    if python is None:
        print("torchgfn interpreter not found (make torchgfn-venv); reporting the ips-rl side only", file=sys.stderr)
    if args.part == "dag":
        return dag_main(args, python, seeds)
    env = env_rows(python, args.quick, seeds)
    train, header, curves = training_rows(python, args.quick, seeds)
    plots.plot_curves(curves, figures_dir() / "torchgfn_hypergrid_l1.png", "trajectories",
                      "exact sum-L1 to target", "HyperGrid 2D H=8: ips-rl vs torchgfn (mean over seeds)", logy=True)
    body = "Env throughput, random legal actions, batch 256 (transitions/s):\n\n"
    body += table(["grid", "ips-rl make_vec", "torchgfn HyperGrid", "ratio"], env)
    body += "\n\nTraining on HyperGrid 2D H=8, batch 128, MLP 2x256 (L1 = exact sum over the 64 cells):\n\n"
    body += table(header, train)
    body += ("\n\nips-rl runs use canonical_order=True (a tree: P_B = 1); torchgfn TB learns P_B on the grid DAG."
             "\n\nFigure: figures/torchgfn_hypergrid_l1.png")
    return report.finish("ips-rl vs torchgfn on HyperGrid", body, args.no_write, seeds,
                         quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
