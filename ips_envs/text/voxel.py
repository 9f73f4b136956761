"""Text face of ``IPS/Voxel3D-v0``: HypoSpace's 3D prompt and its ``Structure:`` answer block.

Answer format (HypoSpace's): a ``Structure:`` line, then ``Layer 1:`` (the ground), ``Layer 2:``, ... each
followed by ``grid`` rows of ``grid`` space-separated 0/1 values. Trailing all-zero layers are dropped (as
HypoSpace's hash does); text after the last complete layer is ignored. Strict where HypoSpace is lenient:
rows must be space-separated 0/1 (HypoSpace also reads commas, pipes and brackets and skips unreadable rows),
every layer must have exactly ``grid`` rows of ``grid`` values, and the ``Structure:`` label is required.
Outside the env's space, hence no outcome: a block without a block below it (HypoSpace: parsed but invalid)
and a structure taller than ``height`` (HypoSpace: valid but never admissible, since it does not check the
height).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from textwrap import dedent
from typing import Any

import numpy as np

from ips_envs.core.kernel import State
from ips_envs.text.base import AnswerError, TextFace, after_label
from ips_envs.voxel import height_keys, heights_to_layers, key_heights

MAX_HYPOTHESES = 1_000_000
"""Largest hypothesis space :meth:`Voxel3DFace.hypotheses` lists."""

_LAYER = re.compile(r"layer\s+(\d+)\s*:\s*", re.IGNORECASE)
_ROW = re.compile(r"[01](?:\s+[01])*")


class Voxel3DFace(TextFace):
    """Prompts and answers for top-view reconstruction tasks (see the module docstring for the format)."""

    env_id = "IPS/Voxel3D-v0"
    label = "Structure"

    def _grid_rows(self, view: Any) -> list[str]:
        g = self.kernel.grid
        flat = np.asarray(view, dtype=np.int64).reshape(g, g)
        return [" ".join(str(int(v)) for v in row) for row in flat]

    def hypotheses(self) -> list[str] | None:
        """Every height map with heights ``0..height`` (4^9 = 262,144 with the defaults), or None above 10^6."""
        k = self.kernel
        if (k.height + 1) ** k.n_cells > MAX_HYPOTHESES:
            return None
        return height_keys(np.indices((k.height + 1,) * k.n_cells).reshape(k.n_cells, -1).T)

    # ----------------------------------------------------------------- prompts
    def prompt(self, task: Mapping[str, Any] | str | None = None, prior: Iterable[str] = (),
               compact: bool = False) -> str:
        """HypoSpace's 3D prompt; ``compact=True`` gives only the top view and the answer label ``Structure:``
        (for small models; read their completions with :meth:`with_prompt`)."""
        view = "\n".join(self._grid_rows(self.task(task)["top_view"]))
        if compact:
            return f"Top view:\n{view}\nStructure:"
        g, h = self.kernel.grid, self.kernel.height
        prior = list(prior)
        text = dedent(f"""\
            You are given observations of a 3D structure made of unit blocks on a {g}x{g} grid.
            Each observation shows a view of the structure from a specific angle.
            The maximum height of the structure is {h} layers.

            Observations (Top View - shows 1 if ANY layer has a block at that position):

            Top view:
            """) + view + "\n"
        if prior:
            text += "\n\nPrior 3D structure generated (do not repeat if avoidable):\n"
            for i, key in enumerate(prior, 1):
                text += f"\nAttempt {i}:\n" + self.answer(key).split("\n", 1)[1] + "\n"
        text += dedent(f"""

            Task: Infer the complete 3D structure that could produce these observations.

            Structure specifications:
            - Grid size: {g}x{g}
            - Maximum height: {h} layers
            - The structure consists of layers stacked from bottom to top, where each layer is a {g}x{g} grid with 0 (empty) or 1 (block).

            Important constraints:
            1. Layer 1 is the BOTTOM layer (ground level) - it should contain blocks, not be all zeros
            2. Blocks must be supported from below (a block at height h requires a block at height h-1 in the same position)
            3. Do not add unnecessary empty layers at the bottom or top
            4. Layers are numbered from bottom (Layer 1) to top (Layer N)
            5. Do not exceed the maximum height of {h} layers
            """)
        if prior:
            text += dedent(f"""\
                6. Generate a DIFFERENT valid structure from the {len(prior)} prior attempts shown above
                7. Two structures are considered equivalent if they have the same blocks in the same positions across all layers
                """)
        text += dedent(f"""
            Provide your answer as a 3D structure with each layer specified.

            Output format:
            Structure:
            Layer 1:  (bottom layer - should contain at least one block)
            [row 1 values separated by spaces]
            [row 2 values separated by spaces]
            ...
            Layer 2:
            [row 1 values separated by spaces]
            [row 2 values separated by spaces]
            ...
            (continue for all layers needed, up to maximum {h} layers)

            Example of CORRECT output format for a 3x3 grid:
            Structure:
            Layer 1:
            1 0 1
            0 0 0
            1 0 1
            Layer 2:
            1 0 0
            0 0 0
            0 0 1

            Note: This represents a 3x3x2 structure where:
            - Layer 1 (bottom) has blocks at corners: (0,0), (0,2), (2,0), (2,2)
            - Layer 2 (top) has blocks at (0,0) and (2,2), both supported by blocks in Layer 1 below
            - Every '1' in Layer 2 has a '1' directly below it in Layer 1 (physical support requirement)
            - Uses spaces between digits (not commas or other separators)

            INCORRECT formats to avoid:
            1. Don't start with empty bottom layer: Layer 1 should contain blocks
            2. Don't use commas: "1,0,1" - use spaces instead: "1 0 1"
            3. Don't add blocks without support below them (physics violation)
            4. Don't exceed {h} layers in height""")
        return text

    def answer(self, outcome: str, task: Mapping[str, Any] | str | None = None) -> str:
        """The ``Structure:`` block of a height-map key such as ``"010000012"`` (one zero layer when empty)."""
        heights = key_heights(outcome, self.kernel.grid)
        layers = heights_to_layers(heights, max(int(heights.max()), 1))
        lines = ["Structure:"]
        for z, layer in enumerate(layers, 1):
            lines.append(f"Layer {z}:")
            lines += self._grid_rows(layer)
        return "\n".join(lines)

    # ----------------------------------------------------------------- parsing
    def _read(self, lines: list[str], start: int, task: dict[str, Any]) -> tuple[str, list[int]]:
        g, kernel = self.kernel.grid, self.kernel
        if after_label(lines[start], self.label):
            raise AnswerError("the Structure: line must be followed by Layer lines, not by text on the same line")
        layers: list[list[list[int]]] = []
        rows: list[list[int]] | None = None
        used = [lines[start].strip()]
        for raw in lines[start + 1:]:
            line = raw.strip()
            if not line:
                continue
            header = _LAYER.fullmatch(line)
            if header:
                if rows is not None and len(rows) < g:
                    raise AnswerError(f"Layer {len(layers) + 1} has {len(rows)} rows, expected {g}")
                number = int(header.group(1))
                if number != len(layers) + 1:
                    raise AnswerError(f"expected 'Layer {len(layers) + 1}:', got {line!r}")
                rows = []
                layers.append(rows)
            elif rows is not None and len(rows) < g:
                if not _ROW.fullmatch(line):
                    raise AnswerError(f"Layer {len(layers)} row {len(rows) + 1} is {line!r}; expected {g} "
                                      "values 0/1 separated by spaces")
                values = [int(v) for v in line.split()]
                if len(values) != g:
                    raise AnswerError(f"Layer {len(layers)} row {len(rows) + 1} has {len(values)} values, "
                                      f"expected {g}")
                rows.append(values)
            elif rows is not None and _ROW.fullmatch(line):
                raise AnswerError(f"Layer {len(layers)} has more than {g} rows")
            else:
                break  # text after the structure
            used.append(line)
        if not layers:
            raise AnswerError("the structure has no 'Layer 1:'")
        if len(layers[-1]) < g:
            raise AnswerError(f"Layer {len(layers)} has {len(layers[-1])} rows, expected {g}")
        text = "\n".join(used)
        voxels = np.array(layers, dtype=bool)
        filled = np.flatnonzero(voxels.reshape(len(voxels), -1).any(axis=1))
        voxels = voxels[: filled[-1] + 1] if len(filled) else voxels[:1]
        for z in range(1, len(voxels)):
            floating = voxels[z] & ~voxels[z - 1]
            if floating.any():
                r, c = (int(v) for v in np.argwhere(floating)[0])
                raise AnswerError(f"the block at row {r + 1}, column {c + 1} of Layer {z + 1} has no block below it")
        if len(voxels) > kernel.height:
            raise AnswerError(f"the structure has {len(voxels)} layers, more than the maximum height {kernel.height}")
        heights = voxels.sum(axis=0).reshape(-1)
        actions = [c for c in range(kernel.n_cells) for _ in range(int(heights[c]))]
        return text, actions + [kernel.stop_action]

    def _illegal(self, state: State, action: int, task: dict[str, Any]) -> str:
        g = self.kernel.grid
        if action == self.kernel.stop_action:
            return "every column of the top view needs a block (mask_top_view=True)"
        r, c = divmod(action, g)
        if not state["view"][0, action]:
            return f"row {r + 1}, column {c + 1} is outside the top view (mask_top_view=True)"
        return f"the env cannot drop a block on row {r + 1}, column {c + 1} here"

    def _why_invalid(self, outcome: str, task: dict[str, Any]) -> str:
        g = self.kernel.grid
        covered = key_heights(outcome, g) > 0
        view = np.asarray(task["top_view"], dtype=bool).reshape(g, g)
        for (r, c) in np.argwhere(covered != view):
            if covered[r, c]:
                return f"the structure has a block at row {r + 1}, column {c + 1}, which the top view shows empty"
            return f"the structure leaves row {r + 1}, column {c + 1} empty, which the top view shows covered"
        return "the structure does not match the top view"
