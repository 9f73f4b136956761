"""The batched Gymnasium face of a construction kernel (``gymnasium.make_vec``'s vector entry point)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ips_envs.core import enumeration
from ips_envs.core.face import RENDER_MODES, KernelFace, vector_info
from ips_envs.core.kernel import State, draw_index, ended_masks, put, take
from ips_envs.core.validation import check_actions, check_bool_array, check_int


def parse_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """An :class:`~gymnasium.vector.AutoresetMode` from itself, its value (``"SameStep"``) or its name
    (``"SAME_STEP"``, ``"same_step"``); ValueError naming the valid choices otherwise."""
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, str):
        for m in AutoresetMode:
            if mode.replace("_", "").lower() in (m.value.lower(), m.name.replace("_", "").lower()):
                return m
    raise ValueError(
        f"autoreset_mode must be an AutoresetMode or one of {[m.value for m in AutoresetMode]}, got {mode!r}"
    )


class ConstructionVectorEnv(KernelFace, VectorEnv):
    """``num_envs`` copies stepped by one kernel call per step (no Python loop over copies).

    A standard Gymnasium vector env: it steps exactly like :class:`gymnasium.vector.SyncVectorEnv` over
    ``num_envs`` single envs given the same seeds and actions, in each ``autoreset_mode`` (an argument that
    ``gym.make_vec(id, num_envs=N, autoreset_mode=...)`` passes through; also ``metadata["autoreset_mode"]``
    and the :attr:`autoreset_mode` attribute):

    * ``AutoresetMode.NEXT_STEP`` (default): the step after an episode ends resets that copy, ignores its
      action and returns reward 0 with the reset's info;
    * ``AutoresetMode.SAME_STEP``: a copy that ends is reset within the same step; the returned observation
      and info are the new episode's, the terminal ones are in ``info["final_obs"]`` / ``info["final_info"]``
      (masked by ``info["_final_obs"]`` / ``info["_final_info"]``);
    * ``AutoresetMode.DISABLED``: nothing resets by itself; reset finished copies with
      ``reset(options={"reset_mask": mask})`` (stepping one raises RuntimeError).

    Reset options, besides the single env's ``{"task": {...}}`` (one task for every copy):

    * ``{"tasks": [task_0, ..., task_{N-1}]}``: one task per copy (how group rollouts give each group its
      own task instance);
    * ``{"reset_mask": bool array [N]}``: reset only those copies (the others keep their episodes).

    ``infos`` follow Gymnasium's vector convention: ``infos[k]`` is an array over copies and
    ``infos["_k"]`` a bool mask of the copies where ``k`` is set. Every step sets every key on every copy:
    ``action_mask``, ``outcome`` (object array of str; ``PENDING_OUTCOME`` until the episode ends),
    ``valid``, ``invalid_action`` and ``path_count`` (see :class:`~ips_envs.core.env.ConstructionEnv`); a reset sets them on
    the copies it resets. Copies whose episode has ended have a mask with only ``ENDED_ACTION`` legal.

    :meth:`call`, :meth:`get_attr` and :meth:`set_attr` work as on ``SyncVectorEnv``: ``call(name)`` gives
    one result per copy, read from a view of that copy that has the single env's per-copy members (``task``,
    ``action_masks()``, ``admissible_outcomes()``, ``target_distribution()``, ``render()``) and the vector
    env's shared ones otherwise.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        strict: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **kwargs: Any,
    ) -> None:
        mode = parse_autoreset_mode(autoreset_mode)
        num_envs = check_int("num_envs", num_envs, 1)
        self._init_face(render_mode, task, strict, kwargs)
        self.num_envs = int(num_envs)
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.single_action_space = spaces.Discrete(self.kernel.n_actions)
        self.single_observation_space = self.kernel.observation_space
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._tasks: list[dict[str, Any]] = []
        self._table: tuple[Sequence[Mapping[str, Any]], State] | None = None
        self._state: State | None = None
        self._mask = np.zeros((self.num_envs, self.kernel.n_actions), dtype=bool)
        self._done = np.zeros(self.num_envs, dtype=bool)  # ended and not reset yet

    # ------------------------------------------------------------------ tasks
    @property
    def tasks(self) -> list[dict[str, Any]]:
        """Current task dict of every copy (copies: changing them does not change the env)."""
        return copy.deepcopy(self._current_tasks())

    def _current_tasks(self) -> list[dict[str, Any]]:
        if not self._tasks:
            raise RuntimeError("no tasks yet: call reset() first")
        return self._tasks

    def admissible_outcomes(self, index: int = 0) -> frozenset[str]:
        """Outcome keys with positive reward for the task of copy ``index``."""
        return enumeration.admissible_outcomes(self.kernel, self._current_tasks()[index])

    def target_distribution(self, index: int = 0) -> dict[str, float]:
        """Reward-proportional outcome distribution of the task of copy ``index``."""
        return enumeration.target_distribution(self.kernel, self._current_tasks()[index])

    def _task_table(self) -> tuple[Sequence[Mapping[str, Any]], State] | None:
        """The kernel's task table with the start states of all its tasks (encoded once), or None."""
        if self._table is None:
            table = self.kernel.task_table()
            if table is None:
                return None
            self._table = (table, self.kernel.initial_state(table))
        return self._table

    def _start_states(self, chosen: Sequence[Mapping[str, Any]]) -> State:
        """Start states for validated tasks, encoding each distinct task object once."""
        slot: dict[int, int] = {}
        unique: list[Mapping[str, Any]] = []
        for t in chosen:
            if slot.setdefault(id(t), len(unique)) == len(unique):
                unique.append(t)
        if len(unique) == len(chosen):
            return self.kernel.initial_state(chosen)
        return take(self.kernel.initial_state(unique), np.array([slot[id(t)] for t in chosen], dtype=np.int64))

    def _seed(self, seed: int | Sequence[int | None] | None) -> None:
        if seed is None:
            return
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int | np.integer) else list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"seed list has length {len(seeds)}, expected num_envs={self.num_envs}")
        for i, s in enumerate(seeds):
            if s is not None:
                self._rngs[i] = seeding.np_random(int(s))[0]

    def _reset_rows(self, rows: np.ndarray, tasks: Sequence[Mapping[str, Any]] | None) -> None:
        fresh: State | None = None
        if tasks is None and self.kernel.task_free:
            chosen = [{} for _ in rows]
        elif tasks is None and self.fixed_task is None and (found := self._task_table()) is not None:
            # the same random numbers as kernel.sample_task, without building and encoding a dict per copy
            table, table_states = found
            picks = np.array([draw_index(self._rngs[i], len(table)) for i in rows], dtype=np.int64)
            chosen = [table[j] for j in picks]
            fresh = take(table_states, picks)
        elif tasks is None and self.fixed_task is None and (
                drawn := self.kernel.sample_tasks([self._rngs[i] for i in rows])) is not None:
            chosen, fresh = drawn  # the same draws as kernel.sample_task per copy, computed for all rows at once
        elif tasks is None:
            chosen = [self._choose_task(self._rngs[i], None) for i in rows]
        else:
            validated: dict[int, dict[str, Any]] = {}  # a task object repeated across copies is validated once
            for t in tasks:
                if id(t) not in validated:
                    validated[id(t)] = self.kernel.validate_task(t)
            chosen = [validated[id(t)] for t in tasks]
        if fresh is None:
            fresh = self._start_states(chosen)
        if self._state is None or len(rows) == self.num_envs:
            self._state, self._tasks = fresh, chosen
        else:
            put(self._state, rows, fresh)
            for j, i in enumerate(rows):
                self._tasks[i] = chosen[j]
        self._done[rows] = False
        self._mask[rows] = self.kernel.legal_actions(fresh)

    # ------------------------------------------------------------ reset/step
    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: Mapping[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._seed(seed)
        options = self._check_options(options)
        rows = np.arange(self.num_envs)
        if "reset_mask" in options:
            reset_mask = check_bool_array("reset_mask", options["reset_mask"], (self.num_envs,))
            if self._state is None and not reset_mask.all():
                raise ValueError("the first reset must reset every copy (reset_mask all True or absent)")
            rows = np.flatnonzero(reset_mask)
        tasks = None
        if "tasks" in options:
            tasks = list(options["tasks"])
            if len(tasks) != self.num_envs:
                raise ValueError(f"options['tasks'] has {len(tasks)} tasks, expected num_envs={self.num_envs}")
            tasks = [tasks[i] for i in rows]
        elif "task" in options:
            tasks = [options["task"]] * len(rows)
        self._reset_rows(rows, tasks)
        assert self._state is not None
        present = np.zeros(self.num_envs, dtype=bool)
        present[rows] = True
        return self.kernel.observe(self._state), self._info(self._pending_info(self.num_envs), present)

    def _info(self, fields: dict[str, np.ndarray], present: np.ndarray) -> dict[str, Any]:
        """The vector info of the current masks and per-copy ``fields``, set on the ``present`` copies."""
        return vector_info({"action_mask": self._mask, **fields}, present)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = check_actions(actions, self.kernel.n_actions, self.num_envs)  # integer arrays only
        n = self.num_envs
        if self.autoreset_mode == AutoresetMode.DISABLED and self._done.any():
            i = int(np.flatnonzero(self._done)[0])
            raise RuntimeError(
                f"env {i} has ended and autoreset_mode is DISABLED: reset it first with "
                "reset(options={'reset_mask': mask})"
            )
        resetting = self._done.copy()  # only in NEXT_STEP mode can a copy be stepped after it ended
        ended, illegal = self._move(self._state, self._mask, actions, ~resetting, np.arange(n))
        rewards, fields = self._end_episodes(self._state, ended, illegal)
        terminated = ended | illegal

        self._mask = self.kernel.legal_actions(self._state)
        self._mask[terminated] = ended_masks(1, self.kernel.n_actions)
        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.SAME_STEP and terminated.any():
            final_obs = np.full(n, None, dtype=object)
            for i, o in zip(np.flatnonzero(terminated), self.kernel.observe(take(self._state, terminated))):
                final_obs[i] = o
            infos = {"final_obs": final_obs, "_final_obs": terminated.copy(),
                     "final_info": self._info(fields, terminated), "_final_info": terminated.copy()}
            pending = self._pending_info(n)
            for k in fields:  # the reset copies report their new episode's info
                fields[k][terminated] = pending[k][terminated]
            resetting = resetting | terminated
        if resetting.any():
            self._reset_rows(np.flatnonzero(resetting), None)
        self._done = terminated & (self.autoreset_mode != AutoresetMode.SAME_STEP)
        infos.update(self._info(fields, np.ones(n, dtype=bool)))
        return self.kernel.observe(self._state), rewards, terminated, np.zeros(n, dtype=bool), infos

    def step_rows(
        self, rows: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Step only the running copies ``rows``; every other copy is left exactly as it is (no autoreset).

        The batched rollout's step: a lock-step rollout whose copies finish at different times steps, observes
        and masks only the copies still running, and builds no Gymnasium info dict. Each stepped copy moves
        exactly as in :meth:`step` (same dynamics, rewards, outcomes, masks); a copy that ends here is marked
        ended: the next :meth:`step` starts its new episode (any autoreset mode but ``DISABLED``, which refuses to
        step it until ``reset(options={"reset_mask": ...})``).

        Args:
            rows: strictly increasing copy indices whose episodes are running (e.g. ``np.flatnonzero(mask)``).
            actions: one action per row.

        Returns:
            ``obs, masks, rewards, terminated, fields`` for those rows only: observations, the new legal-action
            masks (only ``ENDED_ACTION`` on rows that ended), float64 rewards, bool terminated, and the per-copy
            info fields of :func:`~ips_envs.core.face.pending_info` (``outcome``, ``valid``, ``invalid_action``,
            ``path_count``) as arrays over the rows.
        """
        if self._state is None:
            raise RuntimeError("call reset() before step_rows()")
        rows = np.asarray(rows).reshape(-1)
        if not np.issubdtype(rows.dtype, np.integer) or (
                len(rows) and (rows[0] < 0 or rows[-1] >= self.num_envs or np.any(rows[1:] <= rows[:-1]))):
            raise ValueError(f"rows must be strictly increasing copy indices in [0, {self.num_envs}), got {rows}")
        actions = check_actions(actions, self.kernel.n_actions, len(rows))  # integer arrays only
        if self._done[rows].any():
            i = int(rows[np.flatnonzero(self._done[rows])[0]])
            raise RuntimeError(f"env {i} has ended: step_rows steps only running copies (reset it first)")
        whole = len(rows) == self.num_envs
        sub = self._state if whole else take(self._state, rows)
        ended, illegal = self._move(sub, self._mask[rows], actions, np.ones(len(rows), dtype=bool), rows)
        if not whole:
            put(self._state, rows, sub)
        rewards, fields = self._end_episodes(sub, ended, illegal)
        terminated = ended | illegal
        masks = self.kernel.legal_actions(sub)
        masks[terminated] = ended_masks(1, self.kernel.n_actions)
        self._mask[rows] = masks
        self._done[rows] = terminated
        return self.kernel.observe(sub), masks, rewards, terminated, fields

    def _move(self, state: State, masks: np.ndarray, actions: np.ndarray, live: np.ndarray,
              copies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``actions`` in place to the ``live`` rows of ``state`` whose action is legal under ``masks``.

        Returns ``(ended, illegal)`` over the rows: episodes the kernel ended, and live rows given a masked-out
        action (they do not move; ``strict`` raises instead, naming the copy ``copies[row]``).
        """
        legal = masks[np.arange(len(actions)), actions]
        illegal = live & ~legal
        if self.strict and illegal.any():
            j = int(np.flatnonzero(illegal)[0])
            raise self._illegal(int(actions[j]), masks[j], where=f" in env {int(copies[j])}")
        moving = np.flatnonzero(live & legal)
        if len(moving) == len(actions):
            return self.kernel.apply(state, actions), illegal
        part = take(state, moving)
        ended = np.zeros(len(actions), dtype=bool)
        ended[moving] = self.kernel.apply(part, actions[moving])
        put(state, moving, part)
        return ended, illegal

    def action_masks(self) -> np.ndarray:
        """Bool ``[num_envs, n_actions]`` legal actions (only ``ENDED_ACTION`` on copies whose episode has ended)."""
        return self._mask.copy()

    # ------------------------------------------------ call / get_attr / set_attr
    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """``name`` of every copy, called with ``args`` / ``kwargs`` when callable (as ``SyncVectorEnv.call``).

        Per-copy members (``task``, ``action_masks``, ``admissible_outcomes``, ``target_distribution``,
        ``render``) answer for that copy; any other attribute is the vector env's, repeated per copy.
        """
        results = []
        for i in range(self.num_envs):
            attr = getattr(CopyView(self, i), name)
            results.append(attr(*args, **kwargs) if callable(attr) else attr)
        return tuple(results)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """The attribute ``name`` of every copy (``call(name)``, as in ``SyncVectorEnv``)."""
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        """Set ``name`` on every copy: one value, or a list/tuple of ``num_envs`` values.

        The copies share one kernel, so a list must hold one value repeated; tasks are per copy and set
        through ``reset(options={"tasks": [...]})``.
        """
        if not isinstance(values, list | tuple):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr({name!r}) got {len(values)} values, expected num_envs={self.num_envs}")
        if name in CopyView.PER_COPY:
            raise ValueError(f"{name!r} is per copy and read-only; set tasks with reset(options={{'tasks': [...]}})")
        if not all(_equal(v, values[0]) for v in values[1:]):
            raise ValueError(
                f"set_attr({name!r}) got different values per copy, but the copies of {type(self).__name__} "
                "share one kernel: pass one value"
            )
        setattr(self, name, values[0])

    def render(self) -> tuple[Any, ...] | None:
        """A tuple with the render of every copy (ansi strings or rgb arrays)."""
        if self.render_mode is None or self._state is None:
            return None
        draw = self.kernel.render_ansi if self.render_mode == "ansi" else self.kernel.render_rgb
        return tuple(draw(take(self._state, np.array([i])), self._tasks[i]) for i in range(self.num_envs))


def _equal(a: Any, b: Any) -> bool:
    """``a == b`` for values that may be arrays."""
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):
        return bool(np.array_equal(a, b))


class CopyView:
    """Copy ``index`` of a :class:`ConstructionVectorEnv`, answering like a single env for :meth:`~ConstructionVectorEnv.call`.

    The members in :attr:`PER_COPY` are that copy's; every other attribute is the vector env's.
    """

    PER_COPY = ("task", "action_masks", "admissible_outcomes", "target_distribution", "render")

    def __init__(self, vec: ConstructionVectorEnv, index: int) -> None:
        self._vec = vec
        self._index = index

    @property
    def task(self) -> dict[str, Any]:
        """This copy's current task (a copy)."""
        return copy.deepcopy(self._vec._current_tasks()[self._index])

    def action_masks(self) -> np.ndarray:
        """This copy's legal actions."""
        return self._vec._mask[self._index].copy()

    def admissible_outcomes(self) -> frozenset[str]:
        """Outcome keys with positive reward for this copy's task."""
        return self._vec.admissible_outcomes(self._index)

    def target_distribution(self) -> dict[str, float]:
        """Reward-proportional outcome distribution of this copy's task."""
        return self._vec.target_distribution(self._index)

    def render(self) -> Any:
        """This copy's render (None without a render mode)."""
        frames = self._vec.render()
        return None if frames is None else frames[self._index]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._vec, name)
