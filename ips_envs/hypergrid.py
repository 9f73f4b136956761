"""IPS/HyperGrid-v0: walk on the grid {0..H-1}^ndim and stop; reward-proportional target with 2^ndim modes.

## Description
The controlled environment of the GFlowNet literature (Bengio et al. 2021) used in the paper's
Section 5.1. The agent starts at the origin, raises one coordinate by one per step and stops anywhere;
the outcome is the cell where it stopped. The target distribution is proportional to the reward.

## Action space
``Discrete(ndim + 1)``: action ``d < ndim`` raises coordinate ``d`` (masked at ``H - 1``); action ``ndim``
stops. With ``canonical_order=True`` coordinates must be raised in non-decreasing dimension order
(action ``d`` is masked once a higher dimension was raised), so every cell has exactly one path.

## Observation space
``Box(0, 1, (ndim * H [+ ndim],), float32)``: the one-hot of every coordinate, followed (canonical order
only) by the one-hot of the last raised dimension.

## Rewards
Terminal only. ``reward="gflownet"`` (default, torchgfn's definition): with ``a_d = |x_d / (H-1) - 0.5|``,
``R = R0 + R1 * prod_d 1[0.25 < a_d <= 0.5] + R2 * prod_d 1[0.3 < a_d < 0.4]``; the ``2^ndim`` cells near
the corners where every ``a_d`` lies in (0.3, 0.4) are the modes.
``reward="paper"``: the formula as the paper prints it, ``R0 + R1 * prod 1[u_d > 0.5] +
R2 * prod 1[0.6 < u_d < 0.8]``, read literally on normalised coordinates ``u_d = x_d / (H-1)`` in [0, 1]
(one mode region). Reading the paper's coordinates on [-1, 1] instead gives exactly the gflownet reward.

## Starting state
The origin. There is no task distribution: the task dict is always ``{}``.

## Episode end
On the stop action (``info["outcome"]`` = coordinates joined by commas, e.g. ``"3,5"``; every cell is
valid), or on a masked-out action (reward 0, invalid). At most ``ndim * (H - 1) + 1`` steps.

## Arguments
``ndim`` (2, at most 12), ``height`` (8, at most 1000), ``R0``, ``R1``, ``R2`` (0.1, 0.5, 2.0; finite, R0 > 0),
``reward`` ("gflownet" | "paper"), ``canonical_order`` (False), plus the common ``render_mode``, ``task``,
``strict``. Grids of at most :data:`MAX_ENUMERATED_CELLS` (2,000,000) cells are enumerable
(``admissible_outcomes()``, ``target_distribution()``, exact evaluation); larger ones are not (those calls
raise NotImplementedError, and ``ips-rl eval`` falls back to sampling).

## Version history
* v0: initial release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from ips_envs.core import raster
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.kernel import Kernel, State, check_bool, check_float, check_int
from ips_envs.core.paths import multinomial, multinomials
from ips_envs.core.vector_env import ConstructionVectorEnv

REWARDS = ("gflownet", "paper")
MAX_ENUMERATED_CELLS = 2_000_000
"""Largest grid (``height ** ndim`` cells) whose outcome rewards are enumerated."""


def hypergrid_reward(
    x: np.ndarray, height: int, R0: float = 0.1, R1: float = 0.5, R2: float = 2.0, reward: str = "gflownet"
) -> np.ndarray:
    """Vectorised reward of integer cells ``x`` (shape ``[..., ndim]``) on a grid of side ``height``."""
    u = np.asarray(x, dtype=np.float64) / (height - 1)
    if reward == "gflownet":
        a = np.abs(u - 0.5)
        r1 = np.all((a > 0.25) & (a <= 0.5), axis=-1)
        r2 = np.all((a > 0.3) & (a < 0.4), axis=-1)
    elif reward == "paper":
        r1 = np.all(u > 0.5, axis=-1)
        r2 = np.all((u > 0.6) & (u < 0.8), axis=-1)
    else:
        raise ValueError(f"reward must be one of {list(REWARDS)}, got {reward!r}")
    return R0 + R1 * r1 + R2 * r2


class HyperGridKernel(Kernel):
    """Batched HyperGrid dynamics; state fields ``x`` (int16 [N, ndim]) and ``last`` (int16 [N])."""

    domain = "HyperGrid"
    task_free = True
    _KEY_TABLE_LIMIT = 1 << 20
    _VALUE_TABLE_LIMIT = 1 << 16
    """Grids with at most this many cells look rewards and path counts up in per-cell tables (built once)."""

    def __init__(
        self,
        ndim: int = 2,
        height: int = 8,
        R0: float = 0.1,
        R1: float = 0.5,
        R2: float = 2.0,
        reward: str = "gflownet",
        canonical_order: bool = False,
    ) -> None:
        self.ndim = check_int("ndim", ndim, 1, 12)
        self.height = check_int("height", height, 2, 1000)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {list(REWARDS)}, got {reward!r}")
        # R0 > 0 so every cell has positive reward
        self.R = (check_float("R0", R0, 0.0, low_open=True), check_float("R1", R1, 0.0), check_float("R2", R2, 0.0))
        self.reward = reward
        self.canonical_order = check_bool("canonical_order", canonical_order)
        self.unique_paths = self.canonical_order or self.ndim == 1
        self.n_actions = self.ndim + 1
        self.max_length = self.ndim * (self.height - 1) + 1
        size = self.ndim * self.height + (self.ndim if self.canonical_order else 0)
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._key_table: np.ndarray | None = None
        self._value_tables: tuple[np.ndarray, np.ndarray] | None = None
        self.has_path_counts = True
        self._largest_path_count = multinomial([self.height - 1] * self.ndim)  # the far corner has the most paths

    def _cells(self) -> np.ndarray:
        """Every cell, in row-major order of the grid."""
        return np.indices((self.height,) * self.ndim).reshape(self.ndim, -1).T.astype(np.int64)

    def keys(self, x: np.ndarray) -> list[str]:
        """Outcome keys ("3,5") of integer cells ``x`` ``[N, ndim]`` (a table lookup on small grids)."""
        if self.height**self.ndim > self._KEY_TABLE_LIMIT:
            return [",".join(map(str, row)) for row in x.tolist()]
        if self._key_table is None:
            self._key_table = np.array([",".join(map(str, c)) for c in self._cells().tolist()], dtype=object)
        return self._key_table[self._flat(x)].tolist()

    def _flat(self, x: np.ndarray) -> np.ndarray:
        """Row-major cell index of integer cells ``x`` ``[N, ndim]``."""
        return np.ravel_multi_index(tuple(np.asarray(x, dtype=np.int64).T), (self.height,) * self.ndim)

    def _tables(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(rewards, path counts)`` of every cell in row-major order on small grids (None on large ones).

        Each entry is what :meth:`cell_rewards` / the multinomial count give for that cell (the same
        element-wise arithmetic), so a lookup returns exactly the computed value, with a few array operations
        per step instead of a dozen."""
        if self.height**self.ndim > self._VALUE_TABLE_LIMIT:
            return None
        if self._value_tables is None:
            cells = self._cells()
            counts = multinomials(cells, self.height - 1, self.ndim * (self.height - 1), self._largest_path_count)
            self._value_tables = (self.cell_rewards(cells), counts)
        return self._value_tables

    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        n = len(tasks)
        return {"x": np.zeros((n, self.ndim), np.int16), "last": np.zeros(n, np.int16)}

    def legal_actions(self, state: State) -> np.ndarray:
        x = state["x"]
        mask = np.ones((len(x), self.n_actions), dtype=bool)
        mask[:, : self.ndim] = x < self.height - 1
        if self.canonical_order:
            mask[:, : self.ndim] &= np.arange(self.ndim)[None, :] >= state["last"][:, None]
        return mask

    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        stop = actions == self.ndim
        rows = np.flatnonzero(~stop)
        state["x"][rows, actions[rows]] += 1
        state["last"][rows] = actions[rows]
        return stop

    def observe(self, state: State) -> np.ndarray:
        x = state["x"].astype(np.int64)
        n = len(x)
        obs = np.zeros((n, self.observation_space.shape[0]), np.float32)
        cols = np.arange(self.ndim)[None, :] * self.height + x
        obs[np.arange(n)[:, None], cols] = 1.0
        if self.canonical_order:
            obs[np.arange(n), self.ndim * self.height + state["last"]] = 1.0
        return obs

    def path_counts(self, state: State) -> np.ndarray:
        """Paths to each row's cell ``x``: 1 in canonical order, else the multinomial ``(sum x)! / prod x_d!``
        of its moves (every order of the moves stays on the grid), as the product of ``C(x_1 + .. + x_d, x_d)``."""
        x = state["x"]
        if self.canonical_order:
            return np.ones(len(x), dtype=np.int64)
        if (tables := self._tables()) is not None:
            return tables[1][self._flat(x)]
        return multinomials(x, self.height - 1, self.ndim * (self.height - 1), self._largest_path_count)

    def cell_rewards(self, x: np.ndarray) -> np.ndarray:
        """Reward of integer cells ``x`` under this kernel's reward arguments."""
        return hypergrid_reward(x, self.height, *self.R, reward=self.reward)

    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        x = state["x"]
        tables = self._tables()
        rewards = self.cell_rewards(x) if tables is None else tables[0][self._flat(x)]
        return self.keys(x), rewards, np.ones(len(x), dtype=bool)

    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float] | None:
        """Reward of every cell; None (not enumerable) above :data:`MAX_ENUMERATED_CELLS` cells."""
        if self.height**self.ndim > MAX_ENUMERATED_CELLS:
            return None
        cells = self._cells()
        return dict(zip(self.keys(cells), self.cell_rewards(cells).tolist(), strict=True))

    # ---------------------------------------------------------------- renders
    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        x = state["x"][0]
        lines = [f"HyperGrid ndim={self.ndim} H={self.height} at ({','.join(map(str, x))})"]
        if self.ndim > 2:
            lines.append(f"slice through dims 0,1 at {tuple(int(v) for v in x[2:])}")
        for row in range(self.height - 1, -1, -1) if self.ndim > 1 else [0]:
            cells = []
            for col in range(self.height):
                cell = x.copy()
                cell[0] = col
                if self.ndim > 1:
                    cell[1] = row
                r = float(self.cell_rewards(cell))
                here = np.array_equal(cell, x)
                cells.append("@" if here else "O" if r >= self.R[0] + self.R[2] else "o" if r > self.R[0] else ".")
            lines.append(" ".join(cells))
        lines.append("legend: @ agent, O mode (R0+R1+R2), o R0+R1, . R0")
        return "\n".join(lines) + "\n"

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        cell_px = 16
        h = self.height if self.ndim > 1 else 1
        img = raster.canvas(h * cell_px, self.height * cell_px)
        x = state["x"][0]
        top = sum(self.R)
        for row in range(h):
            for col in range(self.height):
                cell = x.copy()
                cell[0] = col
                if self.ndim > 1:
                    cell[1] = row
                color = raster.shade(float(self.cell_rewards(cell)) / top)
                r0 = (h - 1 - row) * cell_px
                raster.fill(img, r0, col * cell_px, cell_px, cell_px, color)
                raster.frame(img, r0, col * cell_px, cell_px, cell_px, raster.GREY)
        row = int(x[1]) if self.ndim > 1 else 0
        raster.disc(img, ((h - 1 - row + 0.5) * cell_px, (int(x[0]) + 0.5) * cell_px), cell_px / 3, raster.RED)
        return img


class HyperGridEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = HyperGridKernel


class HyperGridVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/HyperGrid-v0`` (see :class:`HyperGridEnv`)."""

    kernel_class = HyperGridKernel
