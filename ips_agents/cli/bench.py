"""``ips-rl bench NAME [args]``: run a script of benchmarks/ (from a clone of the repository)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from ips_agents.cli.parsing import UsageError


def add_bench_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``bench`` to the ``ips-rl`` subparsers."""
    bench = sub.add_parser("bench", help="run a benchmark script from benchmarks/ (from a clone of the repo)")
    bench.add_argument("name", help="script name, e.g. env_throughput")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (e.g. --quick)")
    return bench


def run_bench(args: argparse.Namespace) -> int:
    """Import ``benchmarks.<name>`` from the current directory and call its ``main(args)``."""
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(f"benchmarks.{args.name}")
    except ModuleNotFoundError as e:
        raise UsageError(f"no benchmark named {args.name!r} (run from a clone of the repository): {e}") from None
    return int(module.main(args.args) or 0)
