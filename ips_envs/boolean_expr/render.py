"""BooleanExpr renderings of a single row: ANSI text and an rgb_array picture.

The kernel (:mod:`ips_envs.boolean_expr.kernel`) calls these with its state (row 0 is drawn), its grammar and,
once the tree is complete, the expression's truth table (an int, bit ``i`` = value under assignment ``i``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ips_envs.boolean_expr.expression import key_of_tokens, partial_tree
from ips_envs.core import raster
from ips_envs.core.kernel import State


def render_ansi(
    state: State, variables: Sequence[str], operators: Sequence[str], max_depth: int, table: int | None
) -> str:
    """Text picture of row 0: prefix, partial tree, open slots or key, and the task's truth table beside
    the expression's (``table``, None while the tree is incomplete)."""
    tokens_names = tuple(variables) + tuple(operators)
    n_vars, n_rows = len(variables), state["observed"].shape[1]
    tokens = [tokens_names[int(t)] for t in state["tokens"][0, : int(state["length"][0])]]
    top = int(state["top"][0])
    lines = [
        f"BooleanExpr variables={list(variables)} operators={list(operators)} max_depth={max_depth}",
        f"prefix: {' '.join(tokens) if tokens else '(empty)'}",
        f"tree:   {partial_tree(tokens)}",
    ]
    done = table is not None
    if done:
        ids = tuple(state["tokens"][0, : len(tokens)].tolist())
        lines.append(f"key:    {key_of_tokens(tokens_names, ids)}")
    else:
        budgets = [int(b) for b in state["stack"][0, :top][::-1]]
        lines.append(f"open slots (next first), depth budget: {budgets}")
    header = " ".join(variables)
    lines.append(f"{header} | task" + (" | expr" if done else ""))
    for i in range(n_rows):
        bits = " ".join(f"{(i >> (n_vars - 1 - j)) & 1:>{len(v)}}" for j, v in enumerate(variables))
        seen = bool(state["observed"][0, i])
        cell = str(int(state["output"][0, i])) if seen else "?"
        line = f"{bits} |  {cell}  "
        if table is not None:
            got = (table >> i) & 1
            mark = "" if not seen else " ok" if got == int(state["output"][0, i]) else " x"
            line += f"|  {got}{mark}"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def render_rgb(state: State, n_vars: int, operators: Sequence[str], max_depth: int, table: int | None) -> np.ndarray:
    """RGB picture of row 0: written tokens (one colour per token), the open-slot stack shaded by depth
    budget, and the truth table (inputs, observed output, and the expression's output once ``table`` is known)."""
    max_length, n_rows = state["tokens"].shape[1], state["observed"].shape[1]
    px, gap = 16, 8
    var_colors = [raster.BLUE, (60, 180, 200), (130, 90, 200), (40, 60, 120)]
    op_colors = {"AND": raster.GREEN, "OR": raster.ORANGE, "NOT": raster.RED, "NOR": (170, 60, 150),
                 "XOR": raster.DARK}
    colors = var_colors[:n_vars] + [op_colors[op] for op in operators]
    cols = max(max_length, n_vars + 2)
    height = gap + 2 * px + n_rows * px + gap
    img = raster.canvas(height, cols * px + 2 * gap)
    # row 1: the tokens written so far, one coloured block each
    for pos in range(max_length):
        t = int(state["tokens"][0, pos])
        left = gap + pos * px
        if t >= 0:
            raster.fill(img, gap, left, px, px, colors[t])
        raster.frame(img, gap, left, px, px, raster.GREY)
    # row 2: the open slot stack, shaded by remaining depth budget
    top_y = gap + px + 2
    for slot in range(int(state["top"][0])):
        b = int(state["stack"][0, slot])
        raster.fill(img, top_y, gap + slot * px + 2, px - 6, px - 4, raster.shade((b + 1) / (max_depth + 1)))
    # truth table: input bits, observed output (green 1, red 0, grey unobserved), expression output
    y0 = gap + 2 * px
    for i in range(n_rows):
        y = y0 + i * px
        for j in range(n_vars):
            bit = (i >> (n_vars - 1 - j)) & 1
            raster.fill(img, y, gap + j * px, px, px, raster.BLACK if bit else raster.WHITE)
            raster.frame(img, y, gap + j * px, px, px, raster.GREY)
        x_task = gap + n_vars * px
        if state["observed"][0, i]:
            raster.fill(img, y, x_task, px, px, raster.GREEN if state["output"][0, i] else raster.RED)
        else:
            raster.fill(img, y, x_task, px, px, raster.GREY)
        raster.frame(img, y, x_task, px, px, raster.DARK)
        if table is not None:
            raster.fill(img, y, x_task + px, px, px, raster.GREEN if (table >> i) & 1 else raster.RED)
            raster.frame(img, y, x_task + px, px, px, raster.DARK)
    return img
