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
from ips_envs.core.face import RENDER_MODES, KernelFace
from ips_envs.core.kernel import INVALID_OUTCOME, State, draw_index, put, take


class ConstructionVectorEnv(KernelFace, VectorEnv):
    """``num_envs`` copies stepped by one kernel call per step (no Python loop over copies).

    Steps exactly like ``num_envs`` single envs given the same seeds and actions (``AutoresetMode.NEXT_STEP``:
    the step after an episode ends resets that copy, ignores its action and returns reward 0).

    Reset options, besides the single env's ``{"task": {...}}`` (one task for every copy):

    * ``{"tasks": [task_0, ..., task_{N-1}]}``: one task per copy (how group rollouts give each group its
      own task instance);
    * ``{"reset_mask": bool array [N]}``: reset only those copies (the others keep their episodes).

    ``infos`` follow Gymnasium's vector convention: ``infos[k]`` is an array over copies and
    ``infos["_k"]`` a bool mask of the copies where ``k`` is set. After every step, ``action_mask`` is set
    on every copy and ``outcome`` (object array of str), ``valid`` and ``invalid_action`` are set on the
    copies that terminated this step (the keys are always present; their masks say where).
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        strict: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self._init_face(render_mode, task, strict, kwargs)
        self.num_envs = int(num_envs)
        self.single_action_space = spaces.Discrete(self.kernel.n_actions)
        self.single_observation_space = self.kernel.observation_space
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._tasks: list[dict[str, Any]] = []
        self._table: tuple[Sequence[Mapping[str, Any]], State] | None = None
        self._state: State | None = None
        self._mask = np.zeros((self.num_envs, self.kernel.n_actions), dtype=bool)
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

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
        self._needs_reset[rows] = False
        self._mask[rows] = self.kernel.legal_actions(fresh)

    # ------------------------------------------------------------ reset/step
    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: Mapping[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._seed(seed)
        options = self._check_options(options)
        rows = np.arange(self.num_envs)
        if "reset_mask" in options:
            reset_mask = np.asarray(options["reset_mask"], dtype=bool)
            if reset_mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {reset_mask.shape}")
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
        info = {"action_mask": self._mask.copy(), "_action_mask": np.ones(self.num_envs, dtype=bool)}
        return self.kernel.observe(self._state), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions).reshape(-1)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {np.asarray(actions).shape}")
        if np.any((actions < 0) | (actions >= self.kernel.n_actions)):
            bad = actions[(actions < 0) | (actions >= self.kernel.n_actions)][0]
            raise ValueError(f"action {bad} is outside Discrete({self.kernel.n_actions})")
        actions = actions.astype(np.int64)
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        outcome = np.full(n, "", dtype=object)
        valid = np.zeros(n, dtype=bool)
        invalid_action = np.zeros(n, dtype=bool)

        resetting = self._needs_reset.copy()
        live = ~resetting
        legal = self._mask[np.arange(n), actions]
        illegal = live & ~legal
        if self.strict and illegal.any():
            i = int(np.flatnonzero(illegal)[0])
            raise self._illegal(int(actions[i]), self._mask[i], where=f" in env {i}")
        moving = np.flatnonzero(live & legal)
        if len(moving) == n:
            ended = self.kernel.apply(self._state, actions)
        else:
            sub = take(self._state, moving)
            ended_sub = self.kernel.apply(sub, actions[moving])
            put(self._state, moving, sub)
            ended = np.zeros(n, dtype=bool)
            ended[moving] = ended_sub
        finished = np.flatnonzero(ended)
        if len(finished):
            keys, rew, ok = self.kernel.outcomes(take(self._state, finished))
            outcome[finished] = keys
            rewards[finished] = rew
            valid[finished] = ok
        bad = np.flatnonzero(illegal)
        outcome[bad] = INVALID_OUTCOME
        invalid_action[bad] = True
        terminated[finished] = True
        terminated[bad] = True

        self._mask = self.kernel.legal_actions(self._state)
        if resetting.any():
            self._reset_rows(np.flatnonzero(resetting), None)
        self._mask[terminated] = False
        self._done = terminated
        self._needs_reset = terminated.copy()
        obs = self.kernel.observe(self._state)
        infos: dict[str, Any] = {
            "action_mask": self._mask.copy(), "_action_mask": np.ones(n, dtype=bool),
            "outcome": outcome, "_outcome": terminated.copy(),
            "valid": valid, "_valid": terminated.copy(),
            "invalid_action": invalid_action, "_invalid_action": terminated.copy(),
        }
        return obs, rewards, terminated, np.zeros(n, dtype=bool), infos

    def action_masks(self) -> np.ndarray:
        """Bool ``[num_envs, n_actions]`` legal actions (all False on copies whose episode just ended)."""
        return self._mask.copy()

    def render(self) -> tuple[Any, ...] | None:
        """A tuple with the render of every copy (ansi strings or rgb arrays)."""
        if self.render_mode is None or self._state is None:
            return None
        draw = self.kernel.render_ansi if self.render_mode == "ansi" else self.kernel.render_rgb
        return tuple(draw(take(self._state, np.array([i])), self._tasks[i]) for i in range(self.num_envs))
