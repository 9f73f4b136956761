"""The ``ips-rl`` command line: train, sweep, eval, demo, bench (and prior).

User errors (a bad flag or value, an unknown env id, a missing or corrupt run folder, a locked run, a
``--resume`` with conflicting settings, ...) end the command with **one line on stderr**
(``ips-rl: error: ...``) and **exit status 2**, never a traceback. :func:`run_command` is the one place that
does this: a subcommand signals a user error by raising :class:`UsageError` (or ``ValueError``, ``OSError``,
:class:`~ips_agents.run_files.RunLocked`, a Gymnasium registration error, or ``SystemExit("message")``).
A new subcommand adds its parser in :func:`build_parser` and its handler to :data:`COMMANDS`.
Set ``IPS_RL_TRACEBACK=1`` to see the traceback of a user error.

Ctrl-C / SIGTERM during ``ips-rl train`` saves a checkpoint after the current batch and exits with status 0
(``--resume`` continues); elsewhere a Ctrl-C exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn


class UsageError(Exception):
    """A user error: :func:`run_command` prints it as one line on stderr and exits with status 2."""


def one_line(message: object) -> str:
    """``message`` on one line (newlines and runs of spaces collapsed)."""
    return " ".join(str(message).split())


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``ips-rl train: error: ...``, exit status 2) and no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------ value parsers
def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"height\": 4}}', got {text!r}")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _float_at_least(low: float, strict: bool = False) -> Callable[[str], float]:
    bound = f"{'>' if strict else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}")
        return value

    parse.__name__ = f"number {bound}"
    return parse


positive_int = _int_at_least(1)
nonnegative_int = _int_at_least(0)
positive_float = _float_at_least(0.0, strict=True)
nonnegative_float = _float_at_least(0.0)

TRAIN_DEFAULTS: dict[str, Any] = {
    "algo": "ips-grpo", "policy": "auto", "timesteps": 100_000, "seed": 0, "env_kwargs": {}, "task": None, "group_size": 16,
    "n_groups": 8, "learning_rate": None, "ips_estimator": None, "advantage_norm": None, "ent_coef": 0.0,
    "kl_coef": 0.0, "n_epochs": 1, "net_arch": [256, 256],
}
"""Defaults of ``ips-rl train`` for a new run (a ``--resume`` compares only the flags actually given)."""
_ALGO_FLAGS = ("group_size", "n_groups", "learning_rate", "ips_alpha", "ips_eps", "ips_estimator", "advantage_norm",
               "ent_coef", "kl_coef", "n_epochs")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ips-rl", description="IPS-GRPO: RL that keeps every right answer.")
    sub = parser.add_subparsers(dest="command", required=True)

    d = TRAIN_DEFAULTS
    train = sub.add_parser("train", help="train IPS-GRPO or GRPO on an IPS/ env (resumable run folder)",
                           description="Train into a run folder. With --resume, only the flags you give are "
                                       "checked against the saved run (a larger --timesteps is applied).")
    train.add_argument("--env", default=None, help="env id, e.g. IPS/CausalDAG-v0 (required for a new run)")
    train.add_argument("--algo", default=None, choices=["ips-grpo", "grpo"], help=f"default {d['algo']}")
    train.add_argument("--policy", default=None, choices=["auto", "MlpPolicy", "TokenPolicy"],
                       help=f"default {d['policy']}: TokenPolicy where the env advertises a token layout, else MlpPolicy")
    train.add_argument("--timesteps", type=positive_int, default=None,
                       help=f"recorded transitions in total (default {d['timesteps']:,})")
    train.add_argument("--seed", type=nonnegative_int, default=None, help="default 0")
    train.add_argument("--out", required=True, help="run folder (config.json, model.zip, logs/, run.lock)")
    train.add_argument("--env-kwargs", type=_json_object, default=None, help='JSON, e.g. \'{"n_nodes": 4}\'')
    train.add_argument("--task", type=_json_object, default=None,
                       help="JSON task dict to train on (default: the task family)")
    train.add_argument("--group-size", type=_int_at_least(2), default=None, help=f"default {d['group_size']}")
    train.add_argument("--n-groups", type=positive_int, default=None, help=f"default {d['n_groups']}")
    train.add_argument("--learning-rate", type=nonnegative_float, default=None,
                       help="default: 1e-3, falling linearly to 0 with the paths / exact / trajectory estimators")
    train.add_argument("--ips-alpha", type=nonnegative_float, default=None, help="default 1 (ips-grpo) / 0 (grpo)")
    train.add_argument("--ips-eps", type=positive_float, default=None)
    train.add_argument("--ips-estimator", default=None, choices=["count", "paths", "exact", "trajectory"],
                       help="default: paths where the env reports path counts, else count")
    train.add_argument("--advantage-norm", default=None, choices=["group", "batch", "none"],
                       help="default: group with the count estimator, none with the exact one")
    train.add_argument("--ent-coef", type=nonnegative_float, default=None, help="default 0")
    train.add_argument("--kl-coef", type=nonnegative_float, default=None, help="default 0")
    train.add_argument("--n-epochs", type=positive_int, default=None, help="default 1")
    train.add_argument("--net-arch", type=positive_int, nargs="*", default=None,
                       help="MLP hidden sizes (MlpPolicy; default 256 256)")
    train.add_argument("--checkpoint-every", type=positive_int, default=50_000, help="steps between checkpoints")
    train.add_argument("--checkpoint-seconds", type=positive_float, default=300.0,
                       help="seconds between checkpoints (default 300)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--no-progress", action="store_true")

    ev = sub.add_parser("eval", help="evaluate a run folder: table + PNG plots")
    ev.add_argument("run", help="run folder made by `ips-rl train`")
    ev.add_argument("--samples", type=positive_int, default=1000)
    ev.add_argument("--task", type=_json_object, default=None, help="JSON task dict (default: the run's task or seed)")
    ev.add_argument("--seed", type=nonnegative_int, default=0)

    demo = sub.add_parser("demo", help="train IPS-GRPO and GRPO side by side (about two minutes)")
    demo.add_argument("--out", default="demo_out", help="folder for the PNG figures")
    demo.add_argument("--scale", type=positive_float, default=1.0, help="multiply every training budget (> 0)")
    demo.add_argument("--seed", type=nonnegative_int, default=0)

    bench = sub.add_parser("bench", help="run a benchmark script from benchmarks/ (from a clone of the repo)")
    bench.add_argument("name", help="script name, e.g. env_throughput")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (e.g. --quick)")

    from ips_agents.molecules.prior_cli import add_prior_parser
    from ips_agents.sweep import add_sweep_parser

    add_prior_parser(sub)
    add_sweep_parser(sub)
    return parser


# ------------------------------------------------------------------------------------------- commands
def _check_env_id(env_id: str) -> None:
    import gymnasium as gym

    import ips_envs  # noqa: F401 (registers the IPS/ ids)

    try:
        gym.spec(env_id)
    except gym.error.Error as e:
        ids = ", ".join(sorted(k for k in gym.registry if k.startswith("IPS/")))
        raise UsageError(f"unknown env id {env_id!r} ({one_line(e)}); registered IPS ids: {ids}") from None


def _given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings the user typed (None = flag not given)."""
    top = {"env": args.env, "algo": args.algo, "policy": args.policy, "timesteps": args.timesteps, "seed": args.seed,
           "env_kwargs": args.env_kwargs, "task": args.task}
    given: dict[str, Any] = {k: v for k, v in top.items() if v is not None}
    algo_kwargs = {k: getattr(args, k) for k in _ALGO_FLAGS if getattr(args, k) is not None}
    if args.net_arch is not None:
        algo_kwargs["policy_kwargs"] = {"net_arch": args.net_arch}
    if algo_kwargs:
        given["algo_kwargs"] = algo_kwargs
    return given


def _new_run_config(args: argparse.Namespace) -> Any:
    if args.env is None:
        raise UsageError("--env is required for a new run (or pass --resume to continue the run in --out)")
    _check_env_id(args.env)
    from ips_agents.training import RunConfig

    value = {k: getattr(args, k) if getattr(args, k) is not None else TRAIN_DEFAULTS.get(k) for k in
             (*TRAIN_DEFAULTS, "ips_alpha", "ips_eps")}
    algo_kwargs: dict[str, Any] = {k: value[k] for k in _ALGO_FLAGS if k not in ("ips_alpha", "ips_eps")}
    algo_kwargs["policy_kwargs"] = {"net_arch": value["net_arch"]}
    for k in ("ips_alpha", "ips_eps"):
        if value[k] is not None:
            algo_kwargs[k] = value[k]
    if value["algo"] == "grpo":
        algo_kwargs.pop("ips_estimator")
    return RunConfig(env=args.env, algo=value["algo"], policy=value["policy"], timesteps=value["timesteps"],
                     seed=value["seed"],
                     env_kwargs=value["env_kwargs"], algo_kwargs=algo_kwargs, task=value["task"])


def _train(args: argparse.Namespace) -> int:
    from ips_agents.training import train_run

    config = _given_settings(args) if args.resume else _new_run_config(args)
    model = train_run(args.out, config, resume=args.resume, checkpoint_every=args.checkpoint_every,
                      checkpoint_seconds=args.checkpoint_seconds, progress_bar=not args.no_progress)
    print(f"trained {model.num_timesteps:,} steps / {model.num_trajectories:,} trajectories -> {args.out}/model.zip")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from ips_agents import plots
    from ips_agents.evaluation import (
        empirical_distribution,
        exact_outcome_distribution,
        outcome_report,
        recovery_curve,
        sample_outcomes,
    )
    from ips_agents.training import env_kwargs_with_task, load_run

    config, model = load_run(args.run)
    env = gym.make(config.env, **env_kwargs_with_task(config))
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


def _demo(args: argparse.Namespace) -> int:
    from ips_agents.demo import run_demo

    return run_demo(out=args.out, scale=args.scale, seed=args.seed)


def _bench(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(f"benchmarks.{args.name}")
    except ModuleNotFoundError as e:
        raise UsageError(f"no benchmark named {args.name!r} (run from a clone of the repository): {e}") from None
    return int(module.main(args.args) or 0)


def _sweep(args: argparse.Namespace) -> int:
    from ips_agents.sweep import run_sweep

    return run_sweep(args)


def _prior(args: argparse.Namespace) -> int:
    from ips_agents.molecules.prior_cli import run_prior

    return run_prior(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _train, "sweep": _sweep, "eval": _eval, "demo": _demo, "bench": _bench, "prior": _prior,
}
"""Subcommand name -> handler (returns the exit status; raises a user error as described above)."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from ips_agents.run_files import RunLocked

    types: list[type[BaseException]] = [UsageError, ValueError, OSError, RunLocked]
    gym = sys.modules.get("gymnasium")
    if gym is not None:
        types.append(gym.error.Error)
    return tuple(types)


def _run_interrupted(e: BaseException) -> bool:
    """Whether ``e`` is a :class:`~ips_agents.training.RunInterrupted` (without importing training for it)."""
    training = sys.modules.get("ips_agents.training")
    return training is not None and isinstance(e, training.RunInterrupted)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command: user errors become one line on stderr and exit status 2 (the one place)."""
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt as e:
        if _run_interrupted(e):  # a run saved after SIGINT / SIGTERM: the caller decides (main() exits with 0)
            raise
        print("ips-rl: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:
        if isinstance(e.code, str):  # SystemExit("message"): a user error
            if os.environ.get("IPS_RL_TRACEBACK"):
                raise
            print(f"ips-rl {args.command}: error: {one_line(e.code)}", file=sys.stderr)
            return 2
        raise
    except Exception as e:
        if not isinstance(e, _user_error_types()) or os.environ.get("IPS_RL_TRACEBACK"):
            raise
        print(f"ips-rl {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ips-rl`` entry point: parse ``argv`` and run the command; returns the exit status.

    A training run stopped by SIGINT / SIGTERM (after saving its checkpoint) prints how to resume and returns 0;
    code that runs commands in process and must know about the interruption (``ips-rl sweep``) calls
    :func:`run_command`, which raises :class:`~ips_agents.training.RunInterrupted` instead.
    """
    args = build_parser().parse_args(argv)
    try:
        return run_command(args)
    except KeyboardInterrupt as e:
        if not _run_interrupted(e):
            raise
        print(f"ips-rl: {e}", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main())
