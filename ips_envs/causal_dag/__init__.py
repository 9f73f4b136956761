"""The CausalDAG domain: build a DAG, edge by edge, that explains a set of perturbation observations.

The specification of ``IPS/CausalDAG-v0`` is the docstring of :mod:`ips_envs.causal_dag.env` (also
:class:`CausalDAGEnv`'s). The package keeps the domain's parts apart:

* :mod:`~ips_envs.causal_dag.space`: every labelled DAG and every realisable task, enumerated as cached
  arrays, and the conversions between graphs and outcome keys;
* :mod:`~ips_envs.causal_dag.kernel`: :class:`CausalDAGKernel`, the batched construction kernel (masks,
  incremental transitive closure, task validation and sampling, admissible sets, path counts);
* :mod:`~ips_envs.causal_dag.render`: the ANSI and rgb_array pictures;
* :mod:`~ips_envs.causal_dag.env`: the Gymnasium env and vector env generated from the kernel.
"""

from ips_envs.causal_dag.env import CausalDAGEnv, CausalDAGVectorEnv
from ips_envs.causal_dag.kernel import (
    MIN_NODES,
    OBSERVATION_FIELDS,
    REWARDS,
    TASK_FIELDS,
    UNIFORM_TASK_MAX_NODES,
    CausalDAGKernel,
)
from ips_envs.causal_dag.space import (
    MAX_NODES,
    NODE_NAMES,
    DAGSpace,
    all_dags,
    bits_to_matrix,
    edge_keys,
    full_edges,
    matrix_to_bits,
    parse_key,
    task_table,
)

__all__ = [
    "MAX_NODES",
    "MIN_NODES",
    "NODE_NAMES",
    "OBSERVATION_FIELDS",
    "REWARDS",
    "TASK_FIELDS",
    "UNIFORM_TASK_MAX_NODES",
    "CausalDAGEnv",
    "CausalDAGKernel",
    "CausalDAGVectorEnv",
    "DAGSpace",
    "all_dags",
    "bits_to_matrix",
    "edge_keys",
    "full_edges",
    "matrix_to_bits",
    "parse_key",
    "task_table",
]
