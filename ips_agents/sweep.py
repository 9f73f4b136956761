"""``ips-rl sweep``: seeds x hyperparameter grids over ``ips-rl train``, one run folder per trial.

    ips-rl sweep --out sweeps/lr --seeds 0 1 2 --grid learning-rate=1e-3,3e-4 \\
        -- --env IPS/HyperGrid-v0 --timesteps 20000
    ips-rl sweep ... --ray                          # every trial a Ray Tune trial on this machine's cores
    ips-rl sweep ... --ray-address head-node:6379   # ... on a Ray cluster

Everything after ``--`` is an ``ips-rl train`` command line (without ``--out`` and ``--seed``). Each trial
is that command with one seed and one value of every ``--grid`` option, run exactly as ``ips-rl train``
runs it, into ``<out>/<trial name>`` (e.g. ``sweeps/lr/learning-rate=1e-3_seed=0``): config.json, model.zip
and logs/, so ``ips-rl eval`` reads any of them. ``<out>/sweep.json`` lists the trials and the last logged
statistics of each. Running the same sweep again continues it: finished trials are not trained again, a
trial that was interrupted resumes from its last checkpoint (and with ``--ray`` the Tune experiment in
``<out>/tune`` is restored with ``Tuner.restore``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

from ips_agents.units import RayOptions, SweepMismatchError, Unit, add_ray_arguments, ray_options, run_units

RESERVED = ("out", "seed", "resume", "no-progress", "help")
"""``ips-rl train`` options the sweep sets itself (they cannot be in the train arguments or in a grid)."""
SUMMARY_FILE = "sweep.json"


class SweepError(ValueError):
    """A bad sweep command line (reported as one line, exit code 2)."""


def add_sweep_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the ``ips-rl`` subparsers."""
    p = sub.add_parser("sweep", help="seeds x hyperparameter grid over `ips-rl train`, one run folder per trial",
                       description=__doc__.splitlines()[0], epilog="example: ips-rl sweep --out sweeps/lr --seeds 0 1 "
                       "--grid learning-rate=1e-3,3e-4 -- --env IPS/HyperGrid-v0 --timesteps 20000")
    p.add_argument("--out", required=True, help="sweep folder (one run folder per trial inside)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default: 0)")
    p.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2,...",
                   help="an `ips-rl train` option and its values, e.g. learning-rate=1e-3,3e-4 (repeat for a product)")
    add_ray_arguments(p)
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the `ips-rl train` arguments")
    return p


def parse_grid(specs: list[str]) -> list[tuple[str, list[str]]]:
    """``["learning-rate=1e-3,3e-4"]`` -> ``[("learning-rate", ["1e-3", "3e-4"])]`` (SweepError when malformed)."""
    grid: list[tuple[str, list[str]]] = []
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().lstrip("-")
        parts = [v.strip() for v in values.split(",")] if sep else []
        if not name or not parts or any(not v for v in parts):
            raise SweepError(f"--grid {spec!r} must look like OPTION=V1,V2,... (e.g. learning-rate=1e-3,3e-4)")
        if name in RESERVED:
            raise SweepError(f"--grid {name}: the sweep sets --{name} itself" + (" (use --seeds)" if name == "seed" else ""))
        if any(n == name for n, _ in grid):
            raise SweepError(f"--grid {name} is given twice; list all its values in one --grid")
        grid.append((name, parts))
    return grid


def trial_name(values: list[tuple[str, str]]) -> str:
    """Folder name of one trial, e.g. ``learning-rate=1e-3_seed=0`` (characters outside [A-Za-z0-9._=-] -> ``-``)."""
    return "_".join(f"{k}={re.sub(r'[^A-Za-z0-9._-]+', '-', v)}" for k, v in values)


def sweep_units(out: str | Path, train_args: list[str], seeds: list[int],
                grid: list[tuple[str, list[str]]]) -> list[Unit]:
    """One :func:`train_trial` unit per (grid point, seed); every trial's command line is checked first."""
    from ips_agents.cli import build_parser

    train_args = list(train_args)
    if train_args[:1] == ["--"]:
        train_args = train_args[1:]
    for arg in train_args:
        if arg.startswith("--") and arg[2:].split("=")[0] in RESERVED:
            raise SweepError(f"{arg.split('=')[0]} cannot be an ips-rl train argument of a sweep (the sweep sets it)")
    if not seeds:
        raise SweepError("--seeds needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"--seeds repeats a seed: {seeds}")
    out = Path(out).expanduser().resolve()
    parser = build_parser()
    units = []
    for point in itertools.product(*(values for _, values in grid)):
        for seed in seeds:
            values = [*zip((name for name, _ in grid), point), ("seed", str(seed))]
            argv = [*train_args, *(a for name, v in values for a in (f"--{name}", v))]
            _check_train_args(parser, argv)
            name = trial_name(values)
            units.append(Unit(name, train_trial, {"folder": str(out / name), "train_args": argv}))
    return units


def _check_train_args(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Parse one trial's ``ips-rl train`` command line; SweepError with argparse's message when it is bad."""
    import contextlib
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parser.parse_args(["train", *argv, "--out", "x"])
    except SystemExit as e:
        lines = [line for line in err.getvalue().splitlines() if "error:" in line]
        message = lines[-1].split("error:", 1)[1].strip() if lines else f"exit status {e.code}"
        raise SweepError(f"ips-rl train {' '.join(argv)}: {message}") from None


def _last_logged(folder: Path) -> dict[str, float]:
    """The last row of a run's logs/progress.csv (numbers only), or {} when there is none."""
    path = folder / "logs" / "progress.csv"
    if not path.exists():
        return {}
    with path.open() as f:
        rows = list(csv.DictReader(f))
    out: dict[str, float] = {}
    for k, v in (rows[-1] if rows else {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def train_trial(folder: str, train_args: list[str]) -> dict[str, Any]:
    """One trial: ``ips-rl train <train_args> --out <folder>`` (``--resume`` when the folder already holds a model,
    so an interrupted trial continues and a finished one is only reloaded). Returns the run's last logged row."""
    from ips_agents.cli import build_parser, run_command
    from ips_agents.training import MODEL_FILE

    run = Path(folder)
    argv = ["train", *train_args, "--out", str(run), "--no-progress"]
    if (run / MODEL_FILE).exists():
        argv.append("--resume")
    code = run_command(build_parser().parse_args(argv))  # a SIGINT / SIGTERM (RunInterrupted) stops the sweep
    if code:
        raise RuntimeError(f"ips-rl {' '.join(argv)} exited with {code}")
    return {"folder": str(run), "train_args": list(train_args), "last": _last_logged(run)}


def run_sweep(args: argparse.Namespace) -> int:
    """``ips-rl sweep``: build the trials, run them (here or on Ray), write ``sweep.json`` and print a summary."""
    try:
        grid = parse_grid(args.grid)
        units = sweep_units(args.out, args.train_args, args.seeds, grid)
    except SweepError as e:
        print(f"ips-rl sweep: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser().resolve()
    ray = ray_options(args)
    if ray is not None and ray.storage is None:
        ray = RayOptions(address=ray.address, storage=str(out / "tune"), name=ray.name or "sweep",
                         cpus_per_trial=ray.cpus_per_trial)
    print(f"{len(units)} trials -> {out}" + (" (Ray Tune)" if ray else ""), flush=True)
    try:
        results = run_units(units, ray, label="sweep")
    except SweepMismatchError as e:
        print(f"ips-rl sweep: error: {e}", file=sys.stderr)
        return 2
    summary = [{"trial": u.name, **r} for u, r in zip(units, results, strict=True)]
    from ips_agents.training import atomic_write_text

    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=1, sort_keys=True))
    keys = ["time/total_timesteps", "time/trajectories", "rollout/ep_rew_mean", "rollout/valid_fraction"]
    print("trial | " + " | ".join(k.split("/")[1] for k in keys))
    for row in summary:
        last = row["last"]
        print(row["trial"] + " | " + " | ".join(f"{last[k]:.4g}" if k in last else "-" for k in keys))
    print(f"wrote {out / SUMMARY_FILE}")
    return 0
