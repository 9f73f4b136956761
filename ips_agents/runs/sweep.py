"""Sweeps: seeds x settings, one run folder per trial, each trained by :func:`~ips_agents.runs.training.train_run`.

A sweep is a list of ``(trial name, RunConfig)``; :func:`run_sweep` turns each into a :class:`~ips_agents.runs.units.Unit`
(:func:`train_trial`), runs them here or on a :class:`~ips_agents.runs.units.UnitRunner` (Ray Tune), and writes
``<out>/sweep.json`` with the last logged statistics of every trial. Each trial trains into
``<out>/<trial name>`` exactly as ``ips-rl train`` would (config.json, model.zip, logs/), so ``ips-rl eval``
reads any of them. Running the same sweep again continues it: finished trials are only reloaded, an
interrupted one resumes from its last checkpoint. ``ips-rl sweep`` (:mod:`ips_agents.cli.sweep`) builds the
configs from a command line; Python code builds them directly.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ips_agents.runs.config import MODEL_FILE, PROGRESS_FILE, RunConfig
from ips_agents.runs.files import RunLock, atomic_write_text, check_folder
from ips_agents.runs.training import train_run
from ips_agents.runs.units import Unit, UnitRunner, run_units

SUMMARY_FILE = "sweep.json"


def trial_name(values: Sequence[tuple[str, str]]) -> str:
    """Folder name of one trial, e.g. ``learning-rate=1e-3_seed=0`` (characters outside [A-Za-z0-9._=-] -> ``-``)."""
    return "_".join(f"{k}={re.sub(r'[^A-Za-z0-9._-]+', '-', v)}" for k, v in values)


def _last_logged(folder: Path) -> dict[str, float]:
    """The last row of a run's logs/progress.csv (numbers only), or {} when there is none."""
    path = folder / "logs" / PROGRESS_FILE
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, float] = {}
    for k, v in (rows[-1] if rows else {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def train_trial(folder: str, config: dict[str, Any]) -> dict[str, Any]:
    """One trial: train ``RunConfig(**config)`` into ``folder`` (resuming when the folder already holds a model, so
    an interrupted trial continues and a finished one is only reloaded). Returns the run's last logged row."""
    run = Path(folder)
    train_run(run, RunConfig(**config), resume=(run / MODEL_FILE).exists(), progress_bar=False)
    return {"folder": str(run), "config": config, "last": _last_logged(run)}


def sweep_units(out: str | Path, trials: Sequence[tuple[str, RunConfig]]) -> list[Unit]:
    """One :func:`train_trial` unit per named config, training into ``out/<name>``."""
    out = Path(out).expanduser().resolve()
    return [Unit(name, train_trial, {"folder": str(out / name), "config": asdict(config)}) for name, config in trials]


def run_sweep(out: str | Path, trials: Sequence[tuple[str, RunConfig]], runner: UnitRunner | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
    """Train every trial (here, or with ``runner``), write ``out/sweep.json`` and return its rows.

    The sweep folder is locked (:class:`~ips_agents.runs.files.RunLock`) for the whole sweep: a second sweep on
    the same ``out`` is refused with :class:`~ips_agents.runs.files.RunLocked` naming the first one.
    """
    folder = Path(check_folder(out)).expanduser().resolve()
    units = sweep_units(folder, trials)
    with RunLock(folder):
        results = run_units(units, runner, label="sweep", progress=progress)
        summary = [{"trial": u.name, **r} for u, r in zip(units, results, strict=True)]
        atomic_write_text(folder / SUMMARY_FILE, json.dumps(summary, indent=1, sort_keys=True))
    return summary
