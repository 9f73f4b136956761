"""The ``ips-rl`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ips-rl", description="IPS-GRPO: RL that keeps every right answer.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="show the environments: random rollouts against the exact target")
    demo.add_argument("--out", default="demo_out", help="folder for the PNG figures")
    demo.add_argument("--samples", type=int, default=20_000, help="random rollouts per environment")
    demo.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from ips_agents.demo import run_demo

        return run_demo(out=args.out, samples=args.samples, seed=args.seed)
    return 2


if __name__ == "__main__":
    sys.exit(main())
