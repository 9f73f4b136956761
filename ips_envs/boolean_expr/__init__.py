"""The BooleanExpr domain: write a Boolean expression, token by token, that fits a partial truth table.

The specification of ``IPS/BooleanExpr-v0`` is the docstring of :mod:`ips_envs.boolean_expr.env` (also
:class:`BooleanExprEnv`'s). The package keeps the domain's parts apart:

* :mod:`~ips_envs.boolean_expr.expression`: operators, expression trees, prefix parsing and the canonical
  outcome key;
* :mod:`~ips_envs.boolean_expr.space`: the enumerated key space of a grammar (truth tables, witnesses, the
  path-count DP) and the realisable truth tables;
* :mod:`~ips_envs.boolean_expr.kernel`: :class:`BooleanExprKernel`, the batched construction kernel;
* :mod:`~ips_envs.boolean_expr.render`: the ANSI and rgb_array pictures;
* :mod:`~ips_envs.boolean_expr.env`: the Gymnasium env and vector env generated from the kernel.
"""

from ips_envs.boolean_expr.env import BooleanExprEnv, BooleanExprVectorEnv
from ips_envs.boolean_expr.expression import (
    ARITY,
    DEFAULT_OPERATORS,
    DEFAULT_VARIABLES,
    MAX_DEPTH,
    MAX_VARIABLES,
    OPERATORS,
    Expr,
    canonical_key,
    parse_prefix,
    validate_operators,
    validate_variables,
)
from ips_envs.boolean_expr.kernel import MAX_TASK_CANDIDATES, TASK_FIELDS, BooleanExprKernel
from ips_envs.boolean_expr.space import (
    MAX_CANDIDATES,
    ExpressionSpaceTooLarge,
    canonical_expressions,
    variable_tables,
)

__all__ = [
    "ARITY",
    "DEFAULT_OPERATORS",
    "DEFAULT_VARIABLES",
    "MAX_CANDIDATES",
    "MAX_DEPTH",
    "MAX_TASK_CANDIDATES",
    "MAX_VARIABLES",
    "OPERATORS",
    "TASK_FIELDS",
    "BooleanExprEnv",
    "BooleanExprKernel",
    "BooleanExprVectorEnv",
    "Expr",
    "ExpressionSpaceTooLarge",
    "canonical_expressions",
    "canonical_key",
    "parse_prefix",
    "validate_operators",
    "validate_variables",
    "variable_tables",
]
