"""Start helper processes for tests so that nothing they start outlives the test.

Every process a test starts goes through :func:`start_isolated` (the ``children`` fixture of ``tests/conftest.py``,
:func:`run_process` and :func:`run_isolated` use it): the child gets the default SIGINT / SIGTERM dispositions (a test runner started
from ``nohup``, a background job or some CI runners has them ignored, and children inherit that) and a session of
its own, so :func:`kill_session` kills it and everything it started (torchrun's workers, Ray's daemons, a
training run) in one call.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def default_signals() -> None:
    """In the child: the default SIGINT/SIGTERM dispositions (a test runner may have set them to ignore)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_isolated(cmd: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **popen_kwargs)`` in a new session with the default signal dispositions."""
    return subprocess.Popen(list(cmd), start_new_session=True, preexec_fn=default_signals, **popen_kwargs)


def kill_session(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole session (SIGKILL) and reap it; a session that has already ended is fine."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=30)
    except (ValueError, OSError, subprocess.TimeoutExpired):  # pipes already closed, or read elsewhere
        proc.wait(timeout=30)


def run_process(cmd: Sequence[str], timeout: float | None = None, check: bool = False, capture_output: bool = False,
                **popen_kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` (the same arguments) through :func:`start_isolated`: the child's whole session is killed
    before this returns, whatever happened (a timeout raises ``subprocess.TimeoutExpired`` as ``run`` does)."""
    if capture_output:
        popen_kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc = start_isolated(cmd, **popen_kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_session(proc)
    done = subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
    if check:
        done.check_returncode()
    return done


class Children:
    """The processes one test started; :meth:`kill_all` (run by the ``children`` fixture) kills their sessions."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, cmd: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen:
        """Start ``cmd`` with :func:`start_isolated` and remember it."""
        proc = start_isolated(cmd, **popen_kwargs)
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        """Kill every started session (whatever state it is in)."""
        for proc in self.started:
            kill_session(proc)


def run_isolated(cmd: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """Run ``cmd`` in the repository root in a session of its own; return (exit code, stdout + stderr).

    The exit code is ``None`` when ``timeout`` seconds passed. Whatever happens, the whole session (the process
    and everything it started: torchrun's workers, Ray's daemons) is killed before returning.
    """
    full_env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
                    PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **(env or {}))
    proc = start_isolated(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
