"""Text face of ``IPS/BooleanExpr-v0``: HypoSpace's Boolean prompt and its ``Expression:`` answer line.

Answer format (HypoSpace's): ``Expression: (x OR y) AND NOT x``: variables, the upper-case operators
``AND``, ``OR``, ``NOT``, ``XOR`` (infix; ``NOT`` binds tightest, then ``AND``, ``XOR``, ``OR``, as in the
SymPy expression HypoSpace builds), ``NOR(a, b, ...)`` in function form, and parentheses. A chain of one
operator (``x AND y AND NOT x``) is one flattened node, as SymPy makes it.

An answer has an outcome when it is an expression of the env's space: only its variables and operators, no
constants, and a canonical key (:func:`ips_envs.boolean_expr.canonical_key`) among the space's keys, i.e. the
env can write an expression of depth at most ``max_depth`` with that identity (HypoSpace's "in-space", with
depth judged on the identity rather than on SymPy's tree). Strict where HypoSpace is lenient: no LaTeX or
symbol rewriting (``∧``, ``\\land``), no fallback to a line without the ``Expression:`` label, lower-case
operator words are not operators. Where HypoSpace's validator is wrong the env's semantics win: ``NOT (x OR y)``
is accepted without the ``NOR`` operator (its key is reachable with ``NOT`` and ``OR``).

The face needs an enumerable configuration (``kernel.expressions()``); for spaces too large to enumerate every
answer is reported without an outcome, with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from textwrap import dedent
from typing import Any

from ips_envs.boolean_expr.expression import OPERATORS, Expr, canonical_key
from ips_envs.boolean_expr.space import ExpressionSpaceTooLarge
from ips_envs.text.base import AnswerError, TextFace, after_label

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z_0-9]*)|(\S))")
_DESCRIPTIONS = {"AND": "AND (conjunction)", "OR": "OR (disjunction)", "NOT": "NOT (negation)",
                 "XOR": "XOR (exclusive or)", "NOR": "NOR (NOT (x OR y))"}
_BINARY_INFIX = ("OR", "XOR", "AND")  # loosest to tightest


def _tokens(text: str) -> list[str]:
    out = []
    for name, other in _TOKEN.findall(text):
        out.append(name or other)
    return out


class _Parser:
    """Recursive descent over the infix grammar (``NOT`` > ``AND`` > ``XOR`` > ``OR``)."""

    def __init__(self, tokens: list[str], variables: tuple[str, ...]) -> None:
        self.tokens, self.pos, self.variables = tokens, 0, variables
        self.used: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise AnswerError("the expression ends too early" + (f" (expected {expected!r})" if expected else ""))
        if expected is not None and tok != expected:
            raise AnswerError(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def parse(self) -> Expr:
        if self.peek() is None:
            raise AnswerError("the Expression: line is empty")
        tree = self.level(0)
        if self.peek() is not None:
            tok = self.peek()
            if tok.upper() in OPERATORS:
                raise AnswerError(f"operators are written in upper case ({tok.upper()}), got {tok!r}")
            raise AnswerError(f"unexpected {tok!r} after a complete expression")
        return tree

    def level(self, k: int) -> Expr:
        if k == len(_BINARY_INFIX):
            return self.unary()
        op = _BINARY_INFIX[k]
        items = [self.level(k + 1)]
        while self.peek() == op:
            self.take()
            self.used.add(op)
            items.append(self.level(k + 1))
        if len(items) == 1:
            return items[0]
        if op == "XOR":  # binary, left to right
            tree = items[0]
            for item in items[1:]:
                tree = ("XOR", tree, item)
            return tree
        return (op, *items)

    def unary(self) -> Expr:
        tok = self.take()
        if tok == "NOT":
            self.used.add("NOT")
            return ("NOT", self.unary())
        if tok == "(":
            tree = self.level(0)
            self.take(")")
            return tree
        if tok == "NOR":
            self.used.add("NOR")
            self.take("(")
            args = [self.level(0)]
            while self.peek() == ",":
                self.take()
                args.append(self.level(0))
            self.take(")")
            if len(args) < 2:
                raise AnswerError("NOR(...) needs at least two arguments")
            return ("NOR", *args)
        if tok in self.variables:
            return tok
        if tok in OPERATORS:
            raise AnswerError(f"operator {tok} in the wrong place")
        if tok.upper() in OPERATORS:
            raise AnswerError(f"operators are written in upper case ({tok.upper()}), got {tok!r}")
        if tok.lower() in ("true", "false") or tok in ("0", "1"):
            raise AnswerError(f"constants such as {tok!r} are not allowed")
        if tok[0].isalpha() or tok[0] == "_":
            raise AnswerError(f"unknown name {tok!r}; the variables are {', '.join(self.variables)} and the "
                              f"operators are written {', '.join(OPERATORS)}")
        raise AnswerError(f"unexpected character {tok!r}")


def _key_tree(key: str) -> Expr:
    """The tree of a canonical key such as ``"AND(NOT(x),y)"`` (n-ary ``AND`` / ``OR`` kept as written)."""
    pos = 0

    def node() -> Expr:
        nonlocal pos
        m = re.compile(r"[A-Za-z_][A-Za-z_0-9]*").match(key, pos)
        if not m:
            raise ValueError(f"{key!r} is not a canonical key")
        pos = m.end()
        if pos < len(key) and key[pos] == "(":
            pos += 1
            args = [node()]
            while key[pos] == ",":
                pos += 1
                args.append(node())
            pos += 1  # ")"
            return (m.group(), *args)
        return m.group()

    tree = node()
    if pos != len(key):
        raise ValueError(f"{key!r} is not a canonical key")
    return tree


class BooleanExprFace(TextFace):
    """Prompts and answers for partial truth tables (see the module docstring for the answer format)."""

    env_id = "IPS/BooleanExpr-v0"
    label = "Expression"

    def hypotheses(self) -> list[str] | None:
        """Every canonical key of the expression space (34 with the defaults), or None when too large."""
        try:
            return list(self.kernel.expressions())
        except ExpressionSpaceTooLarge:
            return None

    # ----------------------------------------------------------------- prompts
    def observation_lines(self, task: Mapping[str, Any] | str | None = None) -> list[str]:
        """HypoSpace's observation strings, e.g. ``(x=0, y=1) -> 1``."""
        lines = []
        for row in self.task(task)["rows"]:
            inputs = ", ".join(f"{k}={int(v)}" for k, v in sorted(row["inputs"].items()))
            lines.append(f"({inputs}) -> {int(row['output'])}")
        return lines

    def prompt(self, task: Mapping[str, Any] | str | None = None, prior: Iterable[str] = (),
               compact: bool = False) -> str:
        """HypoSpace's Boolean prompt; ``compact=True`` gives only the observation lines and the open answer label
        ``Expression:`` (for small models; read their completions with :meth:`with_prompt`)."""
        obs = "\n".join(self.observation_lines(task))
        if compact:
            return obs + "\nExpression:"
        k = self.kernel
        variables = ", ".join(k.variables)
        prior_block = "\n".join(self.answer(key) for key in prior) or "None"
        return dedent("""\
            You are given partial observations of a Boolean function with variables: {variables}

            Allowed operators: {described}

            Observations (input -> output):
            {obs}

            Prior expressions generated (avoid repeating any expression
            that is equivalent under the rules below):
            {prior}

            Task: Generate a single Boolean expression that is consistent with ALL observations.

            Requirements:
            1. Use ONLY the variables: {variables}
            2. Use ONLY these operators: {operators}
            3. The expression must match all given observations
            4. Structural uniqueness is judged by these rules:
            - Commutativity: reorderings are the SAME (e.g., x AND y = y AND x).
            - Idempotence: duplicates of the same input under AND/OR collapse (e.g., x AND x = x; x OR x = x).
            - Associativity flattening: cascades of the SAME operator are the SAME regardless of parentheses (e.g., (x AND y) AND x = x AND (y AND x) = x AND x AND y).
            - No distributivity, absorption, or De Morgan normalization: mixing operators keeps expressions DIFFERENT (e.g., (x AND y) OR z ≠ x AND (y OR z)).
            5. Expression depth should be at most {depth} levels of nesting
            6. Do not use boolean constants True or False anywhere in the expression.

            Output format:
            - Return ONLY the Boolean expression on a single line
            - Use plain text format (no LaTeX, no markdown, no special formatting)
            - Use uppercase for operators.
            - Use lowercase for variables: {variables}
            - Use parentheses for grouping when needed
            - Start your response with "Expression: " followed by the expression

            Examples of correct format:
            Expression: x AND y
            Expression: (x OR y) AND NOT x
            Expression: NOT (x AND y)
            Expression: NOR(x, y)

            DO NOT use formats like:
            - \\(x \\land y\\)  (LaTeX)
            - `x AND y`  (markdown)
            - x ∧ y  (mathematical symbols)""").format(
            variables=variables, described=", ".join(_DESCRIPTIONS[op] for op in k.operators), obs=obs,
            prior=prior_block, operators=", ".join(k.operators), depth=k.max_depth)

    def answer(self, outcome: str, task: Mapping[str, Any] | str | None = None) -> str:
        """``"AND(NOT(x),y)"`` -> ``"Expression: NOT x AND y"`` (with ``NOR(...)`` where ``NOT`` or ``OR`` is not
        an allowed operator)."""
        ops = set(self.kernel.operators)

        def wrap(t: Expr) -> str:  # NOT binds tightest, and NOR(...) is atomic: only gates need parentheses
            return write(t) if isinstance(t, str) or t[0] == "NOT" else f"({write(t)})"

        def write(t: Expr) -> str:
            if isinstance(t, str):
                return t
            head, *args = t
            if head == "NOT":
                (child,) = args
                if "NOR" in ops and not isinstance(child, str) and child[0] == "OR" and not {"NOT", "OR"} <= ops:
                    return "NOR(" + ", ".join(write(a) for a in child[1:]) + ")"
                if "NOT" in ops:
                    return "NOT " + wrap(child)
                return f"NOR({write(child)}, {write(child)})"
            return f" {head} ".join(wrap(a) for a in args)

        return "Expression: " + write(_key_tree(outcome))

    # ----------------------------------------------------------------- parsing
    def _read(self, lines: list[str], start: int, task: dict[str, Any]) -> tuple[str, list[int]]:
        text = after_label(lines[start], self.label)
        kernel = self.kernel
        parser = _Parser(_tokens(text), kernel.variables)
        tree = parser.parse()
        banned = sorted(parser.used - set(kernel.operators))
        if banned:
            raise AnswerError(f"operator(s) {', '.join(banned)} not allowed; the operators are "
                              f"{', '.join(kernel.operators)}")
        key = canonical_key(tree)
        try:
            space = kernel.expressions()
        except ExpressionSpaceTooLarge as err:
            raise AnswerError(f"this configuration's expression space cannot be enumerated ({err})") from None
        if key not in space:
            raise AnswerError(f"{key} is not an expression of the space: it needs depth > {kernel.max_depth} "
                              f"with the operators {', '.join(kernel.operators)}")
        return text, kernel.expression_actions(key)

    def _why_invalid(self, outcome: str, task: dict[str, Any]) -> str:
        table = self.kernel.expressions()[outcome]
        k = self.kernel
        for row in task["rows"]:
            i = sum(int(row["inputs"][v]) << (k.n_vars - 1 - j) for j, v in enumerate(k.variables))
            got = (table >> i) & 1
            if got != int(row["output"]):
                inputs = ", ".join(f"{a}={int(b)}" for a, b in sorted(row["inputs"].items()))
                return f"the expression gives ({inputs}) -> {got}, observed {int(row['output'])}"
        return "the expression does not fit the observations"

