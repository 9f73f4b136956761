"""The ``ips-rl`` command line: train, sweep, eval, demo, bench and prior, one module per subcommand.

User errors (a bad flag or value, an unknown env id, a missing or corrupt run folder, a locked run, a
``--resume`` with conflicting settings, ...) end the command with **one line on stderr**
(``ips-rl: error: ...``) and **exit status 2**, never a traceback. :func:`run_command` is the one place that
does this: a subcommand signals a user error by raising :class:`~ips_agents.cli.parsing.UsageError` (or
``ValueError``, ``OSError``, :class:`~ips_agents.runs.files.RunLocked`,
:class:`~ips_agents.runs.units.UnitsFailed`, a Gymnasium registration error, or ``SystemExit("message")``);
running out of memory (MemoryError, or torch's allocation error) is reported the same way, with advice. A new
subcommand is a module with an ``add_*_parser`` and a handler, registered in :data:`SUBCOMMANDS`. Set
``IPS_RL_TRACEBACK=1`` to see the traceback of a user error.

Ctrl-C / SIGTERM during ``ips-rl train`` saves a checkpoint after the current batch and exits with status 0
(``--resume`` continues); a second one exits at once with status 130; elsewhere a Ctrl-C exits with status 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ips_agents.cli.bench import add_bench_parser, run_bench
from ips_agents.cli.demo import add_demo_parser, run_demo_command
from ips_agents.cli.evaluate import add_eval_parser, run_eval
from ips_agents.cli.parsing import Parser, UsageError, one_line
from ips_agents.cli.prior import add_prior_parser, run_prior
from ips_agents.cli.sweep import add_sweep_parser, run_sweep_command
from ips_agents.cli.train import add_train_parser, run_train
from ips_agents.runs.files import RunLocked
from ips_agents.runs.training import RunInterrupted, exit_after_stop, exit_at_once_on_signals
from ips_agents.runs.units import UnitsFailed

SUBCOMMANDS: dict[str, tuple[Callable[[Any], argparse.ArgumentParser], Callable[[argparse.Namespace], int]]] = {
    "train": (add_train_parser, run_train),
    "sweep": (add_sweep_parser, run_sweep_command),
    "eval": (add_eval_parser, run_eval),
    "demo": (add_demo_parser, run_demo_command),
    "bench": (add_bench_parser, run_bench),
    "prior": (add_prior_parser, run_prior),
}
"""Subcommand name -> (function adding its parser, handler returning the exit status)."""

__all__ = ["SUBCOMMANDS", "UsageError", "build_parser", "main", "one_line", "run_command"]


def ignore_stop_signals() -> None:
    """Ignore SIGINT / SIGTERM from now on (Python would otherwise reset them to the default, fatal, action while
    the interpreter shuts down)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        if threading.current_thread() is threading.main_thread():
            signal.signal(s, signal.SIG_IGN)


def build_parser() -> argparse.ArgumentParser:
    """The ``ips-rl`` parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = Parser(prog="ips-rl", description="IPS-GRPO: RL that keeps every right answer.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser, _ in SUBCOMMANDS.values():
        add_parser(sub)
    return parser


OUT_OF_MEMORY_ADVICE = ("out of memory: the model or the batch is too large for this machine; use a smaller "
                        "--group-size, --n-groups or --net-arch")


def _out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is a failed allocation (MemoryError, or torch's RuntimeError for CPU or GPU memory)."""
    if isinstance(e, MemoryError):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [UsageError, ValueError, OSError, RunLocked, UnitsFailed]
    gym = sys.modules.get("gymnasium")
    if gym is not None:
        types.append(gym.error.Error)
    return tuple(types)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command: user errors become one line on stderr and exit status 2 (the one place).

    A training run stopped by SIGINT / SIGTERM after saving (:class:`~ips_agents.runs.training.RunInterrupted`) is
    re-raised for the caller to decide (:func:`main` exits with 0).
    """
    try:
        return SUBCOMMANDS[args.command][1](args)
    except RunInterrupted:
        raise
    except KeyboardInterrupt:
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
        out_of_memory = _out_of_memory(e)
        if not (out_of_memory or isinstance(e, _user_error_types())) or os.environ.get("IPS_RL_TRACEBACK"):
            raise
        message = f"{OUT_OF_MEMORY_ADVICE} ({type(e).__name__}: {e})" if out_of_memory else e
        print(f"ips-rl {args.command}: error: {one_line(message)}"[:2000], file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ips-rl`` entry point: parse ``argv`` and run the command; returns the exit status.

    A training run stopped by SIGINT / SIGTERM (after saving its checkpoint) prints how to resume and returns 0.
    """
    args = build_parser().parse_args(argv)
    exit_after_stop(True)  # the command ends after a stopped run: a second Ctrl-C is status 130 at any moment
    try:
        return run_command(args)
    except RunInterrupted as e:
        exit_at_once_on_signals()  # a second Ctrl-C from here to the exit: status 130, as during the run
        print(f"ips-rl: {e}", file=sys.stderr, flush=True)
        ignore_stop_signals()  # the work is done: a signal during interpreter shutdown must not kill it (status 0)
        return 0
    finally:
        exit_after_stop(False)  # main() called in process (tests, notebooks): later library runs restore handlers


