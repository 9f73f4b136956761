"""IPS/PathMultiplicity-v0: two equally rewarded outcomes, one reachable by many more paths.

## Description
The toy of the paper's Section 6. A monotone lattice walk of ``length`` moves starts at (0, 0); each move
goes right (x + 1) or up (y + 1). The walk ends at ``(k, length - k)``; the two rewarded ends are
``A = (a_right, length - a_right)`` and ``B = (b_right, length - b_right)``, every other end has reward 0
(outcome key ``"x,y"``, ``info["valid"] = False``). The number of distinct action paths to an end with
``k`` right moves is ``C(length, k)``: with the defaults (7 moves, A = (3, 4), B = (1, 6)) A has
``C(7, 3) = 35`` paths and B has ``C(7, 1) = 7`` (of 2^7 = 128 walks). Both rewards are 1, so the
reward-proportional target is 50/50, while expected-return methods drift towards A, the outcome with more
paths: a uniform random walk already ends in A five times as often as in B.
With ``mask_dead_ends=True`` the masks forbid every move after which neither A nor B can be reached, so
every episode ends in ``"A"`` or ``"B"`` (35 + 7 = 42 walks); all rewards are then equal and GRPO's
advantages are all zero.

## Action space
``Discrete(2)``: 0 = right, 1 = up. There is no stop action: the episode ends after ``length`` moves.
Both actions are always legal unless ``mask_dead_ends=True``.

## Observation space
``observation="state"`` (default): ``Box(0, 1, (2 * (length + 1),), float32)``, the one-hot of x followed by
the one-hot of y. Walks that reach the same point share an observation, so a per-state policy cannot tell
them apart.

``observation="history"``: ``Box(0, 1, (2 * length,), float32)``, the moves made so far, one one-hot pair
(right, up) per step (zeros for steps not yet taken). Every walk prefix is its own state: a tree MDP, like an
autoregressive language model writing tokens.

## Rewards
``reward_a`` for A and ``reward_b`` for B (both 1.0 by default), at the last step; 0 before.

## Starting state
(0, 0). There is no task distribution: the task dict is always ``{}``.

## Episode end
After exactly ``length`` moves (``info["outcome"]`` is ``"A"``, ``"B"`` or the end ``"x,y"``), or on a
masked-out action.

## Arguments
``length`` (7), ``a_right`` (3), ``b_right`` (1), ``reward_a`` (1.0), ``reward_b`` (1.0),
``mask_dead_ends`` (False), ``observation`` ("state" | "history"), plus the common
``render_mode``, ``task``, ``strict``.

## Path counts
``info["path_count"]`` at termination is ``C(length, k)`` for an end with ``k`` right moves (35 for A and 7 for
B with the defaults), the same with ``mask_dead_ends=True`` and with either observation.

## Version history
* v0: initial release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb
from typing import Any

import numpy as np
from gymnasium import spaces

from ips_envs.core import raster
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.kernel import Kernel, State, check_bool, check_float, check_int
from ips_envs.core.paths import count_table
from ips_envs.core.vector_env import ConstructionVectorEnv


OBSERVATIONS = ("state", "history")


class PathMultiplicityKernel(Kernel):
    """Batched lattice walks; state fields ``x`` and ``y`` (int16 [N]) and, with ``observation="history"``,
    ``moves`` (int8 [N, length]: the action of each step so far, -1 for steps not yet taken)."""

    domain = "PathMultiplicity"
    task_free = True

    def __init__(
        self,
        length: int = 7,
        a_right: int = 3,
        b_right: int = 1,
        reward_a: float = 1.0,
        reward_b: float = 1.0,
        mask_dead_ends: bool = False,
        observation: str = "state",
    ) -> None:
        self.length = check_int("length", length, 1, 200)
        self.a_right = check_int("a_right", a_right, 0, self.length)
        self.b_right = check_int("b_right", b_right, 0, self.length)
        if self.a_right == self.b_right:
            raise ValueError(f"a_right and b_right must differ, both are {a_right}")
        self.rewards = {"A": check_float("reward_a", reward_a, 0.0, low_open=True),
                        "B": check_float("reward_b", reward_b, 0.0, low_open=True)}
        self.ends = np.array([self.a_right, self.b_right])
        self.mask_dead_ends = check_bool("mask_dead_ends", mask_dead_ends)
        self.n_actions = 2
        self.max_length = self.length
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {list(OBSERVATIONS)}, got {observation!r}")
        self.observation = observation
        size = 2 * self.length if observation == "history" else 2 * (self.length + 1)
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self.has_path_counts = True
        self._path_count_table = count_table([comb(self.length, k) for k in range(self.length + 1)])

    def path_counts(self, state: State | None = None) -> Any:
        """Number of distinct action sequences that end in each terminal row's end: ``C(length, x)``.

        Without ``state``: the dict ``{"A": C(length, a_right), "B": C(length, b_right)}``. The counts are the same
        with ``mask_dead_ends=True``: every prefix of a walk to A or B can still reach it, so no such walk is masked.
        """
        if state is None:
            return {"A": comb(self.length, self.a_right), "B": comb(self.length, self.b_right)}
        return self._path_count_table[state["x"].astype(np.int64)]

    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        n = len(tasks)
        state = {"x": np.zeros(n, np.int16), "y": np.zeros(n, np.int16)}
        if self.observation == "history":
            state["moves"] = np.full((n, self.length), -1, np.int8)
        return state

    def _reachable(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether some end (k right moves) is still reachable from (x, y)."""
        ends = self.ends[None, :]
        return np.any((x[:, None] <= ends) & (y[:, None] <= self.length - ends), axis=1)

    def legal_actions(self, state: State) -> np.ndarray:
        x, y = state["x"], state["y"]
        running = x + y < self.length
        if not self.mask_dead_ends:
            return np.stack([running, running], axis=1)
        right = running & self._reachable(x + 1, y)
        up = running & self._reachable(x, y + 1)
        return np.stack([right, up], axis=1)

    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        if "moves" in state:
            step = (state["x"] + state["y"]).astype(np.int64)
            state["moves"][np.arange(len(step)), step] = actions
        state["x"] += (actions == 0).astype(np.int16)
        state["y"] += (actions == 1).astype(np.int16)
        return state["x"] + state["y"] >= self.length

    def observe(self, state: State) -> np.ndarray:
        n = len(state["x"])
        if self.observation == "history":
            rows, steps = np.nonzero(state["moves"] >= 0)
            obs = np.zeros((n, 2 * self.length), np.float32)
            obs[rows, 2 * steps + state["moves"][rows, steps]] = 1.0
            return obs
        obs = np.zeros((n, 2 * (self.length + 1)), np.float32)
        obs[np.arange(n), state["x"]] = 1.0
        obs[np.arange(n), self.length + 1 + state["y"]] = 1.0
        return obs

    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        x, y = state["x"], state["y"]
        is_a, is_b = x == self.a_right, x == self.b_right
        keys = [("A" if a else "B" if b else f"{i},{j}")
                for a, b, i, j in zip(is_a.tolist(), is_b.tolist(), x.tolist(), y.tolist(), strict=True)]
        rewards = np.where(is_a, self.rewards["A"], np.where(is_b, self.rewards["B"], 0.0))
        return keys, rewards, is_a | is_b

    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float]:
        return dict(self.rewards)

    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        x, y = int(state["x"][0]), int(state["y"][0])
        a, b = (self.a_right, self.length - self.a_right), (self.b_right, self.length - self.b_right)
        lines = [f"PathMultiplicity: step {x + y}/{self.length} at ({x},{y}); A={a} ({self.path_counts()['A']} "
                 f"paths), B={b} ({self.path_counts()['B']} paths)"]
        for row in range(self.length, -1, -1):
            chars = []
            for col in range(self.length + 1):
                chars.append("@" if (col, row) == (x, y) else "A" if (col, row) == a else "B" if (col, row) == b
                             else "." if col + row <= self.length else " ")
            lines.append(" ".join(chars).rstrip())
        return "\n".join(lines) + "\n"

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        px = 20
        side = (self.length + 1) * px
        img = raster.canvas(side, side)
        for col in range(self.length + 1):
            for row in range(self.length + 1 - col):
                raster.disc(img, ((self.length - row + 0.5) * px, (col + 0.5) * px), 2, raster.GREY)
        for k, color in ((self.a_right, raster.GREEN), (self.b_right, raster.ORANGE)):
            raster.disc(img, ((self.length - (self.length - k) + 0.5) * px, (k + 0.5) * px), px / 3, color)
        x, y = int(state["x"][0]), int(state["y"][0])
        raster.disc(img, ((self.length - y + 0.5) * px, (x + 0.5) * px), px / 4, raster.RED)
        return img


class PathMultiplicityEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = PathMultiplicityKernel


class PathMultiplicityVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/PathMultiplicity-v0`` (see :class:`PathMultiplicityEnv`)."""

    kernel_class = PathMultiplicityKernel
