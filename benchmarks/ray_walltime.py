"""Wall time of one whole benchmark run sequentially vs with ``--ray`` (a local Ray on this machine's cores).

Runs ``python -m benchmarks.<name> --no-write`` twice in child processes, interleaved ``--repeats`` times
(sequential, Ray, sequential, Ray, ...; each Ray run starts a fresh Tune experiment), and reports both wall
times, their ratio and whether the two printed tables are identical once the timing columns are blanked
(they must be: the same seeds give bit-identical results).

    python -m benchmarks.ray_walltime [--benchmark path_multiplicity] [--repeats 1] [-- extra benchmark args]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import report
from benchmarks.report import load_line, table

ROOT = Path(__file__).resolve().parent.parent
TIMING = re.compile(r"(^| )(train s|wall s|seconds|traj/s|s to [\d,]+)$")


def tables(output: str) -> list[list[list[str]]]:
    """The markdown tables in a benchmark's output, with the cells of timing columns blanked."""
    found, current, blank = [], [], []
    for line in output.splitlines() + [""]:
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not current:
                blank = [bool(TIMING.search(c)) for c in cells]
            if not set("".join(cells)) <= set("-"):
                current.append(["" if i < len(blank) and blank[i] else c for i, c in enumerate(cells)])
        elif current:
            found.append(current)
            current = []
    return found


def run(name: str, extra: Sequence[str], ray: bool, storage: str) -> tuple[float, str]:
    """Wall seconds and stdout of one benchmark run (``ray``: with ``--ray`` and a fresh experiment folder)."""
    cmd = [sys.executable, "-m", f"benchmarks.{name}", "--no-write", *extra]
    if ray:
        cmd += ["--ray", "--ray-storage", storage]
    env = {**os.environ, "IPS_RL_FIGURES": tempfile.mkdtemp(prefix="ray_walltime_fig_"), "RAY_USAGE_STATS_ENABLED": "0"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = report.parser(__doc__)
    parser.add_argument("--benchmark", default="path_multiplicity", help="benchmark script to time")
    parser.add_argument("--repeats", type=int, default=1, help="sequential / Ray pairs, interleaved")
    args = parser.parse_args(argv)
    if args.quick:
        extra = [*extra, "--quick"]
    rows, loads, same = [], [load_line()], True
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="ray_walltime_") as storage:
            seq_s, seq_out = run(args.benchmark, extra, False, storage)
            loads.append(load_line())
            ray_s, ray_out = run(args.benchmark, extra, True, storage)
            loads.append(load_line())
        equal = tables(seq_out) == tables(ray_out) and bool(tables(seq_out))
        same &= equal
        rows.append([r, f"{seq_s:.1f}", f"{ray_s:.1f}", f"{seq_s / ray_s:.2f}x", "yes" if equal else "NO"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    command = " ".join([f"python -m benchmarks.{args.benchmark}", *extra])
    body = table(["repeat", "sequential s", "--ray s (local Ray, 2 CPUs)", "speed-up", "same tables (timings aside)"],
                 rows)
    body += (f"\n\nBenchmark: `{command}`, run whole in a child process each time (the Ray run includes starting "
             f"Ray and one worker process per CPU). Machine load: {'; '.join(loads)}.")
    report.finish(f"Ray Tune sweep wall time: {args.benchmark}", body, args.no_write, quick=args.quick)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
