"""Argument checks shared by the envs and the agents: one helper per concept, each naming the bad value.

Conventions (the same everywhere in the library):

* integers are Python or numpy integers; ``bool`` is *not* an integer here (``True`` is refused), nor is a
  float, even an integral one;
* real numbers are Python or numpy ints / floats that are finite (NaN and infinities are refused);
* flags are ``bool`` or ``numpy.bool_`` only (the string ``"no"`` is not a flag);
* actions are integers (or integer numpy arrays for vector envs) inside ``Discrete(n)``.

Every helper raises ``ValueError`` with one line naming the argument, the value and what was expected.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """An integer in ``[low, high]`` (``high=None``: no upper bound), returned as a Python int."""
    if high is not None:
        expected = f"an integer in [{low}, {high}]"
    else:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {expected}, got {value}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number inside the given bounds (``low_open``: ``value > low`` instead of ``>=``)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (x <= low if low_open else x < low)
    too_high = high is not None and (x >= high if high_open else x > high)
    if too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        raise ValueError(f"{name} must be {' and '.join(s for s in (lo, hi) if s)}, got {value!r}")
    return x


def check_bool(name: str, value: Any) -> bool:
    """A flag: ``True`` / ``False`` (or ``numpy.bool_``); strings, numbers and None are refused."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_bool_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A bool array of ``shape`` (a list of bools is fine); ints, floats and strings are refused."""
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise ValueError(f"{name} must be a bool array of shape {shape}, got dtype {arr.dtype}: {value!r}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def check_fields(task: Mapping[str, Any], allowed: Sequence[str], domain: str) -> None:
    """Raise ValueError naming any field of ``task`` that the domain does not know."""
    if not isinstance(task, Mapping):
        raise ValueError(f"{domain} task must be a dict, got {type(task).__name__}: {task!r}")
    unknown = sorted(set(task) - set(allowed))
    if unknown:
        raise ValueError(f"{domain} task has unknown field(s) {unknown}; expected only {sorted(allowed)}")


def _is_int_dtype(arr: np.ndarray) -> bool:
    return np.issubdtype(arr.dtype, np.integer)


def check_action(action: Any, n: int) -> int:
    """One action of ``Discrete(n)``: an integer (Python, numpy, a 0-d integer array or tensor), not a bool or float."""
    is_bool = isinstance(action, bool | np.bool_) or str(getattr(action, "dtype", "")) in ("bool", "torch.bool")
    try:
        a = None if is_bool else operator.index(action)
    except TypeError:
        a = None
    if a is None:
        raise ValueError(f"action must be an integer in Discrete({n}), got {type(action).__name__} {action!r}")
    if not 0 <= a < n:
        raise ValueError(f"action {a} is outside Discrete({n})")
    return a


def check_actions(actions: Any, n: int, num_envs: int) -> np.ndarray:
    """``num_envs`` actions of ``Discrete(n)`` as an int64 array; refuses float, bool, str and object arrays."""
    arr = np.asarray(actions)
    if not _is_int_dtype(arr):
        raise ValueError(f"actions must be integers in Discrete({n}), got an array of dtype {arr.dtype}: {actions!r}")
    arr = arr.reshape(-1)
    if arr.shape != (num_envs,):
        raise ValueError(f"actions must have shape ({num_envs},), got {np.asarray(actions).shape}")
    out = (arr < 0) | (arr >= n)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise ValueError(f"action {arr[i]} (env {i}) is outside Discrete({n})")
    return arr.astype(np.int64)
