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

Enumeration helpers: :func:`~ips_envs.causal_dag.space.all_dags` (every DAG with its descendant matrices,
cached per ``(n, max_edges)``: 25 / 543 / 29,281 / 3,781,503 DAGs on 3 / 4 / 5 / 6 nodes),
:meth:`CausalDAGKernel.all_tasks` (every realisable task, for dataset export and train/test splits) and
:meth:`CausalDAGKernel.outcome_rewards` (the admissible set, by array filtering over the cached space).

## Version history
* v0: initial release.
"""

from __future__ import annotations

from ips_envs.causal_dag.kernel import CausalDAGKernel
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.vector_env import ConstructionVectorEnv


class CausalDAGEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = CausalDAGKernel


class CausalDAGVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/CausalDAG-v0`` (see :class:`CausalDAGEnv`)."""

    kernel_class = CausalDAGKernel
