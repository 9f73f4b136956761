"""Boolean expressions: operators, expression trees, prefix parsing and the canonical outcome key.

An expression tree is a variable name or ``(operator, child, ...)``; the env writes trees in prefix order.
:func:`canonical_key` gives the outcome key described in :mod:`ips_envs.boolean_expr.env` (HypoSpace's
"mechanistic" identity: ``AND`` / ``OR`` flattened, sorted and de-duplicated, ``NOR`` keyed as ``NOT(OR(...))``,
``XOR`` sorted, nothing else simplified).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

OPERATORS: tuple[str, ...] = ("AND", "OR", "NOT", "NOR", "XOR")
"""Every supported operator, in action order."""

ARITY: dict[str, int] = {"AND": 2, "OR": 2, "NOT": 1, "NOR": 2, "XOR": 2}
"""Number of arguments each operator takes when written as a token."""

DEFAULT_VARIABLES: tuple[str, ...] = ("x", "y")
DEFAULT_OPERATORS: tuple[str, ...] = ("AND", "OR", "NOT")
MAX_VARIABLES = 4
MAX_DEPTH = 4

Expr = Union[str, tuple[Any, ...]]
"""An expression tree: a variable name, or ``(operator, child, ...)``."""


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
class Canon:
    """A canonical node: its key string, its head (``"VAR"`` or an operator) and its argument keys."""

    key: str
    head: str
    args: tuple[str, ...]


def leaf(name: str) -> Canon:
    """The canonical node of the variable ``name``."""
    return Canon(name, "VAR", ())


def negate(a: Canon) -> Canon:
    """The canonical node ``NOT(a)`` (kept as a node: ``NOT(NOT(x))`` is not ``x``)."""
    return Canon(f"NOT({a.key})", "NOT", (a.key,))


def _assoc(op: str, kids: Sequence[Canon]) -> Canon:
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
    return Canon(f"{op}({','.join(ordered)})", op, ordered)


def combine(op: str, kids: Sequence[Canon]) -> Canon:
    """The canonical node of ``op`` applied to canonical children."""
    if op == "NOT":
        return negate(kids[0])
    if op in ("AND", "OR"):
        return _assoc(op, kids)
    if op == "NOR":
        return negate(_assoc("OR", kids))
    if op == "XOR":
        ordered = tuple(sorted(k.key for k in kids))
        return Canon(f"XOR({','.join(ordered)})", "XOR", ordered)
    raise ValueError(f"operator {op!r} is not supported; allowed operators are {list(OPERATORS)}")


def _canon(expr: Expr) -> Canon:
    """The canonical node of an expression tree (checks operators and argument counts)."""
    if isinstance(expr, str):
        if not expr.isidentifier() or expr.upper() in OPERATORS:
            raise ValueError(f"{expr!r} is not a variable name")
        return leaf(expr)
    if not isinstance(expr, tuple | list) or not expr:
        raise ValueError(f"an expression is a variable name or (operator, child, ...), got {expr!r}")
    op, *children = expr
    if op not in OPERATORS:
        raise ValueError(f"operator {op!r} is not supported; allowed operators are {list(OPERATORS)}")
    n = len(children)
    if (op == "NOT" and n != 1) or (op == "XOR" and n != 2) or (op in ("AND", "OR", "NOR") and n < 2):
        raise ValueError(f"{op} got {n} argument(s) in {expr!r}")
    return combine(op, [_canon(c) for c in children])


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


def partial_tree(tokens: Sequence[str]) -> str:
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




@functools.lru_cache(maxsize=1 << 16)
def key_of_tokens(names: tuple[str, ...], tokens: tuple[int, ...]) -> str:
    """Canonical key of a complete prefix given as token ids into ``names`` (cached)."""
    return canonical_key(parse_prefix([names[t] for t in tokens]))
