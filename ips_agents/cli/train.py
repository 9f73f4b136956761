"""``ips-rl train``: its flags, choices and help text are built from the settings tables.

The run-level flags come from :class:`~ips_agents.runs.config.RunConfig` (:data:`~ips_agents.runs.config.RUN_FIELDS`)
and the algorithm flags from :data:`~ips_agents.algorithms.settings.SETTINGS`; every flag defaults to "not
given", so a new run takes the tables' defaults and ``--resume`` checks only the flags actually typed.
"""

from __future__ import annotations

import argparse
from typing import Any

from ips_agents.algorithms.settings import POLICY_NAMES, SETTINGS
from ips_agents.cli.parsing import (
    UsageError,
    check_env_id,
    folder_path,
    int_at_least,
    json_object,
    positive_float,
    positive_int,
    seed_int,
    setting_parser,
)
from ips_agents.policies import MAX_LAYER_WIDTH
from ips_agents.runs.config import ALGOS, POLICY_KWARGS, RUN_FIELDS, RunConfig, run_defaults

NET_ARCH_HELP = "MLP hidden sizes (MlpPolicy; default: the policy's, 256 256)"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that describe a run (everything but ``--out``, ``--resume`` and the checkpoint cadence)."""
    d = run_defaults()
    parser.add_argument("--env", default=None, help=RUN_FIELDS["env"])
    parser.add_argument("--algo", default=None, choices=sorted(ALGOS), help=f"default {d['algo']}")
    parser.add_argument("--policy", default=None, choices=POLICY_NAMES, help=f"{RUN_FIELDS['policy']} "
                        f"(default {d['policy']})")
    parser.add_argument("--timesteps", type=positive_int, default=None,
                        help=f"{RUN_FIELDS['timesteps']} (default {d['timesteps']:,})")
    parser.add_argument("--seed", type=seed_int, default=None, help=f"{RUN_FIELDS['seed']} (default {d['seed']})")
    parser.add_argument("--env-kwargs", type=json_object, default=None, help=RUN_FIELDS["env_kwargs"])
    parser.add_argument("--task", type=json_object, default=None, help=RUN_FIELDS["task"])
    algo = parser.add_argument_group("algorithm settings (the same defaults as IPSGRPO(...))")
    for setting in SETTINGS.values():
        if setting.cli:
            algo.add_argument(setting.flag, type=setting_parser(setting), default=None, choices=setting.choices,
                              help=f"{setting.help} (default {setting.describe_default()})"
                              if setting.default is not None else setting.help)
    algo.add_argument("--net-arch", type=int_at_least(1, MAX_LAYER_WIDTH), nargs="*", default=None, help=NET_ARCH_HELP)


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train`` to the ``ips-rl`` subparsers."""
    train = sub.add_parser("train", help="train IPS-GRPO or GRPO on an IPS/ env (resumable run folder)",
                           description="Train into a run folder. With --resume, only the flags you give are "
                                       "checked against the saved run (a larger --timesteps is applied).")
    train.add_argument("--out", type=folder_path, required=True,
                       help="run folder (config.json, model.zip, logs/, run.lock)")
    add_train_arguments(train)
    train.add_argument("--checkpoint-every", type=positive_int, default=50_000, help="steps between checkpoints")
    train.add_argument("--checkpoint-seconds", type=positive_float, default=300.0,
                       help="seconds between checkpoints (default 300)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--no-progress", action="store_true")
    return train


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings the user typed, as :class:`RunConfig` keys (flags not given are left out)."""
    top = {k: getattr(args, k) for k in ("env", "algo", "policy", "timesteps", "seed", "env_kwargs", "task")}
    given: dict[str, Any] = {k: v for k, v in top.items() if v is not None}
    algo_kwargs = {k: getattr(args, k) for k, s in SETTINGS.items() if s.cli and getattr(args, k) is not None}
    if args.net_arch is not None:
        algo_kwargs[POLICY_KWARGS] = {"net_arch": args.net_arch}
    if algo_kwargs:
        given["algo_kwargs"] = algo_kwargs
    return given


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` of a new run from parsed ``train`` flags (the tables' defaults where not given)."""
    if args.env is None:
        raise UsageError("--env is required for a new run (or pass --resume to continue the run in --out)")
    check_env_id(args.env)
    return RunConfig(**given_settings(args))


def run_train(args: argparse.Namespace) -> int:
    """``ips-rl train``: train (or resume) the run in ``--out``."""
    from ips_agents.runs.training import train_run

    config = given_settings(args) if args.resume else config_from_args(args)
    model = train_run(args.out, config, resume=args.resume, checkpoint_every=args.checkpoint_every,
                      checkpoint_seconds=args.checkpoint_seconds, progress_bar=not args.no_progress)
    print(f"trained {model.num_timesteps:,} steps / {model.num_trajectories:,} trajectories -> {args.out}/model.zip")
    return 0
