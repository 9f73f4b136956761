"""Shared reporting for benchmark scripts: machine description, markdown tables, RESULTS.md sections."""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
import platform
import subprocess
import sys
import tempfile
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


def load_line() -> str:
    """The 1- and 5-minute load averages against the core count (how busy the shared machine was)."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def commit() -> str:
    """The current git commit (short), with '+dirty' when tracked code has uncommitted changes (the results
    this package writes, RESULTS.md and figures/, do not count: a run writing them must not mark the next)."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)benchmarks/RESULTS.md", ":(exclude)benchmarks/figures"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def escape(text: str) -> str:
    """A markdown table cell: pipes escaped (``RR@5|H|`` -> ``RR@5\\|H\\|``), newlines folded to spaces."""
    return str(text).replace("\\|", "|").replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; pipes inside headers and cells are escaped so every row keeps its columns."""
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return escape(str(v))

    lines = ["| " + " | ".join(fmt(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


HEADER = "# Benchmark results"
INTRO = ("The latest run of each experiment, one section each, written by the scripts under `benchmarks/` "
         "(a rerun replaces its section; git keeps the history). Numbers are printed by the scripts, never typed "
         "in. Each section names its machine, command, seeds and commit.")
INDEX_PREFIX = "**Index:** "


def anchor(title: str) -> str:
    """GitHub's heading anchor for ``title`` (lower case, punctuation dropped, spaces to hyphens)."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def parse_sections(text: str) -> dict[str, str]:
    """The ``## `` sections of a results file, title -> full text (heading included), in file order."""
    sections: dict[str, str] = {}
    title: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            if title is not None:
                sections[title] = "\n".join(lines).rstrip() + "\n"
            title, lines = line[3:].strip(), [line]
        elif title is not None:
            lines.append(line)
    if title is not None:
        sections[title] = "\n".join(lines).rstrip() + "\n"
    return sections


def render(sections: dict[str, str]) -> str:
    """The whole results file: title, intro, a one-line index of the sections, then the sections."""
    index = INDEX_PREFIX + " · ".join(f"[{t}](#{anchor(t)})" for t in sections)
    parts = [HEADER, INTRO, index, *(s.rstrip() for s in sections.values())]
    return "\n\n".join(parts) + "\n"


def write_section(title: str, text: str, results: Path) -> None:
    """Put ``text`` (a section with its heading) into ``results`` under ``title``: replaced where a section of
    that title exists, appended otherwise. Locked against concurrent writers, written atomically."""
    results.parent.mkdir(parents=True, exist_ok=True)
    lock_path = results.with_name(f".{results.name}.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sections = parse_sections(results.read_text()) if results.exists() else {}
        sections[title] = text
        fd, tmp = tempfile.mkstemp(dir=results.parent, prefix=f".{results.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(render(sections))
        os.replace(tmp, results)


def section_title(title: str, setting: str | None = None, quick: bool = False) -> str:
    """The heading of an experiment's section: its title, the setting it ran (so settings don't replace each
    other) and "(quick)" for a --quick run."""
    title = f"{title}: {setting}" if setting else title
    return f"{title} (quick)" if quick else title


def append_section(title: str, body: str, results: Path | None = None, seeds: str | None = None) -> str:
    """Write the section ``title`` (machine, command, commit, seeds, body) into RESULTS.md, replacing an
    earlier run of the same title; return its text."""
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
    text = "\n".join(lines) + "\n\n" + body.rstrip() + "\n"
    write_section(title, text, results)
    return text


def parser(doc: str, tasks: bool = False, ray: bool = False) -> argparse.ArgumentParser:
    """The arguments every benchmark script shares: --quick, --seeds, --trajectories, --no-write (--tasks), and
    with ``ray`` the Ray Tune options of :func:`ips_agents.runs.units.add_ray_arguments` (``--ray``, ``--ray-address``,
    ...) for scripts whose runs are units of work."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few minutes at most (used by the smoke test)")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--trajectories", type=int, default=None, help="training budget per run")
    if tasks:
        p.add_argument("--tasks", type=int, default=None, help="tasks per configuration")
    p.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    if ray:
        from ips_agents.integrations.ray_tune import add_ray_arguments

        add_ray_arguments(p)
    return p


def finish(title: str, body: str, no_write: bool, seeds: int | None = None, setting: str | None = None,
           quick: bool = False) -> int:
    """Print the table and (unless ``no_write`` or ``quick``: trial runs never touch the report) write it as the
    section :func:`section_title` names in RESULTS.md, replacing the previous run of the same experiment and
    setting; returns the exit code 0."""
    print(body)
    if quick and not no_write:
        print("(--quick: not written to RESULTS.md)")
    if not no_write and not quick:
        append_section(section_title(title, setting, quick), body, seeds=None if seeds is None else f"0..{seeds - 1}")
    return 0
