"""Shared reporting for benchmark scripts: machine description, markdown tables, RESULTS.md sections."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def figures_dir() -> Path:
    """Where figures go: ``$IPS_RL_FIGURES`` if set (the smoke test uses a temporary folder), else
    ``benchmarks/figures``; created on demand."""
    path = Path(os.environ.get("IPS_RL_FIGURES", Path(__file__).resolve().parent / "figures"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> str:
    """One line describing the machine and the library versions."""
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"torch {torch.__version__}")


def commit() -> str:
    """The current git commit (short), with '+dirty' when the tree has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def append_section(title: str, body: str, results: Path | None = None, seeds: str | None = None) -> str:
    """Append a dated section (machine, command, commit, body) to RESULTS.md; return its text."""
    results = RESULTS if results is None else results
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.parent.name == "benchmarks":
        head = f"python -m benchmarks.{script.stem}"
    else:
        head = script.name if script is not None else "python"
    command = " ".join([head, *sys.argv[1:]])
    lines = [
        f"## {title}",
        "",
        f"* date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"* machine: {machine()}",
        f"* command: `{command}`",
        f"* commit: {commit()}",
    ]
    if seeds:
        lines.append(f"* seeds: {seeds}")
    text = "\n".join(lines) + "\n\n" + body.rstrip() + "\n\n"
    if not results.exists():
        results.write_text("# Benchmark results\n\nEvery section is appended by a script under benchmarks/; "
                           "numbers are printed by the scripts, never typed in.\n\n")
    with results.open("a") as f:
        f.write(text)
    return text


def parser(doc: str, tasks: bool = False) -> argparse.ArgumentParser:
    """The arguments every benchmark script shares: --quick, --seeds, --trajectories, --no-write (--tasks)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few minutes at most (used by the smoke test)")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--trajectories", type=int, default=None, help="training budget per run")
    if tasks:
        p.add_argument("--tasks", type=int, default=None, help="tasks per configuration")
    p.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    return p


def finish(title: str, body: str, no_write: bool, seeds: int | None = None) -> int:
    """Print the table and (unless ``no_write``) append it to RESULTS.md; returns the exit code 0."""
    print(body)
    if not no_write:
        append_section(title, body, seeds=None if seeds is None else f"0..{seeds - 1}")
    return 0
