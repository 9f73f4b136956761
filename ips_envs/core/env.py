"""The single-copy Gymnasium face of a construction kernel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ips_envs.core import enumeration
from ips_envs.core.face import RENDER_MODES, KernelFace, row_info
from ips_envs.core.kernel import State, ended_masks
from ips_envs.core.validation import check_action


class ConstructionEnv(KernelFace, gym.Env):
    """One construction episode at a time (a kernel with N = 1).

    Contract shared by every ``IPS/`` env:

    * ``action_space`` is ``Discrete(n)``; :meth:`action_masks` and ``info["action_mask"]`` give the legal
      actions (bool) after reset and every step. Once the episode has ended the mask allows exactly one
      dummy action, :data:`~ips_envs.core.kernel.ENDED_ACTION` (0), so masked samplers never see an
      all-False mask; it is never applied (call ``reset()`` next);
    * the info dict has the same keys on reset and every step: ``action_mask``, ``outcome`` (str),
      ``valid`` (bool) and ``invalid_action`` (bool). Before termination ``outcome`` is
      :data:`~ips_envs.core.kernel.PENDING_OUTCOME` and the flags are False; at termination ``outcome`` is
      the canonical outcome key and ``valid`` says whether it is a valid object; ``path_count`` (int) is 0
      before termination and, at termination, the number of construction paths (action sequences the masks
      allow) that end in the outcome (0 after an invalid action; IPS-GRPO's ``ips_estimator="paths"`` uses it);
    * rewards are terminal only;
    * a masked-out action ends the episode with reward 0, ``info["outcome"] = INVALID_OUTCOME``,
      ``info["valid"] = False`` and ``info["invalid_action"] = True`` (or raises ValueError when
      ``strict=True``);
    * ``reset(options={"task": {...}})`` sets the task; without it the fixed ``task=`` or a task sampled
      with the reset seed is used; :attr:`task` is the current task dict.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        strict: bool = False,
        **kwargs: Any,
    ) -> None:
        self._init_face(render_mode, task, strict, kwargs)
        self.action_space = spaces.Discrete(self.kernel.n_actions)
        self.observation_space = self.kernel.observation_space
        self._state: State | None = None
        self._task: dict[str, Any] | None = None
        self._mask = ended_masks(1, self.kernel.n_actions)[0]
        self._done = True

    @property
    def task(self) -> dict[str, Any]:
        """The current task (JSON-able dict); call :meth:`reset` first."""
        if self._task is None:
            raise RuntimeError("no task yet: call reset() first")
        return self._task

    def reset(
        self, *, seed: int | None = None, options: Mapping[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = self._check_options(options)
        if "tasks" in options or "reset_mask" in options:
            raise ValueError("options 'tasks' and 'reset_mask' are for vector envs; use options={'task': {...}}")
        self._task = self._choose_task(self.np_random, options.get("task"))
        self._state = self.kernel.initial_state([self._task])
        self._done = False
        self._mask = self.kernel.legal_actions(self._state)[0]
        info = {"action_mask": self._mask.copy(), **row_info(self._pending_info(1), 0)}
        return self.kernel.observe(self._state)[0], info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has ended: call reset() before step()")
        a = check_action(action, self.kernel.n_actions)  # integers only: 0.99 or True is not action 0 / 1
        illegal = not self._mask[a]
        if illegal and self.strict:
            raise self._illegal(a, self._mask)
        terminated = illegal or bool(self.kernel.apply(self._state, np.array([a]))[0])
        rewards, fields = self._end_episodes(self._state, np.array([terminated and not illegal]), np.array([illegal]))
        if terminated:
            self._done = True
            self._mask = ended_masks(1, self.kernel.n_actions)[0]
        else:
            self._mask = self.kernel.legal_actions(self._state)[0]
        info = {"action_mask": self._mask.copy(), **row_info(fields, 0)}
        return self.kernel.observe(self._state)[0], float(rewards[0]), terminated, False, info

    def action_masks(self) -> np.ndarray:
        """Bool array of legal actions (sb3-contrib's MaskablePPO convention); only ``ENDED_ACTION`` once ended."""
        return self._mask.copy()

    def admissible_outcomes(self) -> frozenset[str]:
        """Outcome keys with positive reward for the current task."""
        return enumeration.admissible_outcomes(self.kernel, self.task)

    def target_distribution(self) -> dict[str, float]:
        """Reward-proportional outcome distribution of the current task (sums to 1)."""
        return enumeration.target_distribution(self.kernel, self.task)

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        if self._state is None:
            raise RuntimeError("call reset() before render()")
        if self.render_mode == "ansi":
            return self.kernel.render_ansi(self._state, self.task)
        return self.kernel.render_rgb(self._state, self.task)
