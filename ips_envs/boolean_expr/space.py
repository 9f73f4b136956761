"""The enumerated BooleanExpr key space: every canonical key of a grammar, its truth table and its path count.

:func:`expression_space` builds, level by level over depth, every canonical key of depth <= ``max_depth``
with its truth table, a witness tree, its number of construction paths (prefix token sequences) and the
operator tables that map children's key indices to their parent's (the kernel folds them to key a batch of
trees without parsing). :func:`realisable_tables` lists the truth tables alone, which stays cheap when
the key space is too large to enumerate.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ips_envs.boolean_expr.expression import (
    ARITY,
    DEFAULT_OPERATORS,
    DEFAULT_VARIABLES,
    MAX_DEPTH,
    Canon,
    combine,
    leaf,
    negate,
    validate_operators,
    validate_variables,
)
from ips_envs.core.validation import check_int

MAX_CANDIDATES = 500_000
"""Refuse to enumerate a key space whose next level needs more pair combinations than this."""


class ExpressionSpaceTooLarge(ValueError):
    """The requested configuration's expression space is too large to enumerate."""


# ------------------------------------------------------------------------------------------- truth tables
def variable_tables(n_vars: int) -> np.ndarray:
    """Truth-table bit masks (int64 ``[n_vars]``) of the variables: bit ``i`` is the value in assignment ``i``."""
    rows = np.arange(2**n_vars)
    bits = (rows[None, :] >> (n_vars - 1 - np.arange(n_vars))[:, None]) & 1
    return (bits << rows[None, :]).sum(axis=1).astype(np.int64)


def gate(op: str, a: Any, b: Any, full: int) -> Any:
    """Bitwise gate on truth tables (numpy arrays or ints); ``full`` has every assignment bit set."""
    if op == "AND":
        return a & b
    if op == "OR":
        return a | b
    if op == "NOR":
        return ~(a | b) & full
    if op == "XOR":
        return a ^ b
    raise ValueError(f"{op!r} is not a binary operator")


@dataclass(frozen=True)
class ExpressionSpace:
    """Enumerated key space of one configuration (built by :func:`expression_space`)."""

    keys: tuple[str, ...]
    bits: np.ndarray  # int64 [K] truth tables
    witness: dict[str, tuple[str, ...]]  # key -> prefix tokens of a tree of depth <= max_depth
    # key -> number of trees of depth <= max_depth (= prefix token sequences) with that key
    path_counts: dict[str, int]
    # ``path_counts`` aligned with ``keys`` (int64, or Python ints in an object array beyond it)
    path_count_array: np.ndarray
    # key index of an operator applied to the keys of depth <= max_depth - 1 (the first rows of ``keys``, since keys
    # are listed level by level): ``not_index[a]`` and ``pair_index[k, a, b]`` for the k-th operator of the grammar
    # (int32; -1 where the operator is not unary / binary)
    not_index: np.ndarray
    pair_index: np.ndarray


@functools.lru_cache(maxsize=32)
def expression_space(variables: tuple[str, ...], operators: tuple[str, ...], max_depth: int) -> ExpressionSpace:
    """Every key of depth <= ``max_depth``, its truth table, one witness tree and its number of trees.

    One pass per depth level ``d`` over every operator applied to the keys of depth <= ``d - 1`` builds the new
    keys and, in the same loop, the path-count DP: with ``N_d(k)`` the number of trees of depth <= ``d`` whose
    canonical key is ``k``,

        N_d(k) = [k is a variable] + sum_{c: NOT(c) = k} N_{d-1}(c)
                 + sum_{op binary} sum_{(a, b): op(a, b) = k} N_{d-1}(a) N_{d-1}(b),

    over ordered pairs (the key of ``op(a, b)`` is that of ``op(b, a)``, so an unordered pair ``a != b``
    counts twice). A tree's key depends only on its children's keys, so the sum is exact. The masks allow
    exactly the prefix sequences of trees of depth <= ``max_depth``, one sequence per tree, so ``N`` at
    ``max_depth`` is the number of construction paths of each outcome.
    """
    n = len(variables)
    full = (1 << 2**n) - 1
    var_bits = variable_tables(n).tolist()
    # level items: key -> (canonical node, truth table, witness tokens)
    items: dict[str, tuple[Canon, int, tuple[str, ...]]] = {}
    for v, b in zip(variables, var_bits, strict=True):
        items[v] = (leaf(v), b, (v,))
    path_counts = dict.fromkeys(variables, 1)
    binary = [op for op in operators if ARITY[op] == 2]
    not_keys: list[str] = []
    pair_keys: dict[str, dict[tuple[int, int], str]] = {op: {} for op in binary}
    for level in range(max_depth):
        last = level == max_depth - 1
        prev = list(items.values())
        prev_path_counts = [path_counts[c.key] for c, _, _ in prev]
        path_counts = dict.fromkeys(variables, 1)
        m = len(prev)
        candidates = m * ("NOT" in operators) + len(binary) * m * (m + 1) // 2
        if candidates > MAX_CANDIDATES:
            raise ExpressionSpaceTooLarge(
                f"the expression space of variables={list(variables)}, operators={list(operators)}, "
                f"max_depth={max_depth} is too large to enumerate ({candidates} combinations at one level)"
            )
        new: dict[str, tuple[Canon, int, tuple[str, ...]]] = {}
        if "NOT" in operators:
            for (c, b, w), nc in zip(prev, prev_path_counts, strict=True):
                node = negate(c)
                if last:
                    not_keys.append(node.key)
                path_counts[node.key] = path_counts.get(node.key, 0) + nc
                if node.key not in items and node.key not in new:
                    new[node.key] = (node, ~b & full, ("NOT", *w))
        for op in binary:
            for i in range(m):
                ci, bi, wi = prev[i]
                ni = prev_path_counts[i]
                for j in range(i, m):
                    cj, bj, wj = prev[j]
                    node = combine(op, (ci, cj))
                    if last:
                        pair_keys[op][i, j] = node.key
                    pairs = ni * prev_path_counts[j] * (1 if i == j else 2)
                    path_counts[node.key] = path_counts.get(node.key, 0) + pairs
                    if node.key not in items and node.key not in new:
                        new[node.key] = (node, gate(op, bi, bj, full), (op, *wi, *wj))
        items.update(new)
    keys = tuple(items)
    bits = np.array([items[k][1] for k in keys], dtype=np.int64)
    index = {k: i for i, k in enumerate(keys)}
    m = len(prev)
    not_index = np.array([index[k] for k in not_keys] if not_keys else [-1] * m, dtype=np.int32)
    pair_index = np.full((len(operators), m, m), -1, dtype=np.int32)
    for op, table in pair_keys.items():
        ij = np.array(list(table), dtype=np.int64).reshape(-1, 2)
        vals = np.array([index[k] for k in table.values()], dtype=np.int32)
        arr = pair_index[operators.index(op)]
        arr[ij[:, 0], ij[:, 1]] = vals
        arr[ij[:, 1], ij[:, 0]] = vals  # every binary key is symmetric in its arguments (sorted / commutative)
    counts = [path_counts[k] for k in keys]
    path_count_array = np.array(counts, dtype=np.int64 if max(counts) < 2**63 else object)
    witness = {k: items[k][2] for k in keys}
    return ExpressionSpace(keys, bits, witness, path_counts, path_count_array, not_index, pair_index)


def canonical_expressions(
    variables: Sequence[str] = DEFAULT_VARIABLES,
    operators: Sequence[str] = DEFAULT_OPERATORS,
    max_depth: int = 2,
) -> dict[str, int]:
    """Every canonical key of depth <= ``max_depth`` over ``variables`` / ``operators`` and its truth table.

    The truth table is an int whose bit ``i`` is the value under assignment ``i`` (numbered as in
    :mod:`ips_envs.boolean_expr.env`). The space is built level by level (level ``d`` = level ``d-1`` plus
    every operator applied to level ``d-1`` keys) and cached per configuration. Raises
    :class:`ExpressionSpaceTooLarge` (a ValueError) when a level needs more than ``MAX_CANDIDATES`` combinations.
    """
    space = expression_space(
        validate_variables(variables), validate_operators(operators), check_int("max_depth", max_depth, 1, MAX_DEPTH)
    )
    return dict(zip(space.keys, space.bits.tolist(), strict=True))


@functools.lru_cache(maxsize=32)
def realisable_tables(n_vars: int, operators: tuple[str, ...], max_depth: int) -> np.ndarray:
    """Sorted int64 array of every truth table some expression of depth <= ``max_depth`` computes.

    Works on truth tables only (at most ``2^(2^n_vars)`` of them, a presence array), so it is cheap even when
    the key space is too large to enumerate; refuses when one level needs more than ``100 * MAX_CANDIDATES``
    table combinations.
    """
    full = (1 << 2**n_vars) - 1
    level = np.unique(variable_tables(n_vars))
    binary = [op for op in operators if ARITY[op] == 2]
    for _ in range(max_depth):
        m = len(level)
        if m == full + 1:
            break  # every table is already realisable
        if m * (m + 1) // 2 * len(binary) > 100 * MAX_CANDIDATES:
            raise ExpressionSpaceTooLarge(
                f"the truth tables of {n_vars} variables, operators={list(operators)}, max_depth={max_depth} "
                f"are too many to enumerate ({m} tables at one level)"
            )
        present = np.zeros(full + 1, dtype=bool)
        present[level] = True
        if "NOT" in operators:
            present[~level & full] = True
        chunk = max(1, 4_000_000 // m)
        for start in range(0, m, chunk):
            block = level[start : start + chunk, None]
            for op in binary:
                present[gate(op, block, level[None, :], full).reshape(-1)] = True
        level = np.flatnonzero(present).astype(np.int64)
    return level
