"""The BooleanExpr construction kernel: batched prefix writing of Boolean expressions under depth masks.

One :class:`BooleanExprKernel` steps ``N`` expressions at once (each row with its own partial truth table);
the Gymnasium env and vector env of :mod:`ips_envs.boolean_expr.env` are generated from it. Expression trees
and their canonical keys are in :mod:`ips_envs.boolean_expr.expression`, the enumerated key space (truth
tables, path counts) in :mod:`ips_envs.boolean_expr.space`, the pictures in :mod:`ips_envs.boolean_expr.render`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

import ips_envs.boolean_expr.render as render
from ips_envs.boolean_expr.expression import (
    ARITY,
    DEFAULT_OPERATORS,
    DEFAULT_VARIABLES,
    MAX_DEPTH,
    key_of_tokens,
    validate_operators,
    validate_variables,
)
from ips_envs.boolean_expr.space import (
    ExpressionSpaceTooLarge,
    canonical_expressions,
    expression_space,
    gate,
    realisable_tables,
    variable_tables,
)
from ips_envs.core.kernel import Kernel, State, check_fields, check_int

TASK_FIELDS = ("variables", "operators", "max_depth", "rows")
MAX_TASK_CANDIDATES = 200_000
"""Largest number of candidate partial tables (row subsets x outputs) the task list may scan."""


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
        return realisable_tables(self.n_vars, self.operators, self.max_depth)

    def expressions(self) -> dict[str, int]:
        """Every canonical key of the space and its truth table (see :func:`canonical_expressions`)."""
        return canonical_expressions(self.variables, self.operators, self.max_depth)

    @property
    def has_path_counts(self) -> bool:  # type: ignore[override]
        """True when the key space (and with it the path-count DP) can be enumerated for this grammar."""
        try:
            expression_space(self.variables, self.operators, self.max_depth)
        except ExpressionSpaceTooLarge:
            return False
        return True

    def expression_path_counts(self) -> dict[str, int]:
        """Every key of the space and its number of construction paths (trees of depth <= max_depth with that key).

        Computed once per grammar by the DP over depth and key described in ``expression_space`` (cached);
        raises :class:`ExpressionSpaceTooLarge` when the space cannot be enumerated.
        """
        return dict(expression_space(self.variables, self.operators, self.max_depth).path_counts)

    def path_counts(self, state: State) -> np.ndarray:
        """Int64 ``[N]``: the number of token sequences (trees of depth <= max_depth) that write each row's key."""
        space = expression_space(self.variables, self.operators, self.max_depth)
        index = self._key_indices(state)
        assert index is not None  # the space was enumerated just above
        return space.path_count_array[index]

    def expression_actions(self, key: str) -> list[int]:
        """Actions writing one expression (of depth <= max_depth) whose outcome key is ``key``."""
        space = expression_space(self.variables, self.operators, self.max_depth)
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
                out[sel] = gate(self.operators[k], a[sel], b[sel], self.full)
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
            keys = expression_space(self.variables, self.operators, self.max_depth).keys
            return [keys[i] for i in index.tolist()]
        return [
            key_of_tokens(self.tokens, tuple(row[:length]))
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
            space = expression_space(self.variables, self.operators, self.max_depth)
        except ExpressionSpaceTooLarge:
            return None
        # the variables are the first keys, in action order
        return self._evaluate(state, lambda v: v, lambda a: space.not_index[a],
                              lambda ops, a, b: space.pair_index[ops, a, b])

    # ----------------------------------------------------------- enumeration
    def outcome_rewards(self, task: Mapping[str, Any]) -> dict[str, float] | None:
        try:
            space = expression_space(self.variables, self.operators, self.max_depth)
        except ExpressionSpaceTooLarge:
            return None
        observed, output = self._task_bits(task)
        fits = ((space.bits ^ output) & observed) == 0
        return {k: 1.0 for k, ok in zip(space.keys, fits.tolist(), strict=True) if ok}

    # --------------------------------------------------------------- renders
    def _finished_table(self, state: State) -> int | None:
        """Truth table of row 0 once its tree is complete, else None."""
        return int(self.truth_tables(state)[0]) if int(state["top"][0]) == 0 else None

    def render_ansi(self, state: State, task: Mapping[str, Any]) -> str:
        """Row 0 as text (:func:`ips_envs.boolean_expr.render.render_ansi`)."""
        return render.render_ansi(state, self.variables, self.operators, self.max_depth, self._finished_table(state))

    def render_rgb(self, state: State, task: Mapping[str, Any]) -> np.ndarray:
        """Row 0 as an RGB picture (:func:`ips_envs.boolean_expr.render.render_rgb`)."""
        return render.render_rgb(state, self.n_vars, self.operators, self.max_depth, self._finished_table(state))
