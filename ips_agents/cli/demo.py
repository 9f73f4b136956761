"""``ips-rl demo``: IPS-GRPO and GRPO side by side on three envs (about two minutes)."""

from __future__ import annotations

import argparse
from typing import Any

from ips_agents.cli.parsing import nonnegative_int, positive_float


def add_demo_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``demo`` to the ``ips-rl`` subparsers."""
    demo = sub.add_parser("demo", help="train IPS-GRPO and GRPO side by side (about two minutes)")
    demo.add_argument("--out", default="demo_out", help="folder for the PNG figures")
    demo.add_argument("--scale", type=positive_float, default=1.0, help="multiply every training budget (> 0)")
    demo.add_argument("--seed", type=nonnegative_int, default=0)
    return demo


def run_demo_command(args: argparse.Namespace) -> int:
    """``ips-rl demo``."""
    from ips_agents.runs.demo import run_demo

    return run_demo(out=args.out, scale=args.scale, seed=args.seed)
