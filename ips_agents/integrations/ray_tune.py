"""Ray Tune backend of :func:`ips_agents.runs.units.run_units`: every unit of work becomes one Tune trial.

Needs ``pip install ips-rl[ray]`` (``ray[tune]``; it does not pin Gymnasium). Ray is imported inside the
functions here only, and nothing in the core imports this module: callers (the CLI, the benchmarks) build a
:class:`RayOptions` here and hand it to :func:`ips_agents.runs.units.run_units`, which calls its ``run``.

How a sweep maps onto Tune:

* one grid-search value per unit (``param_space={"unit": grid_search(names)}``); the trainable looks the
  unit up by name (``tune.with_parameters``), runs it and reports its pickled result as the trial's
  checkpoint, so results live in the experiment folder and on a cluster travel back through its storage;
* each trial reserves ``cpus_per_trial`` CPUs and runs torch with the driver's thread count (the count a
  sequential run uses), so results are bit-identical to a sequential run for the same seeds;
* the experiment is ``<storage>/<name>``; when it already exists (an interrupted or finished run of the same
  units), ``Tuner.restore`` resumes it: finished trials are kept and not run again, unfinished and errored
  ones run (from scratch: a unit is one piece of work without intermediate checkpoints). A folder that
  holds a different list of units is refused rather than mixed in;
* with ``address`` the trials run on that cluster; the packages the units come from (``ips_agents``,
  ``ips_envs``, ``benchmarks``, ...) are shipped with the job (``runtime_env={"py_modules": ...}``) so the
  nodes run the driver's code; they need ips-rl's dependencies installed (``pip install ips-rl[ray]``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import pickle
import re
import sys
import tempfile
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ips_agents.runs.units import SweepMismatchError, Unit, UnitsFailed, check_names

RESULT_FILE = "unit_result.pkl"
MANIFEST_FILE = "ips_rl_units.json"
DEFAULT_STORAGE = "~/ray_results"


@dataclass(frozen=True)
class RayOptions:
    """Where and how :func:`run_units` runs units as Ray Tune trials.

    Args:
        address: a Ray cluster address (``"head-node:6379"``, ``"ray://head:10001"`` or ``"auto"``); None
            starts a local Ray on this machine's cores.
        storage: folder or URI for the Tune experiment (trial results and the state ``Tuner.restore`` needs);
            on a multi-node cluster it must be reachable from every node (NFS, ``s3://...``). Default
            ``~/ray_results``.
        name: experiment name; default ``<label>-<fingerprint of the units>``, so re-running the same command
            after an interruption resumes it and a changed command starts a new one.
        cpus_per_trial: CPUs reserved per trial (trials run ``cpus / cpus_per_trial`` at a time).
        num_cpus: CPUs of a local Ray (default: all cores); ignored with ``address``.
        verbose: Tune's console output (0 silent, 1 status updates, 2 also trial results).
    """

    address: str | None = None
    storage: str | None = None
    name: str | None = None
    cpus_per_trial: float = 1.0
    num_cpus: int | None = None
    verbose: int = 1

    def __post_init__(self) -> None:
        if not self.cpus_per_trial > 0:
            raise ValueError(f"cpus_per_trial must be > 0, got {self.cpus_per_trial!r}")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"num_cpus must be >= 1, got {self.num_cpus!r}")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._=-]*", self.name):
            raise ValueError(f"experiment name must be letters, digits and . _ = - only, got {self.name!r}")

    def run(self, units: Sequence[Unit], label: str = "sweep") -> list[Any]:
        """Run ``units`` as Ray Tune trials (:func:`run_units_on_ray`): what :func:`~ips_agents.runs.units.run_units`
        calls when given these options."""
        return run_units_on_ray(units, self, label=label)




def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ray``, ``--ray-address``, ``--ray-storage``, ``--ray-name``, ``--ray-cpus-per-trial``."""
    group = parser.add_argument_group("Ray Tune (pip install ips-rl[ray])")
    group.add_argument("--ray", action="store_true", help="run every unit as a Ray Tune trial on a local Ray")
    group.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="run the trials on the Ray cluster at ADDR (e.g. head-node:6379 or auto); implies --ray")
    group.add_argument("--ray-storage", default=None, metavar="DIR",
                       help="Tune experiment folder or URI, shared by all nodes on a cluster (default ~/ray_results)")
    group.add_argument("--ray-name", default=None, help="experiment name (default: derived from the units, so a "
                       "re-run of the same command resumes it)")
    group.add_argument("--ray-cpus-per-trial", type=float, default=1.0, metavar="N", help="CPUs per trial (1)")


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The :class:`RayOptions` the arguments of :func:`add_ray_arguments` ask for (None: run sequentially)."""
    if not (args.ray or args.ray_address):
        return None
    return RayOptions(address=args.ray_address, storage=args.ray_storage, name=args.ray_name,
                      cpus_per_trial=args.ray_cpus_per_trial)


def fingerprint(units: Sequence[Unit]) -> str:
    """A hex digest of the units' names, functions and arguments (equal lists give equal digests)."""
    spec = [(u.name, u.fn.__module__, u.fn.__qualname__, dict(u.kwargs)) for u in units]
    return hashlib.sha256(pickle.dumps(spec, protocol=4)).hexdigest()


def _slug(text: str, limit: int = 80) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")[:limit] or "unit"


def trial_name(trial: Any) -> str:
    """Tune trial name: the unit's name."""
    return str(trial.config["unit"])


def trial_dirname(trial: Any) -> str:
    """Tune trial folder: a filesystem-safe form of the unit's name and a short digest of it (unique)."""
    name = str(trial.config["unit"])
    return f"{_slug(name)}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _trial(config: Mapping[str, Any], units: Mapping[str, Unit], threads: int | None) -> None:
    """The Tune trainable: run one unit, report its pickled result as the trial's checkpoint."""
    from ray import tune

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    result = units[config["unit"]]()
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, RESULT_FILE), "wb") as f:
            pickle.dump(result, f, protocol=4)
        tune.report({"finished": 1},
                    checkpoint=tune.Checkpoint.from_directory(folder))


def _load_result(checkpoint: Any) -> Any:
    with checkpoint.as_directory() as folder:
        with open(os.path.join(folder, RESULT_FILE), "rb") as f:
            return pickle.load(f)


def _py_modules(units: Sequence[Unit]) -> list[str]:
    """Folders of the top-level packages the units' functions come from, plus ips_agents and ips_envs."""
    names = {"ips_agents", "ips_envs"} | {u.fn.__module__.split(".")[0] for u in units}
    folders = []
    for name in sorted(names):
        module = sys.modules.get(name)
        path = getattr(module, "__path__", None)
        if path:
            folders.append(str(Path(list(path)[0]).resolve()))
    return folders


def _init_ray(options: RayOptions, units: Sequence[Unit]) -> bool:
    """Start or join Ray unless it is already running here; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    env_vars = {"RAY_CHDIR_TO_TRIAL_DIR": "0"}  # units see the driver's working directory
    if options.address is None:  # a new local Ray, even when a `ray start` cluster runs on this machine
        ray.init(address="local", num_cpus=options.num_cpus or os.cpu_count(), include_dashboard=False,
                 logging_level=logging.WARNING, runtime_env={"env_vars": env_vars})
    else:
        ray.init(address=options.address, logging_level=logging.WARNING,
                 runtime_env={"env_vars": env_vars, "py_modules": _py_modules(units),
                              "excludes": ["__pycache__", "*.pyc", "figures", "ray_results"]})
    return True


def _manifest(units: Sequence[Unit]) -> dict[str, Any]:
    return {"fingerprint": fingerprint(units), "units": [u.name for u in units]}


def _read_manifest(fs: Any, folder: str) -> dict[str, Any] | None:
    import pyarrow.fs

    path = f"{folder}/{MANIFEST_FILE}"
    if fs.get_file_info(path).type == pyarrow.fs.FileType.NotFound:
        return None
    with fs.open_input_stream(path) as f:
        return json.loads(f.read().decode())


def _write_manifest(fs: Any, folder: str, manifest: Mapping[str, Any]) -> None:
    fs.create_dir(folder, recursive=True)
    with fs.open_output_stream(f"{folder}/{MANIFEST_FILE}") as f:
        f.write(json.dumps(manifest, indent=1).encode())


def experiment_path(units: Sequence[Unit], options: RayOptions, label: str = "sweep") -> str:
    """``<storage>/<name>``: where the Tune experiment of these units lives."""
    storage = options.storage or DEFAULT_STORAGE
    if "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())
    name = options.name or f"{_slug(label, 40)}-{fingerprint(units)[:12]}"
    return f"{storage.rstrip('/')}/{name}"


def _root_cause(error: BaseException) -> str:
    """The last line of a trial's error (Ray wraps the trial's exception and its traceback in its own)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    return text if text.startswith(type(error).__name__) else f"{type(error).__name__}: {text}"


def run_units_on_ray(units: Sequence[Unit], options: RayOptions, label: str = "sweep") -> list[Any]:
    """Run every unit as one Ray Tune trial (resuming the experiment when it exists); results in unit order.

    Raises :class:`~ips_agents.runs.units.UnitsFailed` (a RuntimeError) naming the units whose trials failed and
    the first error (all of them are in the trial folders; running the same call again retries only those).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports to Ray's servers unless asked for
    import pyarrow.fs
    from ray import tune

    units = list(units)
    check_names(units)
    if not units:
        return []
    path = experiment_path(units, options, label)
    storage, name = path.rsplit("/", 1)
    fs, fs_path = pyarrow.fs.FileSystem.from_uri(path)
    manifest = _manifest(units)
    saved = _read_manifest(fs, fs_path)
    if saved is not None and saved.get("fingerprint") != manifest["fingerprint"]:
        raise SweepMismatchError(f"the Ray experiment {path} holds a different sweep ({len(saved.get('units', []))} "
                         "other units); choose another --ray-name / RayOptions(name=...) or delete that folder")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    by_name = {u.name: u for u in units}
    trainable = tune.with_resources(tune.with_parameters(_trial, units=by_name, threads=threads),
                                    {"cpu": options.cpus_per_trial})
    started = _init_ray(options, units)
    try:
        if saved is not None and tune.Tuner.can_restore(path):
            tuner = tune.Tuner.restore(path, trainable, resume_unfinished=True, restart_errored=True)
        else:
            _write_manifest(fs, fs_path, manifest)
            tuner = tune.Tuner(
                trainable,
                param_space={"unit": tune.grid_search([u.name for u in units])},
                tune_config=tune.TuneConfig(trial_name_creator=trial_name, trial_dirname_creator=trial_dirname,
                                            reuse_actors=True),
                run_config=tune.RunConfig(name=name, storage_path=storage, verbose=options.verbose,
                                          failure_config=tune.FailureConfig(max_failures=0)),
            )
        grid = tuner.fit()
    finally:
        if started:
            import ray

            ray.shutdown()
    results: dict[str, Any] = {}
    failed: list[str] = []
    errors: list[str] = []
    for result in grid:
        unit = result.config["unit"]
        if result.error is not None or result.checkpoint is None:
            failed.append(unit)
            if result.error is not None:
                errors.append(f"{unit}: {_root_cause(result.error)}")
        else:
            results[unit] = _load_result(result.checkpoint)
    missing = [u.name for u in units if u.name not in results and u.name not in failed]
    if failed or missing:
        first = f"; first error: {errors[0]}" if errors else ""
        raise UnitsFailed(f"{len(failed) + len(missing)} of {len(units)} trials did not finish "
                          f"({', '.join((failed + missing)[:5])}{', ...' if len(failed) + len(missing) > 5 else ''})"
                          f"{first}; see the trial folders under {path}; running the same command again resumes the "
                          "sweep and reruns only those")
    return [results[u.name] for u in units]
