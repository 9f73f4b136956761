"""CausalDAG renderings of a single row: ANSI text and an rgb_array picture.

The kernel (:mod:`ips_envs.causal_dag.kernel`) calls these with row 0 of its state; they read only the
state arrays (``adj``, ``reach``, ``perturbed``, ``observed``) and the task dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ips_envs.causal_dag.space import NODE_NAMES, edge_keys, matrix_to_bits
from ips_envs.core import raster
from ips_envs.core.kernel import State


def _observation_lines(state: State, task: Mapping[str, Any]) -> list[str]:
    """One line per observation: the observed descendants beside those the current graph reaches."""
    names = NODE_NAMES[: state["adj"].shape[-1]]
    reach = state["reach"][0]
    lines = ["observations (perturb -> observed descendants | current graph):"]
    for item in task["observations"]:
        p = names.index(item["perturb"])
        now = [names[j] for j in np.flatnonzero(reach[p])]
        ok = now == list(item["descendants"])
        lines.append(
            f"  do({item['perturb']}) -> {{{', '.join(item['descendants'])}}}".ljust(26)
            + f"| {{{', '.join(now)}}}".ljust(18) + ("ok" if ok else "differs")
        )
    return lines


def render_ansi(state: State, task: Mapping[str, Any], max_edges: int, valid: bool) -> str:
    """Text picture of row 0: its edges, adjacency matrix, observations and whether it is ``valid`` now."""
    adj = state["adj"][0]
    n = adj.shape[-1]
    names = NODE_NAMES[:n]
    key = edge_keys(matrix_to_bits(adj[None]))[0]
    lines = [f"CausalDAG: {n} nodes, {int(adj.sum())}/{max_edges} edges: "
             + (key.replace(",", ", ") if key else "(none)")]
    lines.append("adjacency (row -> column):")
    lines.append("    " + " ".join(names))
    for i, name in enumerate(names):
        lines.append(f"  {name} " + " ".join("1" if a else "." for a in adj[i]))
    lines += _observation_lines(state, task)
    lines.append("valid now: " + ("yes" if valid else "no"))
    return "\n".join(lines) + "\n"


def render_rgb(state: State) -> np.ndarray:
    """RGB picture of row 0: the graph on a circle (perturbed nodes orange) beside the observed descendant
    matrix (blue = observed descendant, grey = unperturbed row, red frame where the graph differs)."""
    n = state["adj"].shape[-1]
    side, cell = 200, 20
    img = raster.canvas(side, side + n * cell + 40)
    centre, radius, node_r = side / 2, 70.0, 13.0
    angle = -np.pi / 2 + 2 * np.pi * np.arange(n) / n
    pos = np.stack([centre + radius * np.sin(angle), centre + radius * np.cos(angle)], axis=1)
    perturbed, observed = state["perturbed"][0], state["observed"][0]
    adj, reach = state["adj"][0], state["reach"][0]
    for i, j in zip(*np.nonzero(adj), strict=True):
        d = pos[j] - pos[i]
        u = d / np.linalg.norm(d)
        a, b = pos[i] + u * node_r, pos[j] - u * (node_r + 1)
        raster.line(img, tuple(a), tuple(b), raster.DARK, width=2)
        normal = np.array([-u[1], u[0]])
        for side_sign in (1, -1):
            raster.line(img, tuple(b), tuple(b - 9 * u + side_sign * 5 * normal), raster.DARK, width=2)
    for i in range(n):
        raster.disc(img, tuple(pos[i]), node_r, raster.ORANGE if perturbed[i] else raster.BLUE)
        _letter(img, i, int(pos[i][0]) - 5, int(pos[i][1]) - 3, raster.WHITE)
    # task panel: row p = observed descendants of perturbed p (blue = 1); red frame where the graph differs
    top, left = (side - n * cell) // 2, side + 20
    for i in range(n):
        _letter(img, i, top - 14, left + i * cell + cell // 2 - 3, raster.BLACK)
        _letter(img, i, top + i * cell + cell // 2 - 5, left - 12, raster.BLACK)
        for j in range(n):
            r0, c0 = top + i * cell, left + j * cell
            if not perturbed[i]:
                raster.fill(img, r0, c0, cell, cell, raster.GREY)
            else:
                raster.fill(img, r0, c0, cell, cell, raster.BLUE if observed[i, j] else raster.WHITE)
                if reach[i, j] != observed[i, j]:
                    raster.frame(img, r0 + 1, c0 + 1, cell - 2, cell - 2, raster.RED)
                    raster.frame(img, r0 + 2, c0 + 2, cell - 4, cell - 4, raster.RED)
            raster.frame(img, r0, c0, cell, cell, raster.DARK)
    return img


_FONT = {  # 3x5 bitmaps of the node names
    "A": ("010", "101", "111", "101", "101"),
    "B": ("110", "101", "110", "101", "110"),
    "C": ("011", "100", "100", "100", "011"),
    "D": ("110", "101", "101", "101", "110"),
    "E": ("111", "100", "110", "100", "111"),
    "F": ("111", "100", "110", "100", "100"),
}


def _letter(img: np.ndarray, node: int, top: int, left: int, color: tuple[int, int, int], scale: int = 2) -> None:
    """Draw the name of ``node`` with its top-left corner at (``top``, ``left``)."""
    for r, row in enumerate(_FONT[NODE_NAMES[node]]):
        for c, bit in enumerate(row):
            if bit == "1":
                raster.fill(img, top + r * scale, left + c * scale, scale, scale, color)
