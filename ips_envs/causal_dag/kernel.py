"""The CausalDAG construction kernel: batched edge-by-edge DAG building with incremental transitive closures.

One :class:`CausalDAGKernel` steps ``N`` graphs at once (each row with its own task); the Gymnasium env and
vector env of :mod:`ips_envs.causal_dag.env` are generated from it. The enumerated spaces it filters and
samples from live in :mod:`ips_envs.causal_dag.space`, its pictures in :mod:`ips_envs.causal_dag.render`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

import ips_envs.causal_dag.render as render
from ips_envs.causal_dag.space import (
    MAX_NODES,
    NODE_NAMES,
    all_dags,
    bits_to_matrix,
    edge_keys,
    full_edges,
    matrix_to_bits,
    observation_items,
    task_dict,
    task_dicts,
    task_rows,
)
from ips_envs.core.kernel import Kernel, State, check_bool, check_fields, check_int
from ips_envs.core.paths import count_table
from ips_envs.core.tokens import POOLED, TokenLayout, layout_from_blocks

MIN_NODES = 3
"""Smallest node count of the env."""
UNIFORM_TASK_MAX_NODES = 4
"""Largest node count whose task sampler is uniform over the enumerated realisable tasks."""
REWARDS = ("binary",)
TASK_FIELDS = ("n_nodes", "observations")
OBSERVATION_FIELDS = ("perturb", "descendants")


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
        self._path_count_table = count_table(
            [1 if self.canonical_order else math.factorial(m) for m in range(self.max_edges + 1)]
        )

    # ------------------------------------------------------------------ tasks
    def task_table(self) -> tuple[dict[str, Any], ...] | None:
        """Every realisable task (the uniform task distribution) for ``n_nodes <= 4``; None above that."""
        if self.n_nodes <= UNIFORM_TASK_MAX_NODES:
            return task_dicts(self.n_nodes, self.n_observations, self.max_edges)
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
        items = observation_items(n)  # shared, read-only observation dicts (sample_task copies its task)
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
        return task_dict(n, list(rows), list(rows.values()))

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
        return [task_dict(self.n_nodes, p, d) for p, d in task_rows(self.n_nodes, k, self.max_edges)]

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
        return self._path_count_table[state["adj"].sum(axis=(1, 2))]

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
    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        """Row 0 as text (:func:`ips_envs.causal_dag.render.render_ansi`)."""
        return render.render_ansi(state, task, self.max_edges, bool(self.valid(state)[0]))

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        """Row 0 as an RGB picture (:func:`ips_envs.causal_dag.render.render_rgb`)."""
        return render.render_rgb(state)
