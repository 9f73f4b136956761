"""IPS/CausalDAG-v0: build a DAG, edge by edge, that explains a set of perturbation observations.

## Description
The causal-inference task of HypoSpace (Chen et al. 2025) used in the paper's Section 5.2. The nodes are
named ``A, B, C, ...``. An *observation* perturbs one node ``P`` and reports 1 for every descendant of ``P``
(every node reachable from ``P`` by a directed path, not only its children) and 0 for the rest. A *task* is
``k`` observations on distinct perturbed nodes; the hypothesis space is every labelled DAG with at most
``max_edges`` edges, and the *admissible set* is every DAG whose descendant set of each perturbed node equals
the observed one. Identity is the exact labelled edge set (no Markov-equivalence or transitive-reduction
collapsing). With the defaults (4 nodes, 3 observations, up to 6 edges) there are 543 DAGs, 392 realisable
tasks and 1 to 16 admissible DAGs per task (median 3); every admissible DAG has reward 1, so the
reward-proportional target is uniform over the admissible set.

A task dict (JSON-able; :meth:`CausalDAGKernel.validate_task` normalises and checks it)::

    {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B", "C", "D"]},
                                    {"perturb": "B", "descendants": ["C", "D"]},
                                    {"perturb": "D", "descendants": []}]}

Observations are sorted by perturbed node, descendants by name. Any ``k`` in ``1..n_nodes`` is accepted; a
task must be realisable by at least one DAG with at most ``max_edges`` edges.

## Action space
``Discrete(n * n + 1)``: action ``i * n + j`` adds the edge ``i -> j`` (nodes numbered A = 0, B = 1, ...);
action ``n * n`` stops. Masked out: self-loops, edges already present, edges that would close a cycle
(``j`` already reaches ``i``; the kernel keeps the transitive closure and updates it in O(n^2) per added
edge), and every edge once ``max_edges`` edges are present (then only stop is legal). With
``canonical_order=True`` an edge may only be added if its action index is larger than every edge already
present, so each DAG has exactly one construction path (``unique_paths``): its probability is the
probability of its one trajectory. Without it a DAG with ``m`` edges has ``m!`` paths.

## Observation space
``Box(0, 1, (5 * n * n + n [+ n * n],), float32)``, concatenating (row-major ``[i, j]`` matrices):

* the adjacency matrix of the current graph (``n * n``);
* its transitive closure, ``[i, j] = 1`` when ``j`` is a descendant of ``i`` (``n * n``);
* the task: the perturbed-node indicator (``n``) and the observed descendant matrix (``n * n``, row ``p``
  holds the observed descendants of ``p`` for perturbed ``p``, zeros for the other rows);
* the mismatch between the two on perturbed rows: observed descendants the graph does not reach yet
  (``n * n``) and reached nodes the observation rules out (``n * n``); both all zero exactly when the
  graph is admissible (derived from the above, given so a small network need not learn the comparison);
* with ``canonical_order=True`` only: the one-hot of the last added edge (``n * n``, all zero at the start).

## Rewards
Terminal only. ``reward="binary"`` (the only variant in v0): 1 when the final DAG is admissible (every
perturbed node's descendant set equals the observed one), else 0.

## Starting state
The empty graph on ``n_nodes`` nodes and a task: given (``task=`` or ``reset(options={"task": ...})``) or
sampled with the reset seed. Sampling is uniform over every realisable task with ``n_observations``
observations when ``n_nodes <= 4`` (the task list is enumerated once and cached). For ``n_nodes >= 5`` the
sampler draws an edge count ``m`` uniformly from ``0..max_edges``, a random node order, ``m`` of the
``n(n-1)/2`` forward pairs of that order uniformly without replacement, and ``n_observations`` distinct
perturbed nodes uniformly, and reports that DAG's descendant sets (realisable by construction, but not
uniform over tasks).

## Episode end
On the stop action (``info["outcome"]`` is the sorted edge list, e.g. ``"A->B,A->C,B->D"``, ``""`` for the
empty graph; ``info["valid"]`` says whether it is admissible), or on a masked-out action (reward 0,
invalid). At most ``max_edges + 1`` steps.

## Arguments
``n_nodes`` (4, in 3..6), ``max_edges`` (``None`` = ``n(n-1)/2``, i.e. every DAG), ``n_observations``
(3, in ``1..n_nodes``, for sampled tasks), ``canonical_order`` (False), ``reward`` ("binary"), plus the
common ``render_mode``, ``task``, ``strict``.

Enumeration helpers: :func:`all_dags` (every DAG with its descendant matrices, cached per
``(n, max_edges)``: 25 / 543 / 29,281 / 3,781,503 DAGs on 3 / 4 / 5 / 6 nodes),
:meth:`CausalDAGKernel.all_tasks` (every realisable task, for dataset export and train/test splits) and
:meth:`CausalDAGKernel.outcome_rewards` (the admissible set, by array filtering over the cached space).

## Version history
* v0: initial release.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from ips_envs.core import raster
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.kernel import Kernel, State, check_bool, check_fields, check_int
from ips_envs.core.paths import count_table
from ips_envs.core.tokens import POOLED, TokenLayout, layout_from_blocks
from ips_envs.core.vector_env import ConstructionVectorEnv

NODE_NAMES = "ABCDEF"
"""Node names, in index order (A = 0)."""
MIN_NODES, MAX_NODES = 3, 6
UNIFORM_TASK_MAX_NODES = 4
"""Largest node count whose task sampler is uniform over the enumerated realisable tasks."""
REWARDS = ("binary",)
TASK_FIELDS = ("n_nodes", "observations")
OBSERVATION_FIELDS = ("perturb", "descendants")


def full_edges(n: int) -> int:
    """The largest edge count of a DAG on ``n`` nodes, ``n(n-1)/2``."""
    return n * (n - 1) // 2


# --------------------------------------------------------------------------- bit helpers
# A graph is stored in the enumerated space as one uint8 bitmask per node: bit j of row i is the edge
# (or descendant relation) i -> j. n <= 6 nodes, so every row fits in a byte.


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
def _observation_items(n: int) -> tuple[tuple[dict[str, Any], ...], ...]:
    """``items[p][b]``: the observation dict of perturbed node ``p`` with descendant bitmask ``b`` (shared; read-only)."""
    names = _bit_names(n)
    return tuple(tuple({"perturb": NODE_NAMES[p], "descendants": list(names[b])} for b in range(1 << n))
                 for p in range(n))


def _task_dict(n: int, perturbed: Sequence[int], desc_bits: Sequence[int]) -> dict[str, Any]:
    """A normalised task dict from perturbed node indices and descendant bitmasks (sorted by node)."""
    names = _bit_names(n)
    rows = sorted(zip((int(p) for p in perturbed), (int(b) for b in desc_bits), strict=True))
    return {
        "n_nodes": n,
        "observations": [{"perturb": NODE_NAMES[p], "descendants": list(names[b])} for p, b in rows],
    }


@functools.lru_cache(maxsize=None)
def _task_rows(n: int, k: int, max_edges: int) -> list[tuple[list[int], list[int]]]:
    """:func:`task_table` as Python lists (for fast task sampling)."""
    perturbed, descendants, _ = _task_table(n, k, max_edges)
    return list(zip(perturbed.tolist(), descendants.tolist(), strict=True))


@functools.lru_cache(maxsize=None)
def _task_dicts(n: int, k: int, max_edges: int) -> tuple[dict[str, Any], ...]:
    """Every realisable task as a normalised dict, in :func:`task_table` order (read-only cache)."""
    return tuple(_task_dict(n, p, d) for p, d in _task_rows(n, k, max_edges))


# --------------------------------------------------------------------------- the kernel
class CausalDAGKernel(Kernel):
    """Batched DAG construction.

    State fields (leading dimension N): ``adj`` (bool [N, n, n], the edges), ``reach`` (bool [N, n, n], their
    transitive closure, updated incrementally), and the per-row task encoding ``perturbed`` (bool [N, n]) and
    ``observed`` (bool [N, n, n], observed descendants in the perturbed rows).
    """

    domain = "CausalDAG"

    def __init__(
        self,
        n_nodes: int = 4,
        max_edges: int | None = None,
        n_observations: int = 3,
        canonical_order: bool = False,
        reward: str = "binary",
    ) -> None:
        self.n_nodes = n = check_int("n_nodes", n_nodes, MIN_NODES, MAX_NODES)
        self.max_edges = full_edges(n) if max_edges is None else check_int("max_edges", max_edges, 1, full_edges(n))
        self.n_observations = check_int("n_observations", n_observations, 1, n)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {list(REWARDS)}, got {reward!r}")
        self.reward = reward
        self.canonical_order = check_bool("canonical_order", canonical_order)
        self.unique_paths = self.canonical_order
        self.names = list(NODE_NAMES[:n])
        self._index = {name: i for i, name in enumerate(self.names)}
        self._forward_pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
        self._pair_ends = tuple(np.array(side, dtype=np.int64) for side in zip(*self._forward_pairs, strict=True))
        self.n_actions = n * n + 1
        self.stop_action = n * n
        self.max_length = self.max_edges + 1
        size = 5 * n * n + n + (n * n if self.canonical_order else 0)
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._eye = np.eye(n, dtype=bool)
        self.has_path_counts = True
        self._paths = count_table([1 if self.canonical_order else math.factorial(m) for m in range(self.max_edges + 1)])

    # ------------------------------------------------------------------ tasks
    def task_table(self) -> tuple[dict[str, Any], ...] | None:
        """Every realisable task (the uniform task distribution) for ``n_nodes <= 4``; None above that."""
        if self.n_nodes <= UNIFORM_TASK_MAX_NODES:
            return _task_dicts(self.n_nodes, self.n_observations, self.max_edges)
        return None

    def sample_task(self, rng: np.random.Generator) -> dict[str, Any]:
        """Uniform over realisable tasks for ``n_nodes <= 4``; the random-DAG sampler above that."""
        if self.n_nodes <= UNIFORM_TASK_MAX_NODES:
            return super().sample_task(rng)
        found = self.sample_tasks([rng])
        assert found is not None
        return copy.deepcopy(found[0][0])

    def sample_tasks(self, rngs: Sequence[np.random.Generator]) -> tuple[list[dict[str, Any]], State] | None:
        """The random-DAG sampler (``n_nodes >= 5``) for many rows at once: tasks and their start states.

        One call to each row's generator draws everything for that row (the edge count, a node order, an edge
        subset and the perturbed nodes; a uniform permutation is the argsort of i.i.d. uniforms); the DAGs,
        their descendant sets and the task encodings are then computed for all rows together.
        """
        n, k = self.n_nodes, self.n_observations
        if n <= UNIFORM_TASK_MAX_NODES:
            return None
        pairs = len(self._forward_pairs)
        rows = len(rngs)
        u = np.array([rng.random(1 + 2 * n + pairs) for rng in rngs]).reshape(rows, 1 + 2 * n + pairs)
        m = np.minimum((u[:, 0] * (self.max_edges + 1)).astype(np.int64), self.max_edges)
        order = np.argsort(u[:, 1 : 1 + n], axis=1)
        rank = np.argsort(np.argsort(u[:, 1 + n : 1 + n + pairs], axis=1), axis=1)  # each pair's place in the draw
        chosen = rank < m[:, None]
        src, dst = self._pair_ends
        r_idx, c_idx = np.nonzero(chosen)
        adj = np.zeros((rows, n, n), dtype=bool)
        adj[r_idx, order[r_idx, src[c_idx]], order[r_idx, dst[c_idx]]] = True
        reach = adj.astype(np.float32)
        for _ in range(int(np.ceil(np.log2(max(n - 1, 1))))):  # transitive closure by squaring: paths of length <= n - 1
            reach = np.minimum(reach + reach @ reach, 1.0)
        reach = reach > 0
        perturbed_nodes = np.sort(np.argsort(u[:, 1 + n + pairs :], axis=1)[:, :k], axis=1)
        perturbed = np.zeros((rows, n), dtype=bool)
        perturbed[np.arange(rows)[:, None], perturbed_nodes] = True
        observed = reach & perturbed[:, :, None]
        bits = matrix_to_bits(np.take_along_axis(observed, perturbed_nodes[:, :, None], axis=1)).tolist()
        items = _observation_items(n)  # shared, read-only observation dicts (sample_task copies its task)
        tasks = [{"n_nodes": n, "observations": [items[p][b] for p, b in zip(ps, bs, strict=True)]}
                 for ps, bs in zip(perturbed_nodes.tolist(), bits, strict=True)]
        state = {"adj": np.zeros((rows, n, n), dtype=bool), "reach": np.zeros((rows, n, n), dtype=bool),
                 "perturbed": perturbed, "observed": observed}
        return tasks, state

    def _node(self, name: Any, field: str) -> int:
        if not isinstance(name, str) or name not in self.names:
            raise ValueError(f"{self.domain} task field {field!r} has unknown node {name!r}; nodes are {self.names}")
        return self.names.index(name)

    def validate_task(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised task (observations sorted by perturbed node, descendants sorted); ValueError names the field."""
        check_fields(task, TASK_FIELDS, self.domain)
        n = self.n_nodes
        if "n_nodes" in task and (
            isinstance(task["n_nodes"], bool) or not isinstance(task["n_nodes"], int | np.integer)
            or task["n_nodes"] != n
        ):
            raise ValueError(f"{self.domain} task field 'n_nodes' is {task['n_nodes']!r}, this env has n_nodes={n}")
        if "observations" not in task:
            raise ValueError(f"{self.domain} task is missing field 'observations'")
        obs = task["observations"]
        if isinstance(obs, str | bytes | Mapping) or not isinstance(obs, Sequence) or not 1 <= len(obs) <= n:
            raise ValueError(
                f"{self.domain} task field 'observations' must be a list of 1..{n} observations, got {obs!r}"
            )
        rows: dict[int, int] = {}
        for o, item in enumerate(obs):
            where = f"observations[{o}]"
            if not isinstance(item, Mapping):
                raise ValueError(f"{self.domain} task field {where!r} must be a dict, got {item!r}")
            unknown = sorted(set(item) - set(OBSERVATION_FIELDS))
            missing = sorted(set(OBSERVATION_FIELDS) - set(item))
            if unknown or missing:
                raise ValueError(
                    f"{self.domain} task field {where!r} has unknown field(s) {unknown} / missing field(s) "
                    f"{missing}; expected exactly {list(OBSERVATION_FIELDS)}"
                )
            p = self._node(item["perturb"], f"{where}.perturb")
            if p in rows:
                raise ValueError(f"{self.domain} task field '{where}.perturb' repeats perturbed node {self.names[p]}")
            desc = item["descendants"]
            if isinstance(desc, str | bytes | Mapping) or not isinstance(desc, Sequence):
                raise ValueError(f"{self.domain} task field '{where}.descendants' must be a list of node names")
            idx = [self._node(d, f"{where}.descendants") for d in desc]
            if len(set(idx)) != len(idx):
                raise ValueError(f"{self.domain} task field '{where}.descendants' repeats a node: {list(desc)!r}")
            if p in idx:
                raise ValueError(
                    f"{self.domain} task field '{where}.descendants' contains the perturbed node {self.names[p]}"
                )
            rows[p] = sum(1 << j for j in idx)
        reason = self._unrealisable(rows)
        if reason:
            raise ValueError(f"{self.domain} task field 'observations' is not realisable: {reason}")
        return _task_dict(n, list(rows), list(rows.values()))

    def _unrealisable(self, rows: Mapping[int, int]) -> str:
        """Why no DAG with at most ``max_edges`` edges fits the observations (``""`` when one does).

        Without an edge limit the observations are realisable iff, for perturbed ``p, q``, ``q`` a descendant of
        ``p`` implies ``desc(q)`` is a subset of ``desc(p)``: then the graph with edges ``p -> d`` for every
        observed pair is acyclic and has exactly the observed descendant sets, and every DAG has at most
        ``n(n-1)/2`` edges. With a tighter limit the enumerated space decides.
        """
        names = self.names
        for p, dp in rows.items():
            for q, dq in rows.items():
                if dp >> q & 1 and dq & ~dp:
                    extra = [names[j] for j in range(self.n_nodes) if (dq & ~dp) >> j & 1]
                    return (f"{names[q]} is a descendant of {names[p]}, so {names[q]}'s descendants {extra} "
                            f"must be descendants of {names[p]} too (a cycle if they include {names[p]})")
        if self.max_edges < full_edges(self.n_nodes):
            space = all_dags(self.n_nodes, self.max_edges)
            ps = list(rows)
            fit = (space.desc_bits[:, ps] == np.array(list(rows.values()), np.uint8)[None, :]).all(axis=1)
            if not fit.any():
                return f"every DAG that fits has more than max_edges={self.max_edges} edges"
        return ""

    def _row_codes(self, task: Mapping[str, Any]) -> list[int]:
        """Per node of a validated task: its observed descendant bitmask, or -1 when it is not perturbed."""
        index = self._index
        codes = [-1] * self.n_nodes
        for item in task["observations"]:
            codes[index[item["perturb"]]] = sum(1 << index[d] for d in item["descendants"])
        return codes

    def encode_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """``(perturbed bool [N, n], observed bool [N, n, n])`` of validated tasks (the per-row task encoding)."""
        codes = np.array([self._row_codes(t) for t in tasks], dtype=np.int16).reshape(len(tasks), self.n_nodes)
        perturbed = codes >= 0
        return perturbed, bits_to_matrix(np.where(perturbed, codes, 0).astype(np.uint8), self.n_nodes)

    def all_tasks(self, n_observations: int | None = None) -> list[dict[str, Any]]:
        """Every realisable task with ``n_observations`` (default: the kernel's) observations, in a fixed order."""
        k = self.n_observations if n_observations is None else check_int("n_observations", n_observations, 1,
                                                                          self.n_nodes)
        return [_task_dict(self.n_nodes, p, d) for p, d in _task_rows(self.n_nodes, k, self.max_edges)]

    # --------------------------------------------------------------- dynamics
    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        n, rows = self.n_nodes, len(tasks)
        perturbed, observed = self.encode_tasks(tasks)
        return {
            "adj": np.zeros((rows, n, n), dtype=bool),
            "reach": np.zeros((rows, n, n), dtype=bool),
            "perturbed": perturbed,
            "observed": observed,
        }

    def _last_edge(self, adj: np.ndarray) -> np.ndarray:
        """Largest action index among the present edges of each row (-1 for the empty graph)."""
        flat = adj.reshape(len(adj), -1)
        return np.where(flat.any(axis=1), flat.shape[1] - 1 - np.argmax(flat[:, ::-1], axis=1), -1)

    def legal_actions(self, state: State) -> np.ndarray:
        adj, reach = state["adj"], state["reach"]
        rows, n = len(adj), self.n_nodes
        # i -> j is legal unless i == j, the edge exists, or j already reaches i (a cycle)
        edges = ~(adj | reach.transpose(0, 2, 1) | self._eye)
        edges &= (adj.sum(axis=(1, 2)) < self.max_edges)[:, None, None]
        mask = np.ones((rows, self.n_actions), dtype=bool)
        mask[:, : n * n] = edges.reshape(rows, n * n)
        if self.canonical_order:
            mask[:, : n * n] &= np.arange(n * n)[None, :] > self._last_edge(adj)[:, None]
        return mask

    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        actions = np.asarray(actions, dtype=np.int64)
        stop = actions == self.stop_action
        rows = np.flatnonzero(~stop)
        if len(rows):
            i, j = np.divmod(actions[rows], self.n_nodes)
            reach = state["reach"]
            state["adj"][rows, i, j] = True
            arange = np.arange(len(rows))
            above = reach[rows, :, i]  # nodes that reach i, [R, n]
            above[arange, i] = True
            below = reach[rows, j, :]  # nodes j reaches, [R, n]
            below[arange, j] = True
            reach[rows] |= above[:, :, None] & below[:, None, :]
        return stop

    def observe(self, state: State) -> np.ndarray:
        rows, n = len(state["adj"]), self.n_nodes
        parts = [
            state["adj"].reshape(rows, n * n),
            state["reach"].reshape(rows, n * n),
            state["perturbed"],
            state["observed"].reshape(rows, n * n),
            self._mismatch(state, missing=True).reshape(rows, n * n),
            self._mismatch(state, missing=False).reshape(rows, n * n),
        ]
        if self.canonical_order:
            last = np.zeros((rows, n * n), dtype=bool)
            idx = self._last_edge(state["adj"])
            has = idx >= 0
            last[np.flatnonzero(has), idx[has]] = True
            parts.append(last)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def token_layout(self) -> TokenLayout:
        """One entity per ordered pair ``(i, j)``, ``i != j``: the ``[i, j]`` and ``[j, i]`` entries of every
        matrix of the observation (adjacency, closure, observed, both mismatches, last edge) and whether ``i``
        and ``j`` are perturbed; the edge ``i -> j`` acts on its pair, stop (and the always-masked
        self-loops) on the pooled summary. Neighbourhoods: a pair reads the mean of the pairs that leave its
        source, enter its target, leave its target and enter its source."""
        n = self.n_nodes
        i, j = (a.reshape(-1) for a in np.nonzero(~self._eye))
        fwd, back = i * n + j, j * n + i
        nn_ = n * n
        # offsets of the n x n matrices in observe(): adj, reach, [perturbed: n], observed, missing, extra, last
        mats = [0, nn_, 2 * nn_ + n, 3 * nn_ + n, 4 * nn_ + n] + ([5 * nn_ + n] if self.canonical_order else [])
        blocks = [m + fwd for m in mats] + [m + back for m in mats] + [2 * nn_ + i, 2 * nn_ + j]
        tokens = np.full(self.n_actions, POOLED)
        tokens[fwd] = np.arange(len(fwd))
        # neighbourhoods of (i, j): the pairs leaving i, entering j, leaving j (j's side) and entering i
        hoods = [(i, i), (j, j), (i, j), (j, i)]
        return layout_from_blocks(self.observation_space.shape[0], len(fwd), blocks, tokens, (), hoods)

    @staticmethod
    def _mismatch(state: State, missing: bool) -> np.ndarray:
        """Bool ``[N, n, n]`` on perturbed rows: observed descendants not yet reached (``missing``) or
        reached nodes the observation rules out (not ``missing``)."""
        reach, observed = state["reach"], state["observed"]
        wrong = (observed & ~reach) if missing else (reach & ~observed)
        return wrong & state["perturbed"][:, :, None]

    def path_counts(self, state: State) -> np.ndarray:
        """Paths to each row's DAG: ``m!`` for ``m`` edges (any order of a DAG's edges is legal: every subset of a
        DAG is acyclic and has at most ``max_edges`` edges), 1 with ``canonical_order``."""
        return self._paths[state["adj"].sum(axis=(1, 2))]

    def valid(self, state: State) -> np.ndarray:
        """Bool ``[N]``: every perturbed node's descendant set equals the observed one."""
        wrong = (state["reach"] != state["observed"]) & state["perturbed"][:, :, None]
        return ~wrong.any(axis=(1, 2))

    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        ok = self.valid(state)
        return edge_keys(matrix_to_bits(state["adj"])), ok.astype(np.float64), ok

    # ------------------------------------------------------------ enumeration
    def admissible_mask(self, task: Mapping[str, Any]) -> np.ndarray:
        """Bool ``[M]`` over :func:`all_dags` ``(n_nodes, max_edges)``: which DAGs fit ``task``."""
        codes = np.array(self._row_codes(self.validate_task(task)))
        ps = np.flatnonzero(codes >= 0)
        space = all_dags(self.n_nodes, self.max_edges)
        return (space.desc_bits[:, ps] == codes[ps].astype(np.uint8)[None, :]).all(axis=1)

    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float]:
        """``{key: 1.0}`` for every admissible DAG of ``task`` (exact, by filtering the cached DAG space)."""
        keys = all_dags(self.n_nodes, self.max_edges).keys(np.flatnonzero(self.admissible_mask(task)))
        return dict.fromkeys(keys, 1.0)

    # ---------------------------------------------------------------- renders
    def _observation_lines(self, state: State, task: Mapping[str, Any]) -> list[str]:
        reach = state["reach"][0]
        lines = ["observations (perturb -> observed descendants | current graph):"]
        for item in task["observations"]:
            p = self.names.index(item["perturb"])
            now = [self.names[j] for j in np.flatnonzero(reach[p])]
            ok = now == list(item["descendants"])
            lines.append(
                f"  do({item['perturb']}) -> {{{', '.join(item['descendants'])}}}".ljust(26)
                + f"| {{{', '.join(now)}}}".ljust(18) + ("ok" if ok else "differs")
            )
        return lines

    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        adj = state["adj"][0]
        key = edge_keys(matrix_to_bits(adj[None]))[0]
        lines = [f"CausalDAG: {self.n_nodes} nodes, {int(adj.sum())}/{self.max_edges} edges: "
                 + (key.replace(",", ", ") if key else "(none)")]
        lines.append("adjacency (row -> column):")
        lines.append("    " + " ".join(self.names))
        for i, name in enumerate(self.names):
            lines.append(f"  {name} " + " ".join("1" if a else "." for a in adj[i]))
        lines += self._observation_lines(state, task)
        lines.append("valid now: " + ("yes" if bool(self.valid(state)[0]) else "no"))
        return "\n".join(lines) + "\n"

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        n = self.n_nodes
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


class CausalDAGEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = CausalDAGKernel


class CausalDAGVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/CausalDAG-v0`` (see :class:`CausalDAGEnv`)."""

    kernel_class = CausalDAGKernel
