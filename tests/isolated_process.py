"""Start a helper process for a test so that nothing it starts outlives the test (used by the TRL and verl tests)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _default_signals() -> None:
    """In the child: the default SIGINT/SIGTERM dispositions (a test runner may have set them to ignore)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_isolated(cmd: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """Run ``cmd`` in the repository root in a session of its own; return (exit code, stdout + stderr).

    The exit code is ``None`` when ``timeout`` seconds passed. Whatever happens, the whole session (the process
    and everything it started: torchrun's workers, Ray's daemons) is killed before returning.
    """
    full_env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
                    PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **(env or {}))
    proc = subprocess.Popen(list(cmd), cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, preexec_fn=_default_signals)
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        code, output = None, ""
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        leftover, _ = proc.communicate()
    return code, output or leftover or ""
