"""``ips-rl sweep``: seeds x hyperparameter grids over ``ips-rl train``, one run folder per trial.

    ips-rl sweep --out sweeps/lr --seeds 0 1 2 --grid learning-rate=1e-3,3e-4 \\
        -- --env IPS/HyperGrid-v0 --timesteps 20000
    ips-rl sweep ... --ray                          # every trial a Ray Tune trial on this machine's cores
    ips-rl sweep ... --ray-address head-node:6379   # ... on a Ray cluster

Everything after ``--`` is an ``ips-rl train`` command line (without ``--out`` and ``--seed``). Each trial
is that command with one seed and one value of every ``--grid`` option, parsed here into a
:class:`~ips_agents.runs.config.RunConfig` and trained by :func:`ips_agents.runs.sweep.run_sweep` into
``<out>/<trial name>`` (e.g. ``sweeps/lr/learning-rate=1e-3_seed=0``). ``<out>/sweep.json`` lists the trials
and the last logged statistics of each. Running the same sweep again continues it (and with ``--ray`` the Tune
experiment in ``<out>/tune`` is restored with ``Tuner.restore``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
from pathlib import Path
from typing import Any

from ips_agents.cli.parsing import Parser, UsageError, folder_path, seed_int
from ips_agents.cli.train import add_train_arguments, check_env_id, given_settings
from ips_agents.integrations.ray_tune import RayOptions, add_ray_arguments, ray_options
from ips_agents.runs.config import RunConfig
from ips_agents.runs.sweep import SUMMARY_FILE, run_sweep, trial_name

RESERVED = ("out", "seed", "resume", "no-progress", "help", "checkpoint-every", "checkpoint-seconds")
"""``ips-rl train`` options the sweep sets itself (they cannot be in the train arguments or in a grid)."""


class SweepError(UsageError, ValueError):
    """A bad sweep command line (reported as one line, exit code 2)."""


def add_sweep_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the ``ips-rl`` subparsers."""
    p = sub.add_parser("sweep", help="seeds x hyperparameter grid over `ips-rl train`, one run folder per trial",
                       description=__doc__.splitlines()[0], epilog="example: ips-rl sweep --out sweeps/lr --seeds 0 1 "
                       "--grid learning-rate=1e-3,3e-4 -- --env IPS/HyperGrid-v0 --timesteps 20000")
    p.add_argument("--out", type=folder_path, required=True, help="sweep folder (one run folder per trial inside)")
    p.add_argument("--seeds", type=seed_int, nargs="+", default=[0], help="seeds in [0, 2**32 - 1] (default: 0)")
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


def _train_arguments_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ips-rl train", add_help=False)
    add_train_arguments(parser)
    return parser


def _trial_config(parser: argparse.ArgumentParser, argv: list[str]) -> RunConfig:
    """The :class:`RunConfig` of one trial's ``ips-rl train`` arguments (SweepError with the parser's message)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as e:
        lines = [line for line in err.getvalue().splitlines() if "error:" in line]
        message = lines[-1].split("error:", 1)[1].strip() if lines else f"exit status {e.code}"
        raise SweepError(f"ips-rl train {' '.join(argv)}: {message}") from None
    if args.env is None:
        raise SweepError("the train arguments after -- need --env")
    check_env_id(args.env)
    try:
        return RunConfig(**given_settings(args))
    except ValueError as e:
        raise SweepError(f"ips-rl train {' '.join(argv)}: {e}") from None


def sweep_trials(train_args: list[str], seeds: list[int], grid: list[tuple[str, list[str]]]
                 ) -> list[tuple[str, RunConfig]]:
    """One named :class:`RunConfig` per (grid point, seed), in grid order then seed order; all checked first."""
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
    parser = _train_arguments_parser()
    trials = []
    for point in itertools.product(*(values for _, values in grid)):
        for seed in seeds:
            values = [*zip((name for name, _ in grid), point), ("seed", str(seed))]
            argv = [*train_args, *(a for name, v in values for a in (f"--{name}", v))]
            trials.append((trial_name(values), _trial_config(parser, argv)))
    return trials


def run_sweep_command(args: argparse.Namespace) -> int:
    """``ips-rl sweep``: build the trials, run them (here or on Ray), write ``sweep.json`` and print a summary."""
    trials = sweep_trials(args.train_args, args.seeds, parse_grid(args.grid))
    out = Path(args.out).expanduser().resolve()
    ray = ray_options(args)
    if ray is not None and ray.storage is None:
        ray = RayOptions(address=ray.address, storage=str(out / "tune"), name=ray.name or "sweep",
                         cpus_per_trial=ray.cpus_per_trial)
    print(f"{len(trials)} trials -> {out}" + (" (Ray Tune)" if ray else ""), flush=True)
    summary = run_sweep(out, trials, ray)
    keys = ["time/total_timesteps", "time/trajectories", "rollout/ep_rew_mean", "rollout/valid_fraction"]
    print("trial | " + " | ".join(k.split("/")[1] for k in keys))
    for row in summary:
        last = row["last"]
        print(row["trial"] + " | " + " | ".join(f"{last[k]:.4g}" if k in last else "-" for k in keys))
    print(f"wrote {out / SUMMARY_FILE}")
    return 0
