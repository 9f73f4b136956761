"""Text face of ``IPS/CausalDAG-v0``: HypoSpace's causal prompt and its ``Graph:`` answer line.

Answer format (HypoSpace's): one line ``Graph: A->B, B->C`` or ``Graph: No edges``. As in HypoSpace's parser,
``→``, ``-->`` and ``=>`` are read as ``->``, quotes and a final ``.`` or ``;`` are dropped and repeated edges
count once. Strict where HypoSpace is lenient: the label must start its line, ``No edges`` must be the whole
answer (HypoSpace takes any line containing "none", "empty" or "null" as the empty graph), and a completion
without a ``Graph:`` line has no answer (HypoSpace falls back to its first line). Rejected, as in HypoSpace:
unknown nodes, self-loops, more than ``max_edges`` edges and cycles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from textwrap import dedent
from typing import Any

import numpy as np

from ips_envs.causal_dag.space import all_dags, parse_key
from ips_envs.core.kernel import State
from ips_envs.text.base import AnswerError, TextFace, after_label

_EDGE = re.compile(r"\s*([A-Za-z0-9_]+)\s*->\s*([A-Za-z0-9_]+)\s*")
_NO_EDGES = re.compile(r"no\s+edges?", re.IGNORECASE)


class CausalDAGFace(TextFace):
    """Prompts and answers for causal-graph tasks (see the module docstring for the answer format)."""

    env_id = "IPS/CausalDAG-v0"
    label = "Graph"

    def hypotheses(self) -> list[str]:
        """Every DAG with at most ``max_edges`` edges (543 on 4 nodes), as outcome keys."""
        return all_dags(self.kernel.n_nodes, self.kernel.max_edges).keys()

    # ----------------------------------------------------------------- prompts
    def observation_lines(self, task: Mapping[str, Any] | str | None = None) -> list[str]:
        """HypoSpace's observation strings, e.g. ``Perturb(B) -> A:0 B:0 C:1 D:1``."""
        names = self.kernel.names
        lines = []
        for item in self.task(task)["observations"]:
            desc = set(item["descendants"])
            effects = " ".join(f"{v}:{int(v in desc)}" for v in names)
            lines.append(f"Perturb({item['perturb']}) -> {effects}")
        return lines

    def prompt(self, task: Mapping[str, Any] | str | None = None, prior: Iterable[str] = (),
               compact: bool = False) -> str:
        """HypoSpace's causal prompt; ``compact=True`` gives only the observation lines and the open answer label
        ``Graph:`` (for small models; read their completions with :meth:`with_prompt`)."""
        obs = "\n".join(self.observation_lines(task))
        if compact:
            return obs + "\nGraph:"
        prior_block = "\n".join(self.answer(k) for k in prior) or "None"
        return dedent("""\
            You are given observations from perturbation experiments on a causal system.

            Semantics:
            - When a node is perturbed, the perturbed node is 0.
            - A node is 1 if it is a downstream descendant of the perturbed node in the causal graph.
            - All other nodes are 0.

            Nodes: {nodes}
            Constraint: The graph should have at most {max_edges} edges.

            Observations:
            {obs}

            Prior predictions (do not repeat if avoidable):
            {prior}

            Task:
            Output a single directed acyclic graph (DAG) over the nodes above that explains all observations.

            Diversity rule:
            - A "diverse" graph is any valid graph whose edge set is NOT identical to any prior prediction.
            - Generate diverse graphs when possible to explore the solution space.

            Formatting rules:
            1) Use only the listed nodes. No self-loops. No cycles.
            2) Respond with exactly one line:
            - If there are edges: Graph: A->B, B->C
            - If there are no edges: Graph: No edges""").format(
            nodes=", ".join(self.kernel.names), max_edges=self.kernel.max_edges, obs=obs, prior=prior_block)

    def answer(self, outcome: str, task: Mapping[str, Any] | str | None = None) -> str:
        """``"A->B,B->C"`` -> ``"Graph: A->B, B->C"``; the empty graph ``""`` -> ``"Graph: No edges"``."""
        return "Graph: " + (outcome.replace(",", ", ") if outcome else "No edges")

    # ----------------------------------------------------------------- parsing
    def _read(self, lines: list[str], start: int, task: dict[str, Any]) -> tuple[str, list[int]]:
        text = after_label(lines[start], self.label)
        line = text.replace("→", "->").replace("-->", "->").replace("=>", "->")
        kernel = self.kernel
        if _NO_EDGES.fullmatch(line):
            return text, [kernel.stop_action]
        if not line:
            raise AnswerError("the Graph: line is empty (write 'Graph: No edges' for the empty graph)")
        index = {name: i for i, name in enumerate(kernel.names)}
        edges: list[int] = []
        for part in line.split(","):
            if not part.strip():
                continue
            m = _EDGE.fullmatch(part)
            if not m:
                raise AnswerError(f"{part.strip()!r} is not an edge of the form X->Y")
            src, dst = m.groups()
            for node in (src, dst):
                if node not in index:
                    raise AnswerError(f"unknown node {node!r}; the nodes are {', '.join(kernel.names)}")
            if src == dst:
                raise AnswerError(f"self-loop {src}->{dst}")
            a = index[src] * kernel.n_nodes + index[dst]
            if a not in edges:
                edges.append(a)
        if not edges:
            raise AnswerError("the Graph: line lists no edge")
        if len(edges) > kernel.max_edges:
            raise AnswerError(f"{len(edges)} edges, more than the {kernel.max_edges} allowed")
        # ascending action order is legal under canonical_order=True as well
        return text, sorted(edges) + [kernel.stop_action]

    def _illegal(self, state: State, action: int, task: dict[str, Any]) -> str:
        n, names = self.kernel.n_nodes, self.kernel.names
        if action == self.kernel.stop_action:
            return "the graph cannot end here"
        i, j = divmod(action, n)
        if state["reach"][0, j, i]:
            return f"the edges contain a cycle ({names[i]}->{names[j]} closes one)"
        return f"the edge {names[i]}->{names[j]} is not allowed here (at most {self.kernel.max_edges} edges)"

    def _why_invalid(self, outcome: str, task: dict[str, Any]) -> str:
        n, names = self.kernel.n_nodes, self.kernel.names
        reach = parse_key(outcome, n)
        for _ in range(n):  # transitive closure by repeated composition
            reach = reach | ((reach.astype(np.int64) @ reach.astype(np.int64)) > 0)
        for item in task["observations"]:
            p = names.index(item["perturb"])
            got = [names[j] for j in np.flatnonzero(reach[p])]
            if got != list(item["descendants"]):
                effects = " ".join(f"{v}:{int(v in got)}" for v in names)
                return f"the graph gives Perturb({item['perturb']}) -> {effects}, which the observations rule out"
        return "the graph does not fit the observations"
