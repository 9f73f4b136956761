"""Exact path counts: the integer arithmetic the kernels' ``path_counts`` share.

Counts are exact: int64 arrays when every value fits, object arrays of Python ints otherwise (numpy indexes
and multiplies both the same way).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from math import comb

import numpy as np

INT64_LIMIT = 2**63
TABLE_MAX = 1 << 20
"""Largest binomial table :func:`multinomials` keeps; larger configurations compute row by row."""


def count_table(values: Sequence[int]) -> np.ndarray:
    """Exact counts as an array for table lookups: int64 when every value fits, else Python ints (object)."""
    values = [int(v) for v in values]
    if max(values, default=0) < INT64_LIMIT:
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def multinomial(parts: Sequence[int]) -> int:
    """``(sum parts)! / prod(part!)`` as an exact Python int: the number of orders of the moves."""
    total, out = 0, 1
    for k in parts:
        total += int(k)
        out *= comb(total, int(k))
    return out


@functools.lru_cache(maxsize=16)
def _binomials(max_total: int, max_part: int, exact_objects: bool) -> np.ndarray:
    """``table[s * (max_part + 1) + k] = C(s, k)`` for ``s <= max_total``, ``k <= max_part`` (read-only)."""
    values = [comb(s, k) for s in range(max_total + 1) for k in range(max_part + 1)]
    table = np.empty(len(values), dtype=object) if exact_objects else np.empty(len(values), dtype=np.int64)
    table[:] = values
    table.setflags(write=False)
    return table


def multinomials(parts: np.ndarray, max_part: int, max_total: int, largest: int) -> np.ndarray:
    """Multinomial coefficients ``(sum_d x_d)! / prod_d x_d!`` of the rows of ``parts`` ``[N, d]``, exactly.

    The number of distinct orders of ``x_1`` moves of kind 1, ..., ``x_d`` of kind d, computed as the product
    ``prod_d C(x_1 + ... + x_d, x_d)`` from a cached table of binomials. ``max_part`` and ``max_total`` bound
    the entries and the row sums; ``largest`` bounds the result and picks the dtype (int64 below 2^63, else an
    object array of Python ints), so the product never overflows. Above :data:`TABLE_MAX` table entries the
    rows are computed one by one in Python instead.
    """
    x = np.asarray(parts, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"parts must have shape [N, d], got {x.shape}")
    exact_objects = largest >= INT64_LIMIT
    if (max_total + 1) * (max_part + 1) > TABLE_MAX:
        rows = np.empty(len(x), dtype=object) if exact_objects else np.empty(len(x), dtype=np.int64)
        rows[:] = [multinomial(r) for r in x.tolist()]
        return rows
    table = _binomials(max_total, max_part, exact_objects)
    idx = np.cumsum(x, axis=1) * (max_part + 1) + x
    return np.prod(table[idx], axis=1)
