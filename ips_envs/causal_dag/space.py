"""The CausalDAG outcome and task spaces: every labelled DAG and every realisable task, enumerated as arrays.

A graph is stored as one uint8 bitmask per node (bit ``j`` of row ``i`` is the edge, or descendant relation,
``i -> j``; ``n <= 6`` nodes, so every row fits in a byte). :func:`all_dags` enumerates every DAG with its
transitive closure (cached per ``(n, max_edges)``), :func:`task_table` every realisable task (the observed
descendant sets of ``k`` perturbed nodes), and :func:`edge_keys` / :func:`parse_key` convert between graphs
and their canonical outcome keys (``"A->B,B->C"``). The kernel (:mod:`ips_envs.causal_dag.kernel`) filters
these arrays for admissible sets and samples tasks from them.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ips_envs.core.validation import check_int

NODE_NAMES = "ABCDEF"
"""Node names, in index order (A = 0)."""
MAX_NODES = 6
"""Largest node count the bitmask encoding (one byte per node row) and the enumeration support."""


def full_edges(n: int) -> int:
    """The largest edge count of a DAG on ``n`` nodes, ``n(n-1)/2``."""
    return n * (n - 1) // 2



def bits_to_matrix(bits: np.ndarray, n: int) -> np.ndarray:
    """Bool ``[..., n, n]`` matrices from per-row bitmasks ``[..., n]``."""
    return ((np.asarray(bits)[..., None] >> np.arange(n, dtype=np.uint8)) & 1).astype(bool)


def matrix_to_bits(matrix: np.ndarray) -> np.ndarray:
    """Per-row uint8 bitmasks ``[..., n]`` from bool matrices ``[..., n, n]``."""
    m = np.asarray(matrix, dtype=bool)
    weights = (1 << np.arange(m.shape[-1])).astype(np.uint8)
    return (m * weights).sum(axis=-1).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _row_strings(n: int) -> tuple[tuple[str, ...], ...]:
    """``table[i][b]``: the edges ``i -> j`` for the bits ``j`` of ``b``, as ``"A->B,A->C"``."""
    return tuple(
        tuple(",".join(f"{NODE_NAMES[i]}->{NODE_NAMES[j]}" for j in range(n) if b >> j & 1) for b in range(1 << n))
        for i in range(n)
    )


def edge_keys(out_bits: np.ndarray) -> list[str]:
    """Canonical outcome keys (sorted edge lists) of graphs given as out-edge bitmasks ``[M, n]``."""
    out_bits = np.asarray(out_bits)
    n = out_bits.shape[1]
    table = _row_strings(n)
    columns = [[table[i][b] for b in out_bits[:, i].tolist()] for i in range(n)]
    return [",".join(part for part in parts if part) for parts in zip(*columns, strict=True)]


def parse_key(key: str, n: int) -> np.ndarray:
    """Bool adjacency ``[n, n]`` of an outcome key such as ``"A->B,B->C"`` (inverse of :func:`edge_keys`)."""
    adj = np.zeros((n, n), dtype=bool)
    for edge in filter(None, key.split(",")):
        src, dst = edge.split("->")
        adj[NODE_NAMES.index(src), NODE_NAMES.index(dst)] = True
    return adj


# --------------------------------------------------------------------------- the DAG space
@dataclass(frozen=True, eq=False)
class DAGSpace:
    """Every labelled DAG on ``n_nodes`` nodes with at most ``max_edges`` edges, as read-only arrays.

    Rows are sorted by edge count, then by adjacency code. ``out_bits[m, i]`` has bit ``j`` set when DAG ``m``
    has the edge ``i -> j``; ``desc_bits[m, i]`` has bit ``j`` set when ``j`` is a descendant of ``i``.
    """

    n_nodes: int
    max_edges: int
    out_bits: np.ndarray
    desc_bits: np.ndarray
    n_edges: np.ndarray

    def __len__(self) -> int:
        return len(self.n_edges)

    @property
    def adjacency(self) -> np.ndarray:
        """Bool ``[M, n, n]`` adjacency matrices (computed on access)."""
        return bits_to_matrix(self.out_bits, self.n_nodes)

    @property
    def descendants(self) -> np.ndarray:
        """Bool ``[M, n, n]`` transitive closures (computed on access)."""
        return bits_to_matrix(self.desc_bits, self.n_nodes)

    def keys(self, index: np.ndarray | None = None) -> list[str]:
        """Outcome keys of every DAG (or of the rows ``index``)."""
        return edge_keys(self.out_bits if index is None else self.out_bits[index])


def _grow(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-edge and descendant bitmasks of every DAG on nodes ``0..n-1`` (unsorted).

    Node ``v = n - 1`` is added to every DAG on ``n - 1`` nodes (the cached smaller space) with every in-set ``S`` and disjoint
    out-set ``T``; the candidate is acyclic iff no node of ``T`` or below reaches back into ``S``. The
    closure is updated in place: ``desc(v) = T | desc(T)`` and every ancestor of ``v`` gains ``v`` and
    ``desc(v)``. Vectorised over all (DAG, S, T) candidates.
    """
    if n == 1:
        return np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint8)
    base = _all_dags(n - 1, full_edges(n - 1))
    out_prev, desc_prev = base.out_bits, base.desc_bits
    k = v = n - 1
    digits = np.array(list(itertools.product(range(3), repeat=k)), dtype=np.uint8).reshape(-1, k)
    weights = (1 << np.arange(k)).astype(np.uint8)
    s_all = ((digits == 1) * weights).sum(axis=1).astype(np.uint8)  # u -> v
    t_all = ((digits == 2) * weights).sum(axis=1).astype(np.uint8)  # v -> u
    below = np.broadcast_to(t_all, (len(out_prev), len(t_all))).copy()
    for u in range(k):
        has = (t_all >> u & 1).astype(bool)
        below[:, has] |= desc_prev[:, u : u + 1]
    dag, cand = np.nonzero((below & s_all[None, :]) == 0)
    s, t, dt = s_all[cand], t_all[cand], below[dag, cand]
    desc_old, out_old = desc_prev[dag], out_prev[dag]
    in_s = (s[:, None] >> np.arange(k, dtype=np.uint8) & 1).astype(bool)
    ancestor = in_s | ((desc_old & s[:, None]) != 0)
    out = np.empty((len(dag), n), np.uint8)
    out[:, :k] = out_old | (in_s.astype(np.uint8) << v)
    out[:, v] = t
    desc = np.empty((len(dag), n), np.uint8)
    desc[:, :k] = desc_old | np.where(ancestor, dt[:, None] | np.uint8(1 << v), np.uint8(0))
    desc[:, v] = dt
    return out, desc


def all_dags(n: int, max_edges: int | None = None) -> DAGSpace:
    """Every labelled DAG on ``n`` nodes (1..6) with at most ``max_edges`` edges (default: all), cached.

    25 / 543 / 29,281 / 3,781,503 DAGs on 3 / 4 / 5 / 6 nodes without an edge limit (the 6-node space takes
    a few seconds and about 50 MB).
    """
    n = check_int("n", n, 1, MAX_NODES)
    top = full_edges(n)
    return _all_dags(n, top if max_edges is None else check_int("max_edges", max_edges, 0, top))


@functools.lru_cache(maxsize=None)
def _all_dags(n: int, max_edges: int) -> DAGSpace:
    top = full_edges(n)
    if max_edges < top:
        full = _all_dags(n, top)
        keep = full.n_edges <= max_edges
        out, desc, n_edges = full.out_bits[keep], full.desc_bits[keep], full.n_edges[keep]
    else:
        out, desc = _grow(n)
        n_edges = np.unpackbits(out[:, :, None], axis=2).sum(axis=(1, 2)).astype(np.int8)
        code = (out.astype(np.uint64) << (np.arange(n, dtype=np.uint64) * np.uint64(n))).sum(axis=1)
        order = np.lexsort((code, n_edges))
        out, desc, n_edges = out[order], desc[order], n_edges[order]
    for a in (out, desc, n_edges):
        a.setflags(write=False)
    return DAGSpace(n, max_edges, out, desc, n_edges)


def task_table(n: int, k: int, max_edges: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every realisable task with ``k`` observations on ``n`` nodes, as read-only arrays (cached).

    Returns ``(perturbed [T, k] int8, descendants [T, k] uint8 bitmasks, n_admissible [T] int64)``, sorted by
    perturbed set, then by descendant pattern. ``n_admissible`` is the size of each task's admissible set.
    """
    space = all_dags(n, max_edges)
    return _task_table(space.n_nodes, check_int("k", k, 1, space.n_nodes), space.max_edges)


@functools.lru_cache(maxsize=None)
def _task_table(n: int, k: int, max_edges: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    space = all_dags(n, max_edges)
    perturbed, descendants, counts = [], [], []
    shifts = np.arange(k, dtype=np.uint64) * np.uint64(n)
    mask = np.uint64((1 << n) - 1)
    for combo in itertools.combinations(range(n), k):
        codes = (space.desc_bits[:, list(combo)].astype(np.uint64) << shifts).sum(axis=1)
        uniq, cnt = np.unique(codes, return_counts=True)
        perturbed.append(np.broadcast_to(np.array(combo, np.int8), (len(uniq), k)))
        descendants.append(((uniq[:, None] >> shifts) & mask).astype(np.uint8))
        counts.append(cnt.astype(np.int64))
    table = (np.concatenate(perturbed), np.concatenate(descendants), np.concatenate(counts))
    for a in table:
        a.setflags(write=False)
    return table


@functools.lru_cache(maxsize=None)
def _bit_names(n: int) -> tuple[tuple[str, ...], ...]:
    """``table[b]``: the names of the nodes whose bits are set in ``b``, in order."""
    return tuple(tuple(NODE_NAMES[j] for j in range(n) if b >> j & 1) for b in range(1 << n))


@functools.lru_cache(maxsize=None)
def observation_items(n: int) -> tuple[tuple[dict[str, Any], ...], ...]:
    """``items[p][b]``: the observation dict of perturbed node ``p`` with descendant bitmask ``b`` (shared; read-only)."""
    names = _bit_names(n)
    return tuple(tuple({"perturb": NODE_NAMES[p], "descendants": list(names[b])} for b in range(1 << n))
                 for p in range(n))


def task_dict(n: int, perturbed: Sequence[int], desc_bits: Sequence[int]) -> dict[str, Any]:
    """A normalised task dict from perturbed node indices and descendant bitmasks (sorted by node)."""
    names = _bit_names(n)
    rows = sorted(zip((int(p) for p in perturbed), (int(b) for b in desc_bits), strict=True))
    return {
        "n_nodes": n,
        "observations": [{"perturb": NODE_NAMES[p], "descendants": list(names[b])} for p, b in rows],
    }


@functools.lru_cache(maxsize=None)
def task_rows(n: int, k: int, max_edges: int) -> list[tuple[list[int], list[int]]]:
    """:func:`task_table` as Python lists (for fast task sampling)."""
    perturbed, descendants, _ = _task_table(n, k, max_edges)
    return list(zip(perturbed.tolist(), descendants.tolist(), strict=True))


@functools.lru_cache(maxsize=None)
def task_dicts(n: int, k: int, max_edges: int) -> tuple[dict[str, Any], ...]:
    """Every realisable task as a normalised dict, in :func:`task_table` order (read-only cache)."""
    return tuple(task_dict(n, p, d) for p, d in task_rows(n, k, max_edges))

