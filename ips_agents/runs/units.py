"""Units of work: the independent runs a benchmark table or a sweep is made of, run in order or on Ray Tune.

A benchmark table is many independent runs (one method, seed, task and setting each). Each is a
:class:`Unit`: a module-level function and its keyword arguments, returning a picklable result. The
benchmarks and ``ips-rl sweep`` build their list of units once and hand it to :func:`run_units`, which
runs them here, one after the other, or (``ray=RayOptions(...)``, from :mod:`ips_agents.integrations.ray_tune`)
as one Ray Tune trial each on a local Ray or a cluster; this module never imports Ray or the integration (the
caller hands it a :class:`UnitRunner`). Results come back in the
order of the units either way, so the same code turns them into the same tables and figures.

Every unit seeds everything it draws from (the models seed Python, numpy and torch at construction), so
its result does not depend on where or after which other unit it runs: for the same seeds a sequential
run and a Ray run give bit-identical results (timings aside).

    from ips_agents.integrations.ray_tune import RayOptions
    from ips_agents.runs.units import Unit, run_units
    units = [Unit(f"seed={s}", train_one, {"seed": s}) for s in range(5)]
    results = run_units(units)                                  # here, in order
    results = run_units(units, RayOptions())                    # a local Ray on this machine's cores
    results = run_units(units, RayOptions(address="head:6379")) # a Ray cluster
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from tqdm.auto import tqdm

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


class UnitRunner(Protocol):
    """Something that runs a list of units elsewhere and returns their results in order, e.g.
    :class:`ips_agents.integrations.ray_tune.RayOptions` (each unit a Ray Tune trial)."""

    def run(self, units: Sequence[Unit], label: str) -> list[Any]:
        """Run ``units`` and return their results in the order of ``units``."""
        ...


class SweepMismatchError(ValueError):
    """The experiment folder of a Ray sweep holds a different list of units."""


class UnitsFailed(RuntimeError):
    """Some units run by a :class:`UnitRunner` (e.g. Ray Tune trials) did not finish; the message names them, the
    first error and where the others are (``ips-rl`` reports it as one line, exit status 2)."""


def check_names(units: Sequence[Unit]) -> None:
    """Raise ValueError naming the first repeated unit name."""
    seen: set[str] = set()
    for u in units:
        if u.name in seen:
            raise ValueError(f"unit name {u.name!r} is used twice; every unit of a sweep needs its own name")
        seen.add(u.name)


def run_units(units: Sequence[Unit], ray: UnitRunner | None = None, label: str = "sweep",
              progress: bool = True) -> list[Any]:
    """Run every unit and return their results in the order of ``units``.

    ``ray=None`` runs them here, one after the other (with a progress bar); a
    :class:`~ips_agents.integrations.ray_tune.RayOptions` runs each as a Ray Tune trial (needs
    ``pip install ips-rl[ray]``), resuming an interrupted experiment of the same units without redoing its
    finished trials. ``label`` prefixes the default experiment name.
    """
    units = list(units)
    check_names(units)
    if ray is not None:
        return ray.run(units, label)

    results = []
    with tqdm(total=len(units), desc=label, unit="run", disable=not progress or len(units) < 2) as bar:
        for unit in units:
            bar.set_postfix_str(unit.name, refresh=False)
            results.append(unit())
            bar.update()
    return results


def run_grouped(groups: Mapping[K, Sequence[Unit]], ray: UnitRunner | None = None, label: str = "sweep",
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
