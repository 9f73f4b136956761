"""The ``ips-rl`` command line: train, sweep, eval, demo, bench."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {text!r} ({e})") from e


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ips-rl", description="IPS-GRPO: RL that keeps every right answer.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train IPS-GRPO or GRPO on an IPS/ env (resumable run folder)")
    train.add_argument("--env", required=True, help="env id, e.g. IPS/CausalDAG-v0")
    train.add_argument("--algo", default="ips-grpo", choices=["ips-grpo", "grpo"])
    train.add_argument("--timesteps", type=int, default=100_000, help="recorded transitions in total")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="run folder (config.json, model.zip, logs/)")
    train.add_argument("--env-kwargs", type=_json, default={}, help='JSON, e.g. \'{"n_nodes": 4}\'')
    train.add_argument("--task", type=_json, default=None, help="JSON task dict to train on (default: task family)")
    train.add_argument("--group-size", type=int, default=16)
    train.add_argument("--n-groups", type=int, default=8)
    train.add_argument("--learning-rate", type=float, default=None,
                       help="default: 1e-3, falling linearly to 0 with the paths / exact / trajectory estimators")
    train.add_argument("--ips-alpha", type=float, default=None, help="default 1 (ips-grpo) / 0 (grpo)")
    train.add_argument("--ips-eps", type=float, default=None)
    train.add_argument("--ips-estimator", default=None, choices=["count", "paths", "exact", "trajectory"],
                       help="default: paths where the env reports path counts, else count")
    train.add_argument("--advantage-norm", default=None, choices=["group", "batch", "none"],
                       help="default: group with the count estimator, none with the exact one")
    train.add_argument("--ent-coef", type=float, default=0.0)
    train.add_argument("--kl-coef", type=float, default=0.0)
    train.add_argument("--n-epochs", type=int, default=1)
    train.add_argument("--net-arch", type=int, nargs="*", default=[256, 256])
    train.add_argument("--checkpoint-every", type=int, default=50_000)
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--no-progress", action="store_true")

    ev = sub.add_parser("eval", help="evaluate a run folder: table + PNG plots")
    ev.add_argument("run", help="run folder made by `ips-rl train`")
    ev.add_argument("--samples", type=int, default=1000)
    ev.add_argument("--task", type=_json, default=None, help="JSON task dict (default: the run's task or seed)")
    ev.add_argument("--seed", type=int, default=0)

    demo = sub.add_parser("demo", help="train IPS-GRPO and GRPO side by side (about two minutes)")
    demo.add_argument("--out", default="demo_out", help="folder for the PNG figures")
    demo.add_argument("--scale", type=float, default=1.0, help="multiply every training budget")
    demo.add_argument("--seed", type=int, default=0)

    bench = sub.add_parser("bench", help="run a benchmark script from benchmarks/ (from a clone of the repo)")
    bench.add_argument("name", help="script name, e.g. env_throughput")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (e.g. --quick)")

    from ips_agents.molecules.prior_cli import add_prior_parser
    from ips_agents.sweep import add_sweep_parser

    add_prior_parser(sub)
    add_sweep_parser(sub)
    return parser


def _train(args: argparse.Namespace) -> int:
    from ips_agents.training import RunConfig, train_run

    algo_kwargs: dict[str, Any] = {
        "group_size": args.group_size, "n_groups": args.n_groups, "learning_rate": args.learning_rate,
        "ips_estimator": args.ips_estimator, "advantage_norm": args.advantage_norm, "ent_coef": args.ent_coef,
        "kl_coef": args.kl_coef, "n_epochs": args.n_epochs, "policy_kwargs": {"net_arch": args.net_arch},
    }
    if args.ips_eps is not None:
        algo_kwargs["ips_eps"] = args.ips_eps
    if args.ips_alpha is not None:
        algo_kwargs["ips_alpha"] = args.ips_alpha
    if args.algo == "grpo":
        algo_kwargs.pop("ips_estimator")
    config = RunConfig(env=args.env, algo=args.algo, timesteps=args.timesteps, seed=args.seed,
                       env_kwargs=args.env_kwargs, algo_kwargs=algo_kwargs, task=args.task)
    model = train_run(args.out, config, resume=args.resume, checkpoint_every=args.checkpoint_every,
                      progress_bar=not args.no_progress)
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
    samples = sample_outcomes(model, env, args.samples, task=task, seed=args.seed)
    out = Path(args.run)
    print(f"{config.env} ({config.algo}), task: {json.dumps(task)}")
    try:
        target = env.unwrapped.target_distribution()
    except NotImplementedError:
        target = None
    if target is None:
        dist = empirical_distribution(samples)
        print(f"{len(dist)} distinct outcomes in {args.samples} samples; valid fraction "
              f"{sum(1 for s in samples if not s.startswith('<')) / len(samples):.3f}")
        return 0
    exact = exact_outcome_distribution(model, env, task)
    report = outcome_report(exact, target)
    curve = recovery_curve(samples, target)
    rows = [("|admissible|", len(target)), ("samples", args.samples), ("RR(samples)", f"{curve[-1]:.3f}"),
            *((f"exact {k}", f"{v:.4f}") for k, v in report.items())]
    for name, value in rows:
        print(f"{name:>26s}  {value}")
    plots.plot_recovery({config.algo: curve}, out / "recovery.png", f"{config.env}: recovery", len(target))
    plots.plot_outcome_bars({config.algo: exact}, target, out / "outcomes.png", f"{config.env}: exact outcomes")
    print(f"wrote {out / 'recovery.png'} and {out / 'outcomes.png'}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(f"benchmarks.{args.name}")
    except ModuleNotFoundError as e:
        raise SystemExit(f"no benchmark named {args.name!r} (run from a clone of the repository): {e}") from e
    return int(module.main(args.args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return _train(args)
    if args.command == "eval":
        return _eval(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "sweep":
        from ips_agents.sweep import run_sweep

        return run_sweep(args)
    if args.command == "prior":
        from ips_agents.molecules.prior_cli import run_prior

        return run_prior(args)
    from ips_agents.demo import run_demo

    return run_demo(out=args.out, scale=args.scale, seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
