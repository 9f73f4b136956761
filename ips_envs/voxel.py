"""IPS/Voxel3D-v0: build a stack of blocks on a g x g grid whose top view matches a given one.

## Description
The 3D voxel reconstruction task of HypoSpace (Chen et al. 2025), used in the paper's Section 5.2. A
task is a *top view*: a ``g x g`` grid of 0/1 bits saying which cells are covered by at least one block
(the OR over the layers). The agent builds a structure of unit blocks one block at a time; every block
is dropped onto a column and lands on top of it, so gravity (every block rests on the ground or on a
block) holds by construction. A structure is valid when its own top view equals the task's: every
viewed column has at least one block and every other column none. Column heights range over
``1..height``, so a top view with ``k`` occupied cells has exactly ``height ** k`` admissible structures
(``3 ** k`` with the defaults), all equally rewarded: the reward-proportional target is uniform over them.

Structures are identified by their *height map* (the number of blocks in each column): with gravity, the
height map determines the layers (layer ``z`` holds the columns of height ``>= z``), so HypoSpace's
structure identity and ours coincide.

## Action space
``Discrete(grid * grid + 1)``: action ``a = r * grid + c < grid * grid`` drops one block onto column
``(r, c)``; action ``grid * grid`` stops. Masks:

* a full column (``height`` blocks) is masked;
* ``canonical_order=True``: blocks are dropped in non-decreasing column index (action ``a`` is masked
  once a higher column received a block), so every structure has exactly one construction path
  (``unique_paths``) and its outcome probability is its trajectory probability;
* ``mask_top_view=True``: columns outside the top view are masked, and stop is masked until every viewed
  column holds a block (so every episode ends valid; with ``canonical_order`` a viewed column may not be
  skipped either). With the default ``mask_top_view=False`` the agent must learn which columns the view
  allows, and the start state may already stop (an empty, invalid structure).

## Observation space
``Box(0, 1, (grid**2 * (height + 1) + grid**2 [+ grid**2],), float32)``, row-major over the columns:

* the one-hot of each column's height ``0..height`` (``grid**2`` blocks of ``height + 1``);
* the task's top view (``grid**2`` bits);
* ``canonical_order`` only: the one-hot of the last column that received a block (column 0 at the start).

## Rewards
Terminal only: 1 when the structure is valid (its top view equals the task's), 0 otherwise (including an
episode ended by a masked-out action). ``info["valid"]`` says the same.

## Starting state
The empty grid. Tasks (``{"grid": g, "height": H, "top_view": [[0, 1, 0], [0, 0, 0], [0, 1, 1]]}``) are
drawn uniformly from every top view with ``min_blocks..max_blocks`` occupied cells (129 tasks with the
defaults, as in HypoSpace's default dataset); ``kernel.all_tasks()`` lists them in a fixed order (by
block count, then lexicographically), e.g. for dataset export or train/test splits. A task may give
``top_view`` as a ``grid x grid`` nested list / array of 0/1 or as a string of ``grid**2`` bits in
row-major order; ``grid`` and ``height`` may be omitted and must match the env's when given.

## Episode end
On the stop action: ``info["outcome"]`` is the height map written row-major, one character per column
(``"0"``-``"9"`` for heights 0-9, ``"a"``-``"z"`` for 10-35, i.e. base 36), e.g. ``"010000012"``; or on a
masked-out action (reward 0, invalid). At most ``grid**2 * height + 1`` steps
(``max_blocks * height + 1`` with ``mask_top_view=True``).

## Arguments
``grid`` (3, in 1..16), ``height`` (3, in 1..35), ``max_blocks`` (3, in 1..grid**2), ``min_blocks``
(1, in 1..max_blocks; ``min_blocks = max_blocks`` is HypoSpace's ``--fixed``), ``mask_top_view`` (False),
``canonical_order`` (False), plus the common ``render_mode``, ``task``, ``strict``.

## Version history
* v0: initial release.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from ips_envs.core import raster
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.kernel import TASK_TABLE_MAX, Kernel, State, check_bool, check_fields, check_int
from ips_envs.core.paths import multinomial, multinomials
from ips_envs.core.tokens import POOLED, TokenLayout, layout_from_blocks
from ips_envs.core.vector_env import ConstructionVectorEnv

TASK_FIELDS = ("grid", "height", "top_view")
MAX_HEIGHT = 35
"""Largest supported column height (one base-36 character per column in the outcome key)."""
MAX_ENUMERATED_TASKS = 1_000_000
"""``all_tasks`` refuses, and ``sample_task`` stops enumerating, above this many top views."""
MAX_ENUMERATED_OUTCOMES = 2_000_000
"""``outcome_rewards`` returns None (not enumerable) when a task has more admissible structures."""

_DIGITS = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def height_keys(heights: np.ndarray) -> list[str]:
    """Outcome keys of height maps ``[N, grid**2]`` (row-major; one base-36 character per column)."""
    h = np.asarray(heights)
    if h.ndim != 2:
        raise ValueError(f"heights must have shape [N, grid**2], got {h.shape}")
    if h.size and (h.min() < 0 or h.max() > MAX_HEIGHT):
        raise ValueError(f"heights must lie in [0, {MAX_HEIGHT}], got range [{h.min()}, {h.max()}]")
    width = h.shape[1]
    if width == 0:
        return [""] * len(h)
    codes = np.ascontiguousarray(_DIGITS[h.astype(np.int64)])
    return codes.view(f"S{width}").reshape(-1).astype(f"U{width}").tolist()


def key_heights(key: str, grid: int) -> np.ndarray:
    """The ``[grid, grid]`` int height map of an outcome key (inverse of :func:`height_keys`)."""
    if len(key) != grid * grid:
        raise ValueError(f"outcome key {key!r} has {len(key)} characters, expected grid**2 = {grid * grid}")
    try:
        values = [int(ch, 36) for ch in key]
    except ValueError:
        raise ValueError(f"outcome key {key!r} must consist of base-36 digits 0-9, a-z") from None
    return np.array(values, dtype=np.int64).reshape(grid, grid)


def heights_to_layers(heights: np.ndarray, height: int) -> np.ndarray:
    """Bool ``[height, grid, grid]`` voxel layers, ground first (layer ``z`` = columns taller than ``z``)."""
    h = np.asarray(heights)
    return h[None, :, :] > np.arange(height)[:, None, None]


class Voxel3DKernel(Kernel):
    """Batched block dropping; state fields ``heights`` (int16 [N, g*g]), ``view`` (bool [N, g*g], the
    task) and, with ``canonical_order``, ``last`` (int16 [N], the last column that received a block)."""

    domain = "Voxel3D"

    def __init__(
        self,
        grid: int = 3,
        height: int = 3,
        max_blocks: int = 3,
        min_blocks: int = 1,
        mask_top_view: bool = False,
        canonical_order: bool = False,
    ) -> None:
        self.grid = check_int("grid", grid, 1, 16)
        self.height = check_int("height", height, 1, MAX_HEIGHT)
        self.n_cells = self.grid * self.grid
        self.max_blocks = check_int("max_blocks", max_blocks, 1, self.n_cells)
        self.min_blocks = check_int("min_blocks", min_blocks, 1, self.max_blocks)
        self.mask_top_view = check_bool("mask_top_view", mask_top_view)
        self.canonical_order = check_bool("canonical_order", canonical_order)
        self.unique_paths = self.canonical_order
        self.n_actions = self.n_cells + 1
        self.stop_action = self.n_cells
        blocks = self.max_blocks if self.mask_top_view else self.n_cells
        self.max_length = blocks * self.height + 1
        size = self.n_cells * (self.height + 2) + (self.n_cells if self.canonical_order else 0)
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._counts = [math.comb(self.n_cells, k) for k in range(self.min_blocks, self.max_blocks + 1)]
        self.n_tasks = sum(self._counts)
        self._views: np.ndarray | None = None
        self._task_dicts: tuple[dict[str, Any], ...] | None = None
        self.has_path_counts = True
        self._blocks = blocks
        self._largest_path_count = multinomial([self.height] * blocks)  # every reachable column filled to the top

    # ------------------------------------------------------------------ tasks
    def _task_dict(self, view: np.ndarray) -> dict[str, Any]:
        rows = np.asarray(view, dtype=np.int64).reshape(self.grid, self.grid).tolist()
        return {"grid": self.grid, "height": self.height, "top_view": rows}

    def task_views(self) -> np.ndarray:
        """Bool ``[n_tasks, grid**2]``: every top view, by block count then lexicographically (cached)."""
        if self._views is None:
            if self.n_tasks > MAX_ENUMERATED_TASKS:
                raise ValueError(
                    f"{self.n_tasks} top views with {self.min_blocks}..{self.max_blocks} blocks on a "
                    f"{self.grid}x{self.grid} grid exceed MAX_ENUMERATED_TASKS={MAX_ENUMERATED_TASKS}"
                )
            views = np.zeros((self.n_tasks, self.n_cells), dtype=bool)
            start = 0
            for k, count in zip(range(self.min_blocks, self.max_blocks + 1), self._counts, strict=True):
                combos = np.array(list(itertools.combinations(range(self.n_cells), k)), dtype=np.int64)
                views[start + np.arange(count)[:, None], combos] = True
                start += count
            views.setflags(write=False)
            self._views = views
        return self._views

    def all_tasks(self) -> list[dict[str, Any]]:
        """Every task of this configuration (``n_tasks`` dicts; 129 with the defaults), in a fixed order."""
        return [self._task_dict(v) for v in self.task_views()]

    def task_table(self) -> tuple[dict[str, Any], ...] | None:
        """Every task (see :meth:`all_tasks`) when there are at most ``TASK_TABLE_MAX``; else None."""
        if self.n_tasks > TASK_TABLE_MAX:
            return None
        if self._task_dicts is None:
            self._task_dicts = tuple(self.all_tasks())
        return self._task_dicts

    def sample_task(self, rng: np.random.Generator) -> dict[str, Any]:
        """A top view drawn uniformly from every view with ``min_blocks..max_blocks`` cells (only ``rng``)."""
        if self.n_tasks <= TASK_TABLE_MAX:
            return super().sample_task(rng)
        if self.n_tasks <= MAX_ENUMERATED_TASKS:
            return self._task_dict(self.task_views()[int(rng.integers(self.n_tasks))])
        # too many to enumerate: pick the block count with weight C(g*g, k), then a uniform k-subset
        weights = np.array(self._counts, dtype=np.float64)
        k = self.min_blocks + int(rng.choice(len(weights), p=weights / weights.sum()))
        view = np.zeros(self.n_cells, dtype=bool)
        view[rng.choice(self.n_cells, size=k, replace=False)] = True
        return self._task_dict(view)

    def validate_task(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Normalise a task dict to ``{"grid", "height", "top_view": [[0/1, ...], ...]}``."""
        check_fields(task, TASK_FIELDS, self.domain)
        for name, expected in (("grid", self.grid), ("height", self.height)):
            if name in task:
                value = task[name]
                if isinstance(value, bool) or not isinstance(value, int | np.integer) or value != expected:
                    raise ValueError(f"{self.domain} task field {name!r} is {value!r}, but this env has "
                                     f"{name}={expected}")
        if "top_view" not in task:
            raise ValueError(f"{self.domain} task is missing the field 'top_view' (a {self.grid}x{self.grid} "
                             "grid of 0/1)")
        view = self._parse_view(task["top_view"])
        k = int(view.sum())
        if k == 0:
            raise ValueError(f"{self.domain} task field 'top_view' is empty; expected "
                             f"{self.min_blocks}..{self.max_blocks} occupied cells")
        if not self.min_blocks <= k <= self.max_blocks:
            raise ValueError(f"{self.domain} task field 'top_view' has {k} occupied cells; this env expects "
                             f"{self.min_blocks}..{self.max_blocks} (min_blocks..max_blocks)")
        return self._task_dict(view)

    def _parse_view(self, raw: Any) -> np.ndarray:
        """Flat bool ``[grid**2]`` from a nested 0/1 list / array or a row-major bit string."""
        g = self.grid
        if isinstance(raw, str):
            if len(raw) != g * g or set(raw) - {"0", "1"}:
                raise ValueError(f"{self.domain} task field 'top_view' as a string must be {g * g} characters "
                                 f"'0'/'1', got {raw!r}")
            return np.array([ch == "1" for ch in raw], dtype=bool)
        try:
            arr = np.asarray(raw)
        except ValueError:
            raise ValueError(f"{self.domain} task field 'top_view' must be a {g}x{g} grid of 0/1, got a ragged "
                             f"value {raw!r}") from None
        if arr.shape != (g, g):
            raise ValueError(f"{self.domain} task field 'top_view' must have shape ({g}, {g}), got shape "
                             f"{arr.shape}: {raw!r}")
        if arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
            if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isin(arr, (0.0, 1.0))):
                raise ValueError(f"{self.domain} task field 'top_view' must hold only 0/1 entries, got {raw!r}")
        if not np.all(np.isin(arr, (0, 1))):
            bad = arr[~np.isin(arr, (0, 1))].reshape(-1)[0]
            raise ValueError(f"{self.domain} task field 'top_view' must hold only 0/1 entries, got {bad!r}")
        return arr.astype(bool).reshape(-1)

    def n_admissible(self, task: Mapping[str, Any]) -> int:
        """``height ** k``: the number of valid structures for a (validated) task with ``k`` viewed cells."""
        return self.height ** int(np.asarray(task["top_view"]).sum())

    # --------------------------------------------------------------- dynamics
    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        n = len(tasks)
        views = np.zeros((n, self.n_cells), dtype=bool)
        for i, task in enumerate(tasks):
            views[i] = np.asarray(task["top_view"], dtype=bool).reshape(-1)
        state: State = {"heights": np.zeros((n, self.n_cells), np.int16), "view": views}
        if self.canonical_order:
            state["last"] = np.zeros(n, np.int16)
        return state

    def legal_actions(self, state: State) -> np.ndarray:
        h, view = state["heights"], state["view"]
        n = len(h)
        cols = np.arange(self.n_cells)[None, :]
        mask = np.ones((n, self.n_actions), dtype=bool)
        drop = h < self.height
        if self.canonical_order:
            drop &= cols >= state["last"][:, None]
        if self.mask_top_view:
            drop &= view
            missing = view & (h == 0)
            if self.canonical_order:
                # never skip past an empty viewed column: it could not be filled later
                first = np.where(missing.any(axis=1), missing.argmax(axis=1), self.n_cells)
                drop &= cols <= first[:, None]
            mask[:, self.stop_action] = ~missing.any(axis=1)
        mask[:, : self.n_cells] = drop
        return mask

    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        actions = np.asarray(actions, dtype=np.int64)
        stop = actions == self.stop_action
        rows = np.flatnonzero(~stop)
        state["heights"][rows, actions[rows]] += 1
        if self.canonical_order:
            state["last"][rows] = actions[rows]
        return stop

    def observe(self, state: State) -> np.ndarray:
        h = state["heights"].astype(np.int64)
        n, cells = len(h), self.n_cells
        obs = np.zeros((n, self.observation_space.shape[0]), np.float32)
        rows = np.arange(n)[:, None]
        obs[rows, np.arange(cells)[None, :] * (self.height + 1) + h] = 1.0
        base = cells * (self.height + 1)
        obs[:, base : base + cells] = state["view"]
        if self.canonical_order:
            obs[np.arange(n), base + cells + state["last"].astype(np.int64)] = 1.0
        return obs

    def path_counts(self, state: State) -> np.ndarray:
        """Paths to each row's height map ``h``: the multinomial ``(sum h)! / prod h_c!`` of its drop orders (every
        order is legal: no column exceeds its final height, and with ``mask_top_view`` every dropped column is
        viewed and stop comes last), as the product of ``C(h_1 + .. + h_c, h_c)``; 1 with ``canonical_order``."""
        h = state["heights"]
        if self.canonical_order:
            return np.ones(len(h), dtype=np.int64)
        return multinomials(h, self.height, self._blocks * self.height, self._largest_path_count)

    def token_layout(self) -> TokenLayout:
        """One entity per column: its height one-hot, its top-view bit and (canonical order) its last-column bit;
        a drop acts on its column, stop on the pooled summary; neighbourhoods: the columns of its grid row and of
        its grid column."""
        cells = np.arange(self.n_cells)
        base = self.n_cells * (self.height + 1)
        blocks = [cells[:, None] * (self.height + 1) + np.arange(self.height + 1)[None, :], base + cells]
        if self.canonical_order:
            blocks.append(base + self.n_cells + cells)
        rows, cols = np.divmod(cells, self.grid)
        return layout_from_blocks(self.observation_space.shape[0], self.n_cells, blocks, [*cells, POOLED], (),
                                  [(rows, rows), (cols, cols)])

    def valid(self, state: State) -> np.ndarray:
        """Bool ``[N]``: the structure's top view (columns with a block) equals the task's."""
        return np.all((state["heights"] > 0) == state["view"], axis=1)

    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        ok = self.valid(state)
        return height_keys(state["heights"]), ok.astype(np.float64), ok

    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float] | None:
        """Every admissible height map (reward 1); None when there are more than MAX_ENUMERATED_OUTCOMES."""
        cells = np.flatnonzero(np.asarray(task["top_view"], dtype=bool).reshape(-1))
        k = len(cells)
        if self.height**k > MAX_ENUMERATED_OUTCOMES:
            return None
        heights = np.zeros((self.height**k, self.n_cells), dtype=np.int64)
        heights[:, cells] = np.indices((self.height,) * k).reshape(k, -1).T + 1
        return dict.fromkeys(height_keys(heights), 1.0)

    # ---------------------------------------------------------------- renders
    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        g = self.grid
        h = state["heights"][0].astype(np.int64).reshape(g, g)
        view = state["view"][0].reshape(g, g)
        layers = heights_to_layers(h, self.height)
        status = "valid" if bool(np.array_equal(h > 0, view)) else "not valid"
        lines = [f"Voxel3D grid={g} height={self.height}: {int(h.sum())} blocks, top view {status}"]
        width = max(2 * g - 1, 9)
        panels = [(f"layer {z + 1}", layers[z].astype(int)) for z in range(self.height)]
        panels += [("top view", view.astype(int)), ("heights", h)]
        lines.append("  ".join(title.ljust(width) for title, _ in panels).rstrip())
        for r in range(g):
            cells = []
            for _, grid in panels:
                cells.append(" ".join(np.base_repr(int(v), 36).lower() for v in grid[r]).ljust(width))
            lines.append("  ".join(cells).rstrip())
        lines.append("layers are listed ground first; top view = columns the task says are covered")
        return "\n".join(lines) + "\n"

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        g, px, gap = self.grid, 24, 12
        h = state["heights"][0].astype(np.int64).reshape(g, g)
        view = state["view"][0].reshape(g, g)
        side = g * px
        img = raster.canvas(side + 2 * gap, 2 * side + 3 * gap)
        for r in range(g):
            for c in range(g):
                top = gap + r * px
                # left panel: height map, darker = taller; red outline = block outside the view,
                # orange outline = viewed column still empty
                left = gap + c * px
                raster.fill(img, top, left, px, px, raster.shade(h[r, c] / self.height))
                raster.frame(img, top, left, px, px, raster.GREY)
                if h[r, c] > 0 and not view[r, c]:
                    raster.frame(img, top + 1, left + 1, px - 2, px - 2, raster.RED)
                    raster.frame(img, top + 2, left + 2, px - 4, px - 4, raster.RED)
                elif h[r, c] == 0 and view[r, c]:
                    raster.frame(img, top + 1, left + 1, px - 2, px - 2, raster.ORANGE)
                    raster.frame(img, top + 2, left + 2, px - 4, px - 4, raster.ORANGE)
                # right panel: the task's top view
                left = 2 * gap + side + c * px
                raster.fill(img, top, left, px, px, raster.DARK if view[r, c] else raster.WHITE)
                raster.frame(img, top, left, px, px, raster.GREY)
        return img


class Voxel3DEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = Voxel3DKernel


class Voxel3DVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/Voxel3D-v0`` (see :class:`Voxel3DEnv`)."""

    kernel_class = Voxel3DKernel
