"""IPS/BooleanExpr-v0: write a Boolean expression, token by token, that fits a partial truth table.

## Description
The Boolean-expression-discovery domain of HypoSpace (Chen et al. 2025) used in the paper's Section 5.2.
A task is a partial truth table over ``variables``; the agent writes an expression over those variables and
the allowed ``operators``, of depth at most ``max_depth``, in prefix (Polish) order, one token per step.
Every expression that matches every observed row is admissible and earns reward 1, so the admissible set
``H_O`` usually holds several distinct expressions: the reward-proportional target is uniform over ``H_O``.

Depth counts every operator as one level (``NOT`` as well as every binary gate, ``NOR`` and ``XOR``
included); a variable has depth 0. With the defaults (``x, y``; ``AND, OR, NOT``; depth 2) there are 34
distinct expressions, 14 distinct truth tables and 78 tasks.

## Outcome key (expression identity)
Outcomes are HypoSpace's "mechanistic" identity, written as a canonical prefix string without spaces,
e.g. ``"AND(NOT(x),y)"``:

* ``AND`` and ``OR`` are flattened (associativity: ``AND(x,AND(y,z))`` is ``AND(x,y,z)``), their arguments
  are sorted as strings (commutativity) and repeated arguments are dropped (idempotence). When only one
  argument is left the gate disappears: ``AND(x,x)`` is ``x`` (as SymPy's ``And`` does in HypoSpace).
* ``NOT`` stays a node: ``NOT(NOT(x))`` is not ``x``.
* ``NOR(a,b)`` is shorthand for ``NOT(OR(a,b))`` and is keyed as such (HypoSpace builds NOR as
  ``Not(Or(a, b))`` and keys every ``Not(Or(...))`` as one NOR node, which is the same identity). So with
  ``NOR`` allowed, ``NOR(x,y)`` and ``NOT(OR(x,y))`` are one outcome, ``NOR(x,x)`` is ``NOT(x)`` and
  ``NOR(x,OR(y,z))`` is ``NOT(OR(x,y,z))``. Keys never contain the word ``NOR``, so an expression has the
  same key whatever the operator set; ``NOR`` only lets shallower trees reach more keys (65 keys at
  depth 2 over ``x, y``, HypoSpace's "full" count).
* ``XOR`` (not in HypoSpace, whose XOR is commented out) is a commutative node with its two arguments
  sorted; it is neither flattened nor de-duplicated (``XOR(x,x)`` stays, like the contradiction
  ``AND(NOT(x),x)`` stays).
* Nothing else is simplified: no absorption, De Morgan, distributivity or double-negation removal, so
  ``x``, ``NOT(NOT(x))`` and ``AND(x,OR(x,y))`` are three different outcomes.

:func:`canonical_key` computes the key of any expression tree; :func:`canonical_expressions` enumerates the
key space of a configuration (key -> truth table) and
:meth:`BooleanExprKernel.expression_actions` gives an action sequence that writes a key.

## Tasks
``{"variables": [...], "operators": [...], "max_depth": d, "rows": [{"inputs": {"x": 0, "y": 1},
"output": 1}, ...]}``. ``variables``, ``operators`` and ``max_depth`` may be omitted and otherwise must equal
the env's; rows must list every variable with a 0/1 value, no assignment twice, and the table must be
realisable by some expression of the space (an empty ``rows`` list is allowed: everything is admissible).
Tasks are normalised (operators in the order ``AND, OR, NOT, NOR, XOR``, rows sorted by assignment).
The default task distribution is uniform over every realisable table with ``1..max_observed`` observed rows
(default: every non-empty partial table, HypoSpace's ``k = 1..4`` for ``x, y``: 8/24/32/14 tasks for
k = 1/2/3/4, 78 in all; with 4 variables the default is 1..4 rows, since all ``3^16`` partial tables are too
many to list). :meth:`BooleanExprKernel.all_tasks` lists them (for dataset export and splits).
Assignments are numbered lexicographically: row ``i`` gives variable ``j`` the bit ``n - 1 - j`` of ``i``
(``x=0,y=0``, ``x=0,y=1``, ``x=1,y=0``, ``x=1,y=1``).

## Action space
``Discrete(len(variables) + len(operators))``: actions ``0..n-1`` write a variable (in the given order),
the following ones write an operator (in the order ``AND, OR, NOT, NOR, XOR``). Each token fills the
leftmost open slot of the tree. Masks keep the prefix completable within ``max_depth``: an operator is
legal only when the slot it fills still has depth budget >= 1; a variable is always legal. There is no stop
action.

## Observation space
``Box(0, 1, (L * T + S * (max_depth + 1) + 2 * R,), float32)`` with ``L = 2^(max_depth+1) - 1`` (maximum
length), ``T`` tokens, ``S = max_depth + 1`` slot-stack entries and ``R = 2^len(variables)`` assignments:

* the one-hot of the token written at each position so far (zeros for positions not yet written);
* for each entry of the stack of open slots (bottom first; the last open entry is the slot the next token
  fills) the one-hot of its remaining depth budget (zeros above the stack pointer);
* for each assignment ``i``: whether row ``i`` is observed, then its observed output (0 if unobserved).

## Rewards
Terminal only: 1 if the finished expression agrees with every observed row (``info["valid"]``), else 0.
Truth tables are evaluated exactly (every admissible expression is accepted, e.g. ``NOT(OR(x,y))``
without a ``NOR`` operator, which HypoSpace's validator wrongly rejects).

## Starting state
An empty expression: one open slot with depth budget ``max_depth``; the task is sampled with the reset
seed unless one is given (``task=`` or ``reset(options={"task": ...})``).

## Episode end
When the tree has no open slot left (``info["outcome"]`` is its canonical key), after at most
``2^(max_depth+1) - 1`` steps; or on a masked-out action (reward 0, ``info["invalid_action"]``).

## Arguments
``variables`` (``["x", "y"]``; 1 to 4 distinct identifiers), ``operators`` (``["AND", "OR", "NOT"]``; any
non-empty subset of ``AND, OR, NOT, NOR, XOR``), ``max_depth`` (2; 1 to 4), ``max_observed`` (largest
number of observed rows in sampled tasks; default ``2^len(variables)`` up to 3 variables, 4 for 4 variables;
at most 200,000 candidate tables), plus the common
``render_mode``, ``task``, ``strict``.

## Version history
* v0: initial release.
"""

from __future__ import annotations

from ips_envs.boolean_expr.kernel import BooleanExprKernel
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.vector_env import ConstructionVectorEnv


class BooleanExprEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = BooleanExprKernel


class BooleanExprVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/BooleanExpr-v0`` (see :class:`BooleanExprEnv`)."""

    kernel_class = BooleanExprKernel
