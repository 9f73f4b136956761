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

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from gymnasium import spaces

from ips_envs.core import raster
from ips_envs.core.env import ConstructionEnv
from ips_envs.core.kernel import Kernel, State, check_fields, check_int
from ips_envs.core.vector_env import ConstructionVectorEnv

OPERATORS: tuple[str, ...] = ("AND", "OR", "NOT", "NOR", "XOR")
"""Every supported operator, in action order."""

ARITY: dict[str, int] = {"AND": 2, "OR": 2, "NOT": 1, "NOR": 2, "XOR": 2}
"""Number of arguments each operator takes when written as a token."""

DEFAULT_VARIABLES: tuple[str, ...] = ("x", "y")
DEFAULT_OPERATORS: tuple[str, ...] = ("AND", "OR", "NOT")
MAX_VARIABLES = 4
MAX_DEPTH = 4
TASK_FIELDS = ("variables", "operators", "max_depth", "rows")
MAX_CANDIDATES = 500_000
"""Refuse to enumerate a key space whose next level needs more pair combinations than this."""
MAX_TASK_CANDIDATES = 200_000
"""Largest number of candidate partial tables (row subsets x outputs) the task list may scan."""

Expr = Union[str, tuple[Any, ...]]
"""An expression tree: a variable name, or ``(operator, child, ...)``."""


class ExpressionSpaceTooLarge(ValueError):
    """The requested configuration's expression space is too large to enumerate."""


# --------------------------------------------------------------------------------------------- validation
def validate_variables(variables: Any) -> tuple[str, ...]:
    """Check a variable list (1..4 distinct identifiers that are not operator names)."""
    if isinstance(variables, str) or not isinstance(variables, Sequence):
        raise ValueError(f"variables must be a list of names, got {variables!r}")
    names = tuple(variables)
    if not 1 <= len(names) <= MAX_VARIABLES:
        raise ValueError(f"variables must hold 1 to {MAX_VARIABLES} names, got {len(names)}: {list(names)}")
    for v in names:
        if not isinstance(v, str) or not v.isidentifier() or v.upper() in OPERATORS:
            raise ValueError(
                f"variable {v!r} is not allowed: names must be identifiers other than {list(OPERATORS)}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"variables must be distinct, got {list(names)}")
    return names


def validate_operators(operators: Any) -> tuple[str, ...]:
    """Check an operator list and return it in canonical order (``AND, OR, NOT, NOR, XOR``)."""
    if isinstance(operators, str) or not isinstance(operators, Sequence):
        raise ValueError(f"operators must be a list drawn from {list(OPERATORS)}, got {operators!r}")
    ops = list(operators)
    for op in ops:
        if op not in OPERATORS:
            raise ValueError(f"operator {op!r} is not supported; allowed operators are {list(OPERATORS)}")
    if len(set(ops)) != len(ops):
        raise ValueError(f"operators must be distinct, got {ops}")
    if not ops:
        raise ValueError(f"operators must hold at least one of {list(OPERATORS)}, got []")
    return tuple(op for op in OPERATORS if op in ops)


# ------------------------------------------------------------------------------------------- canonical key
@dataclass(frozen=True)
class _Canon:
    """A canonical node: its key string, its head (``"VAR"`` or an operator) and its argument keys."""

    key: str
    head: str
    args: tuple[str, ...]


def _leaf(name: str) -> _Canon:
    return _Canon(name, "VAR", ())


def _not(a: _Canon) -> _Canon:
    return _Canon(f"NOT({a.key})", "NOT", (a.key,))


def _assoc(op: str, kids: Sequence[_Canon]) -> _Canon:
    """Flattened, sorted, de-duplicated AND / OR; a single surviving argument replaces the gate."""
    args: set[str] = set()
    for k in kids:
        if k.head == op:
            args.update(k.args)
        else:
            args.add(k.key)
    if len(args) == 1:
        return kids[0]  # only possible when every child is the same non-`op` node
    ordered = tuple(sorted(args))
    return _Canon(f"{op}({','.join(ordered)})", op, ordered)


def _combine(op: str, kids: Sequence[_Canon]) -> _Canon:
    """The canonical node of ``op`` applied to canonical children."""
    if op == "NOT":
        return _not(kids[0])
    if op in ("AND", "OR"):
        return _assoc(op, kids)
    if op == "NOR":
        return _not(_assoc("OR", kids))
    if op == "XOR":
        ordered = tuple(sorted(k.key for k in kids))
        return _Canon(f"XOR({','.join(ordered)})", "XOR", ordered)
    raise ValueError(f"operator {op!r} is not supported; allowed operators are {list(OPERATORS)}")


def _canon(expr: Expr) -> _Canon:
    if isinstance(expr, str):
        if not expr.isidentifier() or expr.upper() in OPERATORS:
            raise ValueError(f"{expr!r} is not a variable name")
        return _leaf(expr)
    if not isinstance(expr, tuple | list) or not expr:
        raise ValueError(f"an expression is a variable name or (operator, child, ...), got {expr!r}")
    op, *children = expr
    if op not in OPERATORS:
        raise ValueError(f"operator {op!r} is not supported; allowed operators are {list(OPERATORS)}")
    n = len(children)
    if (op == "NOT" and n != 1) or (op == "XOR" and n != 2) or (op in ("AND", "OR", "NOR") and n < 2):
        raise ValueError(f"{op} got {n} argument(s) in {expr!r}")
    return _combine(op, [_canon(c) for c in children])


def canonical_key(expr: Expr) -> str:
    """Canonical key of an expression tree (see the module docstring), e.g. ``"AND(NOT(x),y)"``.

    ``expr`` is a variable name or a tuple ``(operator, child, ...)``; ``AND``, ``OR`` and ``NOR`` accept two
    or more children, ``NOT`` one, ``XOR`` two. Example: ``canonical_key(("AND", "y", ("NOT", "x")))``.
    """
    return _canon(expr).key


def parse_prefix(tokens: Sequence[str]) -> Expr:
    """The expression tree written by a complete prefix token sequence such as ``["AND", "x", "y"]``."""
    pos = 0

    def node() -> Expr:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"prefix {list(tokens)} is incomplete")
        tok = tokens[pos]
        pos += 1
        if tok in ARITY:
            return (tok, *[node() for _ in range(ARITY[tok])])
        return tok

    tree = node()
    if pos != len(tokens):
        raise ValueError(f"prefix {list(tokens)} has {len(tokens) - pos} token(s) after a complete expression")
    return tree


def _partial_tree(tokens: Sequence[str]) -> str:
    """Function-call drawing of a possibly incomplete prefix, open slots shown as ``?``."""
    pos = 0

    def node() -> str:
        nonlocal pos
        if pos >= len(tokens):
            return "?"
        tok = tokens[pos]
        pos += 1
        if tok in ARITY:
            return f"{tok}({','.join(node() for _ in range(ARITY[tok]))})"
        return tok

    return node()


# ------------------------------------------------------------------------------------------- truth tables
def variable_tables(n_vars: int) -> np.ndarray:
    """Truth-table bit masks (int64 ``[n_vars]``) of the variables: bit ``i`` is the value in assignment ``i``."""
    rows = np.arange(2**n_vars)
    bits = (rows[None, :] >> (n_vars - 1 - np.arange(n_vars))[:, None]) & 1
    return (bits << rows[None, :]).sum(axis=1).astype(np.int64)


def _gate(op: str, a: Any, b: Any, full: int) -> Any:
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
class _Space:
    """Enumerated key space of one configuration."""

    keys: tuple[str, ...]
    bits: np.ndarray  # int64 [K] truth tables
    witness: dict[str, tuple[str, ...]]  # key -> prefix tokens of a tree of depth <= max_depth
    paths: dict[str, int]  # key -> number of trees of depth <= max_depth (= prefix token sequences) with that key
    path_array: np.ndarray  # ``paths`` aligned with ``keys`` (int64, or Python ints in an object array beyond it)
    # key index of an operator applied to the keys of depth <= max_depth - 1 (the first rows of ``keys``, since keys
    # are listed level by level): ``not_index[a]`` and ``pair_index[k, a, b]`` for the k-th operator of the grammar
    # (int32; -1 where the operator is not unary / binary)
    not_index: np.ndarray
    pair_index: np.ndarray


@functools.lru_cache(maxsize=32)
def _expression_space(variables: tuple[str, ...], operators: tuple[str, ...], max_depth: int) -> _Space:
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
    items: dict[str, tuple[_Canon, int, tuple[str, ...]]] = {}
    for v, b in zip(variables, var_bits, strict=True):
        items[v] = (_leaf(v), b, (v,))
    paths = dict.fromkeys(variables, 1)
    binary = [op for op in operators if ARITY[op] == 2]
    not_keys: list[str] = []
    pair_keys: dict[str, dict[tuple[int, int], str]] = {op: {} for op in binary}
    for level in range(max_depth):
        last = level == max_depth - 1
        prev = list(items.values())
        prev_paths = [paths[c.key] for c, _, _ in prev]
        paths = dict.fromkeys(variables, 1)
        m = len(prev)
        candidates = m * ("NOT" in operators) + len(binary) * m * (m + 1) // 2
        if candidates > MAX_CANDIDATES:
            raise ExpressionSpaceTooLarge(
                f"the expression space of variables={list(variables)}, operators={list(operators)}, "
                f"max_depth={max_depth} is too large to enumerate ({candidates} combinations at one level)"
            )
        new: dict[str, tuple[_Canon, int, tuple[str, ...]]] = {}
        if "NOT" in operators:
            for (c, b, w), nc in zip(prev, prev_paths, strict=True):
                node = _not(c)
                if last:
                    not_keys.append(node.key)
                paths[node.key] = paths.get(node.key, 0) + nc
                if node.key not in items and node.key not in new:
                    new[node.key] = (node, ~b & full, ("NOT", *w))
        for op in binary:
            for i in range(m):
                ci, bi, wi = prev[i]
                ni = prev_paths[i]
                for j in range(i, m):
                    cj, bj, wj = prev[j]
                    node = _combine(op, (ci, cj))
                    if last:
                        pair_keys[op][i, j] = node.key
                    pairs = ni * prev_paths[j] * (1 if i == j else 2)
                    paths[node.key] = paths.get(node.key, 0) + pairs
                    if node.key not in items and node.key not in new:
                        new[node.key] = (node, _gate(op, bi, bj, full), (op, *wi, *wj))
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
    counts = [paths[k] for k in keys]
    path_array = np.array(counts, dtype=np.int64 if max(counts) < 2**63 else object)
    return _Space(keys, bits, {k: items[k][2] for k in keys}, paths, path_array, not_index, pair_index)


def canonical_expressions(
    variables: Sequence[str] = DEFAULT_VARIABLES,
    operators: Sequence[str] = DEFAULT_OPERATORS,
    max_depth: int = 2,
) -> dict[str, int]:
    """Every canonical key of depth <= ``max_depth`` over ``variables`` / ``operators`` and its truth table.

    The truth table is an int whose bit ``i`` is the value under assignment ``i`` (see the module docstring).
    The space is built level by level (level ``d`` = level ``d-1`` plus every operator applied to level
    ``d-1`` keys) and cached per configuration. Raises :class:`ExpressionSpaceTooLarge` (a ValueError) when
    a level needs more than ``MAX_CANDIDATES`` combinations.
    """
    space = _expression_space(
        validate_variables(variables), validate_operators(operators), check_int("max_depth", max_depth, 1, MAX_DEPTH)
    )
    return dict(zip(space.keys, space.bits.tolist(), strict=True))


@functools.lru_cache(maxsize=32)
def _realisable_tables(n_vars: int, operators: tuple[str, ...], max_depth: int) -> np.ndarray:
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
                present[_gate(op, block, level[None, :], full).reshape(-1)] = True
        level = np.flatnonzero(present).astype(np.int64)
    return level


# ----------------------------------------------------------------------------------------------- kernel
@functools.lru_cache(maxsize=1 << 16)
def _key_of_tokens(names: tuple[str, ...], tokens: tuple[int, ...]) -> str:
    """Canonical key of a complete prefix given as token ids into ``names`` (cached)."""
    return canonical_key(parse_prefix([names[t] for t in tokens]))


class BooleanExprKernel(Kernel):
    """Batched prefix construction of Boolean expressions.

    State fields (leading dimension N): ``tokens`` (int8 ``[N, L]``, -1 = not written), ``length`` (int16),
    ``stack`` (int8 ``[N, S]`` remaining depth budget of each open slot, -1 above the pointer), ``top``
    (int16 stack pointer = number of open slots; 0 once the tree is complete), ``observed`` and ``output``
    (uint8 ``[N, R]``: the task's partial truth table).
    """

    domain = "BooleanExpr"

    def __init__(
        self,
        variables: Sequence[str] = DEFAULT_VARIABLES,
        operators: Sequence[str] = DEFAULT_OPERATORS,
        max_depth: int = 2,
        max_observed: int | None = None,
    ) -> None:
        self.variables = validate_variables(variables)
        self.operators = validate_operators(operators)
        self.max_depth = check_int("max_depth", max_depth, 1, MAX_DEPTH)
        self.n_vars = len(self.variables)
        self.n_rows = 2**self.n_vars
        if max_observed is None:
            max_observed = self.n_rows if self.n_vars <= 3 else 4
        self.max_observed = check_int("max_observed", max_observed, 1, self.n_rows)
        candidates = sum(math.comb(self.n_rows, k) * 2**k for k in range(1, self.max_observed + 1))
        if candidates > MAX_TASK_CANDIDATES:
            raise ValueError(
                f"max_observed={self.max_observed} with {self.n_vars} variables gives {candidates} candidate tables, "
                f"more than {MAX_TASK_CANDIDATES} to list; use a smaller max_observed"
            )
        self.tokens = self.variables + self.operators
        self.n_actions = len(self.tokens)
        self.max_length = 2 ** (self.max_depth + 1) - 1
        self.n_slots = self.max_depth + 1
        self.unique_paths = False
        self.arity = np.array([0] * self.n_vars + [ARITY[op] for op in self.operators], dtype=np.int64)
        self.var_bits = variable_tables(self.n_vars)
        self.full = (1 << self.n_rows) - 1
        self._row_weights = np.left_shift(np.int64(1), np.arange(self.n_rows, dtype=np.int64))
        self._off_stack = self.max_length * self.n_actions
        self._off_task = self._off_stack + self.n_slots * (self.max_depth + 1)
        size = self._off_task + 2 * self.n_rows
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._task_codes: tuple[np.ndarray, np.ndarray] | None = None
        self._task_dicts: tuple[dict[str, Any], ...] | None = None
        # assignment i as an inputs dict, and the inverse map from value tuples to i
        self._inputs = [{v: (i >> (self.n_vars - 1 - j)) & 1 for j, v in enumerate(self.variables)}
                        for i in range(self.n_rows)]
        self._index = {tuple(d.values()): i for i, d in enumerate(self._inputs)}

    # ---------------------------------------------------------------- config
    def config(self) -> dict[str, Any]:
        """The task fields fixed by the env: variables, operators and max_depth."""
        return {"variables": list(self.variables), "operators": list(self.operators), "max_depth": self.max_depth}

    def realisable_tables(self) -> np.ndarray:
        """Sorted int64 array of every truth table some expression of the space computes."""
        return _realisable_tables(self.n_vars, self.operators, self.max_depth)

    def expressions(self) -> dict[str, int]:
        """Every canonical key of the space and its truth table (see :func:`canonical_expressions`)."""
        return canonical_expressions(self.variables, self.operators, self.max_depth)

    @property
    def has_path_counts(self) -> bool:  # type: ignore[override]
        """True when the key space (and with it the path-count DP) can be enumerated for this grammar."""
        try:
            _expression_space(self.variables, self.operators, self.max_depth)
        except ExpressionSpaceTooLarge:
            return False
        return True

    def expression_path_counts(self) -> dict[str, int]:
        """Every key of the space and its number of construction paths (trees of depth <= max_depth with that key).

        Computed once per grammar by the DP over depth and key described in ``_expression_space`` (cached);
        raises :class:`ExpressionSpaceTooLarge` when the space cannot be enumerated.
        """
        return dict(_expression_space(self.variables, self.operators, self.max_depth).paths)

    def path_counts(self, state: State) -> np.ndarray:
        """Int64 ``[N]``: the number of token sequences (trees of depth <= max_depth) that write each row's key."""
        space = _expression_space(self.variables, self.operators, self.max_depth)
        index = self._key_indices(state)
        assert index is not None  # the space was enumerated just above
        return space.path_array[index]

    def expression_actions(self, key: str) -> list[int]:
        """Actions writing one expression (of depth <= max_depth) whose outcome key is ``key``."""
        space = _expression_space(self.variables, self.operators, self.max_depth)
        if key not in space.witness:
            raise ValueError(f"{key!r} is not an expression of this space (max_depth={self.max_depth})")
        return [self.tokens.index(t) for t in space.witness[key]]

    # ----------------------------------------------------------------- tasks
    def _row_index(self, inputs: Mapping[str, int]) -> int:
        return sum(inputs[v] << (self.n_vars - 1 - j) for j, v in enumerate(self.variables))

    def _task_dict(self, observed: int, output: int) -> dict[str, Any]:
        rows = [{"inputs": dict(self._inputs[i]), "output": (output >> i) & 1}
                for i in range(self.n_rows) if observed >> i & 1]
        return {"variables": list(self.variables), "operators": list(self.operators), "max_depth": self.max_depth,
                "rows": rows}

    def _bit(self, value: Any, what: str) -> int:
        if isinstance(value, bool | np.bool_):
            return int(value)
        if isinstance(value, int | np.integer) and value in (0, 1):
            return int(value)
        raise ValueError(f"{what} must be 0 or 1, got {value!r}")

    def validate_task(self, task: Mapping[str, Any]) -> dict[str, Any]:
        check_fields(task, TASK_FIELDS, self.domain)
        if "variables" in task and validate_variables(task["variables"]) != self.variables:
            raise ValueError(
                f"task field 'variables' is {task['variables']!r}, but the env has {list(self.variables)}"
            )
        if "operators" in task and validate_operators(task["operators"]) != self.operators:
            raise ValueError(
                f"task field 'operators' is {task['operators']!r}, but the env has {list(self.operators)}"
            )
        if "max_depth" in task and task["max_depth"] != self.max_depth:
            raise ValueError(f"task field 'max_depth' is {task['max_depth']!r}, but the env has {self.max_depth}")
        if "rows" not in task:
            raise ValueError("BooleanExpr task needs the field 'rows' (a list of {'inputs': {...}, 'output': 0|1})")
        rows = task["rows"]
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):
            raise ValueError(f"task field 'rows' must be a list, got {rows!r}")
        observed = output = 0
        for r, row in enumerate(rows):
            if not isinstance(row, Mapping) or set(row) != {"inputs", "output"}:
                raise ValueError(f"task rows[{r}] must be a dict with exactly 'inputs' and 'output', got {row!r}")
            inputs = row["inputs"]
            if not isinstance(inputs, Mapping) or set(inputs) != set(self.variables):
                raise ValueError(
                    f"task rows[{r}]['inputs'] must give a value to exactly the variables {list(self.variables)}, "
                    f"got {inputs!r}"
                )
            values = {v: self._bit(inputs[v], f"task rows[{r}]['inputs'][{v!r}]") for v in self.variables}
            i = self._row_index(values)
            if observed >> i & 1:
                raise ValueError(f"task rows[{r}] repeats the assignment {values}")
            observed |= 1 << i
            output |= self._bit(row["output"], f"task rows[{r}]['output']") << i
        tables = self.realisable_tables()
        if not np.any((tables & observed) == output):
            raise ValueError(
                f"task rows are unrealisable: no expression over {list(self.variables)} with operators "
                f"{list(self.operators)} and depth <= {self.max_depth} fits them"
            )
        return self._task_dict(observed, output)

    def _all_task_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(observed mask, output bits) of every realisable task with 1..max_observed rows (cached)."""
        if self._task_codes is None:
            tables = self.realisable_tables()
            masks, outs = [], []
            for k in range(1, self.max_observed + 1):
                for subset in itertools.combinations(range(self.n_rows), k):
                    m = sum(1 << i for i in subset)
                    seen = set(np.unique(tables & m).tolist())
                    for values in itertools.product((0, 1), repeat=k):
                        o = sum(b << i for b, i in zip(values, subset, strict=True))
                        if o in seen:
                            masks.append(m)
                            outs.append(o)
            self._task_codes = (np.array(masks, dtype=np.int64), np.array(outs, dtype=np.int64))
        return self._task_codes

    def all_tasks(self) -> list[dict[str, Any]]:
        """Every realisable task with 1..max_observed observed rows, ordered by row count, rows, outputs."""
        masks, outs = self._all_task_codes()
        return [self._task_dict(m, o) for m, o in zip(masks.tolist(), outs.tolist(), strict=True)]

    def task_table(self) -> tuple[dict[str, Any], ...]:
        """Every realisable task with 1..max_observed rows (the uniform task distribution), cached."""
        if self._task_dicts is None:
            self._task_dicts = tuple(self.all_tasks())
        return self._task_dicts

    def _task_bits(self, task: Mapping[str, Any]) -> tuple[int, int]:
        observed = output = 0
        for row in task["rows"]:
            inputs = row["inputs"]
            i = self._index[tuple(inputs[v] for v in self.variables)]
            observed |= 1 << i
            output |= int(row["output"]) << i
        return observed, output

    # -------------------------------------------------------------- dynamics
    def initial_state(self, tasks: Sequence[Mapping[str, Any]]) -> State:
        n = len(tasks)
        codes = np.array([self._task_bits(t) for t in tasks], dtype=np.int64).reshape(n, 2)
        bit = np.arange(self.n_rows)
        stack = np.full((n, self.n_slots), -1, np.int8)
        stack[:, 0] = self.max_depth
        return {
            "tokens": np.full((n, self.max_length), -1, np.int8),
            "length": np.zeros(n, np.int16),
            "stack": stack,
            "top": np.ones(n, np.int16),
            "observed": ((codes[:, :1] >> bit) & 1).astype(np.uint8),
            "output": ((codes[:, 1:] >> bit) & 1).astype(np.uint8),
        }

    def _budget(self, state: State) -> np.ndarray:
        """Remaining depth budget of the slot the next token fills (-1 for complete rows)."""
        top = state["top"].astype(np.int64)
        slot = state["stack"][np.arange(len(top)), np.maximum(top - 1, 0)].astype(np.int64)
        return np.where(top > 0, slot, -1)

    def legal_actions(self, state: State) -> np.ndarray:
        budget = self._budget(state)
        return (budget[:, None] >= 0) & ((self.arity[None, :] == 0) | (budget[:, None] >= 1))

    def apply(self, state: State, actions: np.ndarray) -> np.ndarray:
        actions = np.asarray(actions, dtype=np.int64)
        rows = np.arange(len(actions))
        top = state["top"].astype(np.int64)
        budget = self._budget(state)
        state["tokens"][rows, state["length"].astype(np.int64)] = actions
        state["length"] += 1
        arity = self.arity[actions]
        # the filled slot is replaced by its children's slots (none for a variable), left child on top
        child = np.where(arity > 0, budget - 1, -1).astype(np.int8)
        state["stack"][rows, top - 1] = child
        binary = np.flatnonzero(arity == 2)
        state["stack"][binary, top[binary]] = child[binary]
        state["top"][:] = top - (arity == 0) + (arity == 2)
        return state["top"] == 0

    def observe(self, state: State) -> np.ndarray:
        n = len(state["top"])
        obs = np.zeros((n, self.observation_space.shape[0]), np.float32)
        r, pos = np.nonzero(state["tokens"] >= 0)
        obs[r, pos * self.n_actions + state["tokens"][r, pos]] = 1.0
        stack = state["stack"].astype(np.int64)
        r, slot = np.nonzero(np.arange(self.n_slots)[None, :] < state["top"][:, None])
        obs[r, self._off_stack + slot * (self.max_depth + 1) + stack[r, slot]] = 1.0
        obs[:, self._off_task : self._off_task + 2 * self.n_rows : 2] = state["observed"]
        obs[:, self._off_task + 1 : self._off_task + 2 * self.n_rows : 2] = state["output"]
        return obs

    def _evaluate(self, state: State, leaf: Any, unary: Any, binary: Any) -> np.ndarray:
        """Fold every complete row's tree bottom-up: right to left over its tokens with a value stack (int64 ``[N]``).

        ``leaf(variable_ids)``, ``unary(values)`` (``NOT``, the only unary operator) and
        ``binary(operator_ids, left, right)`` map arrays to arrays; operator ids index :attr:`operators`.
        """
        tokens = state["tokens"].astype(np.int64)
        n = len(tokens)
        values = np.zeros((n, self.max_length + 1), np.int64)
        sp = np.zeros(n, np.int64)
        for t in range(self.max_length - 1, -1, -1):
            tok = tokens[:, t]
            arity = np.where(tok >= 0, self.arity[np.maximum(tok, 0)], -1)
            rows = np.flatnonzero(arity == 0)
            values[rows, sp[rows]] = leaf(tok[rows])
            sp[rows] += 1
            rows = np.flatnonzero(arity == 1)
            values[rows, sp[rows] - 1] = unary(values[rows, sp[rows] - 1])
            rows = np.flatnonzero(arity == 2)
            if len(rows):
                top = sp[rows]
                left, right = values[rows, top - 1], values[rows, top - 2]  # the left child is on top
                values[rows, top - 2] = binary(tok[rows] - self.n_vars, left, right)
                sp[rows] -= 1
        return values[:, 0]

    def truth_tables(self, state: State) -> np.ndarray:
        """Truth tables (int64 ``[N]``) of complete rows, evaluated right to left with a value stack."""

        def gates(ops: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = np.zeros(len(ops), np.int64)
            for k in np.unique(ops).tolist():
                sel = ops == k
                out[sel] = _gate(self.operators[k], a[sel], b[sel], self.full)
            return out

        return self._evaluate(state, lambda v: self.var_bits[v], lambda a: ~a & self.full, gates)

    def outcomes(self, state: State) -> tuple[list[str], np.ndarray, np.ndarray]:
        tables = self.truth_tables(state)
        observed = state["observed"].astype(np.int64) @ self._row_weights
        output = state["output"].astype(np.int64) @ self._row_weights
        valid = ((tables ^ output) & observed) == 0
        return self._keys(state), valid.astype(np.float64), valid

    def _keys(self, state: State) -> list[str]:
        """Canonical keys of complete rows."""
        index = self._key_indices(state)
        if index is not None:
            keys = _expression_space(self.variables, self.operators, self.max_depth).keys
            return [keys[i] for i in index.tolist()]
        return [
            _key_of_tokens(self.tokens, tuple(row[:length]))
            for row, length in zip(state["tokens"].tolist(), state["length"].tolist(), strict=True)
        ]

    def _key_indices(self, state: State) -> np.ndarray | None:
        """Index into the enumerated key space of each complete row's key (int64 ``[N]``), or None when the space
        is too large to enumerate.

        Folded by :meth:`_evaluate` like :meth:`truth_tables`, but on key indices: a subtree's key depends
        only on its operator and its children's keys, and every child (depth <= max_depth - 1) is among the first
        keys of the space, so one table lookup per operator token replaces the per-row parse of
        :func:`canonical_key`.
        """
        try:
            space = _expression_space(self.variables, self.operators, self.max_depth)
        except ExpressionSpaceTooLarge:
            return None
        # the variables are the first keys, in action order
        return self._evaluate(state, lambda v: v, lambda a: space.not_index[a],
                              lambda ops, a, b: space.pair_index[ops, a, b])

    # ----------------------------------------------------------- enumeration
    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float] | None:
        try:
            space = _expression_space(self.variables, self.operators, self.max_depth)
        except ExpressionSpaceTooLarge:
            return None
        observed, output = self._task_bits(task)
        fits = ((space.bits ^ output) & observed) == 0
        return {k: 1.0 for k, ok in zip(space.keys, fits.tolist(), strict=True) if ok}

    # --------------------------------------------------------------- renders
    def _row_tokens(self, state: State) -> list[str]:
        return [self.tokens[int(t)] for t in state["tokens"][0, : int(state["length"][0])]]

    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        tokens = self._row_tokens(state)
        top = int(state["top"][0])
        lines = [
            f"BooleanExpr variables={list(self.variables)} operators={list(self.operators)} "
            f"max_depth={self.max_depth}",
            f"prefix: {' '.join(tokens) if tokens else '(empty)'}",
            f"tree:   {_partial_tree(tokens)}",
        ]
        done = top == 0
        if done:
            ids = tuple(state["tokens"][0, : len(tokens)].tolist())
            lines.append(f"key:    {_key_of_tokens(self.tokens, ids)}")
            table = int(self.truth_tables(state)[0])
        else:
            budgets = [int(b) for b in state["stack"][0, :top][::-1]]
            lines.append(f"open slots (next first), depth budget: {budgets}")
        header = " ".join(self.variables)
        lines.append(f"{header} | task" + (" | expr" if done else ""))
        for i in range(self.n_rows):
            bits = " ".join(f"{(i >> (self.n_vars - 1 - j)) & 1:>{len(v)}}" for j, v in enumerate(self.variables))
            seen = bool(state["observed"][0, i])
            cell = str(int(state["output"][0, i])) if seen else "?"
            line = f"{bits} |  {cell}  "
            if done:
                got = (table >> i) & 1
                mark = "" if not seen else " ok" if got == int(state["output"][0, i]) else " x"
                line += f"|  {got}{mark}"
            lines.append(line.rstrip())
        return "\n".join(lines) + "\n"

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        px, gap = 16, 8
        var_colors = [raster.BLUE, (60, 180, 200), (130, 90, 200), (40, 60, 120)]
        op_colors = {"AND": raster.GREEN, "OR": raster.ORANGE, "NOT": raster.RED, "NOR": (170, 60, 150),
                     "XOR": raster.DARK}
        colors = var_colors[: self.n_vars] + [op_colors[op] for op in self.operators]
        cols = max(self.max_length, self.n_vars + 2)
        height = gap + 2 * px + self.n_rows * px + gap
        img = raster.canvas(height, cols * px + 2 * gap)
        # row 1: the tokens written so far, one coloured block each
        for pos in range(self.max_length):
            t = int(state["tokens"][0, pos])
            left = gap + pos * px
            if t >= 0:
                raster.fill(img, gap, left, px, px, colors[t])
            raster.frame(img, gap, left, px, px, raster.GREY)
        # row 2: the open slot stack, shaded by remaining depth budget
        top_y = gap + px + 2
        for slot in range(int(state["top"][0])):
            b = int(state["stack"][0, slot])
            raster.fill(img, top_y, gap + slot * px + 2, px - 6, px - 4, raster.shade((b + 1) / (self.max_depth + 1)))
        # truth table: input bits, observed output (green 1, red 0, grey unobserved), expression output
        done = int(state["top"][0]) == 0
        table = int(self.truth_tables(state)[0]) if done else 0
        y0 = gap + 2 * px
        for i in range(self.n_rows):
            y = y0 + i * px
            for j in range(self.n_vars):
                bit = (i >> (self.n_vars - 1 - j)) & 1
                raster.fill(img, y, gap + j * px, px, px, raster.BLACK if bit else raster.WHITE)
                raster.frame(img, y, gap + j * px, px, px, raster.GREY)
            x_task = gap + self.n_vars * px
            if state["observed"][0, i]:
                raster.fill(img, y, x_task, px, px, raster.GREEN if state["output"][0, i] else raster.RED)
            else:
                raster.fill(img, y, x_task, px, px, raster.GREY)
            raster.frame(img, y, x_task, px, px, raster.DARK)
            if done:
                raster.fill(img, y, x_task + px, px, px, raster.GREEN if (table >> i) & 1 else raster.RED)
                raster.frame(img, y, x_task + px, px, px, raster.DARK)
        return img


class BooleanExprEnv(ConstructionEnv):
    __doc__ = __doc__
    kernel_class = BooleanExprKernel


class BooleanExprVectorEnv(ConstructionVectorEnv):
    """Batched ``IPS/BooleanExpr-v0`` (see :class:`BooleanExprEnv`)."""

    kernel_class = BooleanExprKernel
