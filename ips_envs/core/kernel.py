"""The batched construction kernel: the one place a domain's dynamics live.

A kernel steps ``N`` copies of a construction process at once. Its state is a :data:`State`: a dict of
numpy arrays that all share the leading batch dimension ``N`` (the partial objects *and* the per-row
task encodings, so rows with different tasks can be stepped together). The single-env and vector-env
Gymnasium faces (:mod:`ips_envs.core.env`, :mod:`ips_envs.core.vector_env`) and the exact dynamic
programme (:mod:`ips_envs.core.exact`) are generated from this one protocol, so they cannot drift apart.

Masks are always computed from the state, never stored.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from ips_envs.core.validation import check_bool, check_fields, check_float, check_int  # noqa: F401 (re-exported)

State = dict[str, np.ndarray]
"""Batched kernel state: field name -> array with leading dimension N."""

INVALID_OUTCOME = "<invalid>"
"""Outcome key reported when an episode ends on a masked-out action."""

PRUNED_OUTCOME = "<pruned>"
"""Outcome key under which :func:`~ips_envs.core.exact.exact_outcome_distribution` reports the probability of
the states it dropped (``min_mass``): some outcome, not known which."""

PENDING_OUTCOME = "<pending>"
"""Outcome key reported on every step before the episode ends (and on reset).

No domain produces it (nor :data:`INVALID_OUTCOME`, :data:`PRUNED_OUTCOME`): real keys never contain ``<``, and CausalDAG's empty
graph is ``""``, so ``info["outcome"] != PENDING_OUTCOME`` holds exactly on the steps that end an episode."""

ENDED_ACTION = 0
"""The one action the mask marks legal once an episode has ended.

An all-False mask makes masked categorical distributions invalid (NaN logits, "invalid multinomial
distribution"), so after termination ``action_masks()`` / ``info["action_mask"]`` allow exactly this dummy
action. It is never applied: the single env wants ``reset()`` next, vector envs ignore it on their autoreset
step."""


def ended_masks(n: int, n_actions: int) -> np.ndarray:
    """Bool ``[n, n_actions]`` masks of finished episodes: only :data:`ENDED_ACTION` is legal."""
    mask = np.zeros((n, n_actions), dtype=bool)
    mask[:, ENDED_ACTION] = True
    return mask

TASK_TABLE_MAX = 100_000
"""Largest task distribution a kernel lists as a table (:meth:`Kernel.task_table`)."""


def draw_index(rng: np.random.Generator, n: int) -> int:
    """A uniform index in ``range(n)`` from one ``rng.random()`` (4x cheaper per call than ``rng.integers``)."""
    return min(int(rng.random() * n), n - 1)


def take(state: State, idx: np.ndarray) -> State:
    """Rows ``idx`` of a batched state (a copy)."""
    return {k: v[idx] for k, v in state.items()}


def put(state: State, idx: np.ndarray, rows: State) -> None:
    """Write ``rows`` back into ``state`` at ``idx`` (in place)."""
    for k, v in rows.items():
        state[k][idx] = v


def concat(states: Sequence[State]) -> State:
    """Stack several batched states along the batch dimension."""
    return {k: np.concatenate([s[k] for s in states]) for k in states[0]}


def batch_size(state: State) -> int:
    """Number of rows N in a batched state."""
    return len(next(iter(state.values())))


def row_bytes(state: State, fields: Sequence[str] | None = None) -> np.ndarray:
    """A ``uint8`` matrix ``[N, B]`` whose rows are equal exactly when the states are equal."""
    names = sorted(state) if fields is None else fields
    n = batch_size(state)
    parts = [np.ascontiguousarray(state[k]).reshape(n, -1).view(np.uint8) for k in names]
    return np.concatenate(parts, axis=1) if parts else np.zeros((n, 0), np.uint8)


class Kernel(ABC):
    """Batched dynamics, tasks, outcomes and rewards of one construction domain.

    Subclasses set, in ``__init__``:

    * ``n_actions``: size of the ``Discrete`` action space (a stop action, where the domain has one, is last);
    * ``max_length``: the largest number of steps any episode can take;
    * ``observation_space``: a ``Box`` for one row of :meth:`observe`;
    * ``unique_paths``: True when every outcome has exactly one construction path under the masks;
    * ``has_path_counts``: True when :meth:`path_counts` counts the paths of every outcome (kernels with
      ``unique_paths`` count them without overriding it: there is one).
    """

    domain: str = "construction"
    n_actions: int
    max_length: int
    observation_space: spaces.Box
    unique_paths: bool = False
    has_path_counts: bool = False
    task_free: bool = False
    """True when the domain has no task distribution (every task is ``{}``): resets skip task sampling."""

    # ----------------------------------------------------------------- tasks
    def sample_task(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw a task from the domain's task distribution (JSON-able dict).

        The default draws ``task_table()[draw_index(rng, len(table))]`` (a copy), or returns ``{}`` when the
        kernel has no table. Kernels whose distribution is not a table override this.
        """
        table = self.task_table()
        if table is None:
            return {}
        return copy.deepcopy(dict(table[draw_index(rng, len(table))]))

    def task_table(self) -> Sequence[Mapping[str, Any]] | None:
        """The validated tasks :meth:`sample_task` draws from uniformly, or None when it does not draw from a table.

        When a kernel has a table (at most :data:`TASK_TABLE_MAX` tasks), ``sample_task(rng)`` must be exactly
        ``table[draw_index(rng, len(table))]``: vector envs then draw many copies' tasks with the same random
        numbers and take their start states from one encoding of the whole table. Read-only (cached).
        """
        return None

    def sample_tasks(self, rngs: Sequence[np.random.Generator]) -> tuple[list[dict[str, Any]], State] | None:
        """Tasks and their start states for many rows at once, or None when the kernel does not batch its draws.

        When implemented, ``sample_tasks(rngs)`` must draw exactly ``[sample_task(r) for r in rngs]`` (the same
        random numbers from each generator) and return them with ``initial_state`` of those tasks; vector envs
        then reset many copies without a Python pass per copy over the sampler and the task encoding. Kernels
        whose tasks come from a table do not need it (see :meth:`task_table`).
        """
        return None

    def validate_task(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Return the normalised task dict, or raise ValueError naming the bad field."""
        check_fields(task, [], self.domain)
        return {}

    # ------------------------------------------------------------- dynamics
    @abstractmethod
    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        """Start states for ``len(tasks)`` rows; ``tasks`` are already validated."""

    @abstractmethod
    def legal_actions(self, state: State) -> np.ndarray:
        """Bool ``[N, n_actions]``: which actions are legal in each (non-terminal) row."""

    @abstractmethod
    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        """Apply legal ``actions`` in place; return bool ``[N]``, True where the episode ended."""

    @abstractmethod
    def observe(self, state: State) -> np.ndarray:
        """Float32 observations ``[N, *observation_space.shape]``: a new array (callers keep it while ``state``
        moves on, e.g. a rollout records it)."""

    @abstractmethod
    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        """For terminal rows: canonical outcome keys, float rewards ``[N]`` and bool validity ``[N]``."""

    outcome_flags: tuple[str, ...] = ()
    """Names of the domain's own bool ``info`` flags at termination (in every step's info, False until set)."""

    def outcomes_with_flags(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """:meth:`outcomes` plus one bool ``[N]`` array per name in :attr:`outcome_flags` (what the faces call)."""
        keys, rewards, valid = self.outcomes(state)
        return keys, rewards, valid, {}

    def path_counts(self, state: State) -> np.ndarray:
        """For terminal rows: ``[N]``, the number of construction paths (action sequences allowed by the masks,
        from the start state of the row's task) that end in the row's outcome.

        int64, or an object array of Python ints for configurations whose largest count does not fit in int64
        (e.g. a 3x3 Voxel3D grid filled to height 3 without top-view masks: 27! / 3!^9 paths); exact either way.

        The default serves kernels with ``unique_paths`` (every count is 1); a kernel that can count paths
        otherwise overrides it and sets ``has_path_counts``. Raises NotImplementedError when it cannot.
        """
        if self.unique_paths:
            return np.ones(batch_size(state), dtype=np.int64)
        raise NotImplementedError(f"{type(self).__name__} does not count construction paths")

    @property
    def counts_paths(self) -> bool:
        """Whether :meth:`path_counts` is available (``has_path_counts`` or ``unique_paths``)."""
        return bool(self.has_path_counts or self.unique_paths)

    def state_keys(self, state: State) -> np.ndarray:
        """Byte rows identifying each state (used to merge equal states in the exact DP)."""
        return row_bytes(state)

    # ---------------------------------------------------------- enumeration
    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float] | None:
        """Every outcome with positive reward and its reward, or None when not enumerable."""
        return None

    def token_layout(self) -> Any:
        """The :class:`~ips_envs.core.tokens.TokenLayout` of :meth:`observe` (entities and the entity each
        action acts on), or None when the domain does not describe its observation as entities."""
        return None

    # -------------------------------------------------------------- renders
    @abstractmethod
    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        """Text drawing of row 0 of ``state`` with its task."""

    @abstractmethod
    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        """``uint8 [H, W, 3]`` picture of row 0 of ``state`` with its task."""
