"""Units of work: the independent runs a benchmark table or a sweep is made of, run in order or on Ray Tune.

A benchmark table is many independent runs (one method, seed, task and setting each). Each is a
:class:`Unit`: a module-level function and its keyword arguments, returning a picklable result. The
benchmarks and ``ips-rl sweep`` build their list of units once and hand it to :func:`run_units`, which
runs them here, one after the other, or (``ray=RayOptions(...)``) as one Ray Tune trial each on a local
Ray or a cluster (:mod:`ips_agents.integrations.ray_tune`, imported only then). Results come back in the
order of the units either way, so the same code turns them into the same tables and figures.

Every unit seeds everything it draws from (the models seed Python, numpy and torch at construction), so
its result does not depend on where or after which other unit it runs: for the same seeds a sequential
run and a Ray run give bit-identical results (timings aside).

    from ips_agents.units import RayOptions, Unit, run_units
    units = [Unit(f"seed={s}", train_one, {"seed": s}) for s in range(5)]
    results = run_units(units)                                  # here, in order
    results = run_units(units, RayOptions())                    # a local Ray on this machine's cores
    results = run_units(units, RayOptions(address="head:6379")) # a Ray cluster
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Unit:
    """One independent run: ``fn(**kwargs)``.

    Args:
        name: unique within a sweep and stable across re-runs (it names the Tune trial and its folder),
            e.g. ``"IPS-GRPO/seed=0/task=3"``.
        fn: a module-level function (Ray workers import it by name), returning a picklable result.
        kwargs: its keyword arguments (picklable; no sets, so that a sweep's fingerprint is stable).
    """

    name: str
    fn: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a unit needs a non-empty name, got {self.name!r}")
        if not callable(self.fn):
            raise TypeError(f"unit {self.name!r}: fn must be callable, got {self.fn!r}")

    def __call__(self) -> Any:
        return self.fn(**self.kwargs)


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


class SweepMismatchError(ValueError):
    """The experiment folder of a Ray sweep holds a different list of units."""


def check_names(units: Sequence[Unit]) -> None:
    """Raise ValueError naming the first repeated unit name."""
    seen: set[str] = set()
    for u in units:
        if u.name in seen:
            raise ValueError(f"unit name {u.name!r} is used twice; every unit of a sweep needs its own name")
        seen.add(u.name)


def run_units(units: Sequence[Unit], ray: RayOptions | None = None, label: str = "sweep",
              progress: bool = True) -> list[Any]:
    """Run every unit and return their results in the order of ``units``.

    ``ray=None`` runs them here, one after the other (with a progress bar); a :class:`RayOptions` runs each
    as a Ray Tune trial (needs ``pip install ips-rl[ray]``), resuming an interrupted experiment of the same
    units without redoing its finished trials. ``label`` prefixes the default experiment name.
    """
    units = list(units)
    check_names(units)
    if ray is not None:
        from ips_agents.integrations.ray_tune import run_units_on_ray

        return run_units_on_ray(units, ray, label=label)
    from tqdm.auto import tqdm

    results = []
    with tqdm(total=len(units), desc=label, unit="run", disable=not progress or len(units) < 2) as bar:
        for unit in units:
            bar.set_postfix_str(unit.name, refresh=False)
            results.append(unit())
            bar.update()
    return results


def run_grouped(groups: Mapping[K, Sequence[Unit]], ray: RayOptions | None = None, label: str = "sweep",
                progress: bool = True) -> dict[K, list[Any]]:
    """:func:`run_units` over the units of every group at once (one sweep), results split back per group."""
    keys = list(groups)
    flat = [u for k in keys for u in groups[k]]
    results = run_units(flat, ray, label=label, progress=progress)
    out: dict[K, list[Any]] = {}
    start = 0
    for k in keys:
        out[k] = results[start : start + len(groups[k])]
        start += len(groups[k])
    return out


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
