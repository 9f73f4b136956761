"""SMILES tokens and a batched grammar that keeps every prefix completable (used by ``IPS/SMILES-v0``).

Vocabulary
----------
:data:`VOCAB` is the token set of the MOSES training set (molsets 0.3.1, ``moses/dataset/data/train.csv.gz``,
1,584,663 SMILES) split with the REINVENT4 / Saturn tokenizer (bracket atoms ``\\[[^\\]]*\\]``, two-digit ring
closures ``%\\d{2}``, ``Br``/``Cl``, then single characters). Measured here on the whole file: 24 distinct
tokens (``C c ( ) 1 O 2 N = n 3 F - S s o Cl [nH] # 4 Br 5 [H] 6``, in decreasing frequency), at most 54
tokens per SMILES, mean 35.4. The same file written as RDKit kekulé SMILES uses 16 of them (no lowercase
atom, no ``-``, no ``[nH]``) with at most 55 tokens (50k-molecule sample). No stereo, no charges, no ``%nn``.
The action space is ``VOCAB`` followed by the end token :data:`END_TOKEN` (the last action).

Grammar state (all numpy arrays with a leading batch dimension, see :func:`initial_state`)
----------------------------------------------------------------------------------------------
``tokens`` (written token ids, -1 padded), ``length``, ``last`` (class of the last token: start, atom or
ring digit, bond, ``(``, ``)``, done), ``pending`` (order of a written bond symbol), ``cur`` (index of the
atom the next atom attaches to), ``n_atoms``, ``free`` (remaining valence of every atom), ``parent`` (the
atom each atom is bonded to by its incoming chain/branch bond), ``ring_open`` / ``ring_atom`` (open
ring-closure digits and the atom that opened them; the opener's valence for the ring bond is reserved
when the digit is written), ``closed_here`` / ``closed_digits`` (openers and digits of the rings closed at
the current atom: no second bond between the same two atoms, no digit reopened where it was closed),
``depth`` / ``stack`` (open branches and their branch points).

Rules the masks enforce
-----------------------
* syntax: a bond symbol only after an atom, a ring digit or a parenthesis, and only followed by an atom;
  ``(`` only after an atom/digit or ``)``; ``)`` only after an atom/digit or ``)`` (no empty branch);
  ring digits only directly after an atom or another digit, **not after ``=`` or ``#``**: every ring
  closure bond is single (aromatic between two aromatic atoms; in ``aromatic`` mode ``-`` may precede a
  digit, as RDKit writes ``c1-2``). Kekulé SMILES lose nothing: double and triple bonds of a kekulé
  structure form a forest, so a spanning tree containing all of them exists and every ring can be
  closed on a single bond;
* a new ring takes the lowest digit that is neither open nor was just closed on the same atom (RDKit's
  writing convention: ``C12`` for a spiro atom), which removes relabelled duplicates of the same string;
* valence budget (neutral atoms, RDKit default valences): C 4, N 3, O 2, S 6, F/Cl/Br/[H] 1; in
  ``aromatic`` mode c 4, n 3, o 2, s 2, [nH] 2 (a bond between two aromatic atoms costs 1);
* a ring digit closes only onto an atom that is neither the current atom, nor its parent, nor already
  ring-bonded to it (no self loops, no duplicate bonds); at most 6 rings are open at once;
* the end token only with at least one atom, no open branch, no open ring and no dangling bond;
* completability: every non-end action is legal only if a conservative completion (defined in
  :func:`completion_cost`) still fits in the remaining length, so any prefix the masks allow can be
  finished by ``max_length`` and the end token is then legal. Near the length cap this forces branches
  and rings to close.

``aromatic=False`` (the default of the env) masks the lowercase atoms, ``[nH]`` and ``-``: molecules are
written in kekulé form (``C1=CC=CC=C1``), RDKit perceives aromaticity when it canonicalises, and every
molecule over the vocabulary's elements stays reachable. Under these masks no completed string failed
RDKit's sanitisation in the tests (10,000 uniform random rollouts, and 30,000 under 150 random biased
policies, every length from 1 to 60); the budget does not model everything RDKit checks, so a failure is
still reported, never raised. ``aromatic=True`` allows the lowercase tokens with the same budget but
cannot guarantee kekulizability or that aromatic atoms sit in rings: about 29 % of uniform random strings
sanitise (reward 0 and ``valid=False`` for the rest).

Real molecules: 50,000 random MOSES training molecules written with :func:`ips_envs.smiles.to_env_smiles`
(kekulé) and 20,000 in aromatic form were all accepted by the masks (``max_length`` 60), checked with
:func:`first_illegal`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# ----------------------------------------------------------------------------------------- vocabulary
MOSES_TOKENS: tuple[str, ...] = (
    "C", "c", "(", ")", "1", "O", "2", "N", "=", "n", "3", "F", "-", "S", "s", "o",
    "Cl", "[nH]", "#", "4", "Br", "5", "[H]", "6",
)
"""The 24 tokens of MOSES train.csv.gz in decreasing frequency (provenance in the module docstring)."""

ATOM_TOKENS: tuple[str, ...] = ("C", "N", "O", "S", "F", "Cl", "Br", "[H]", "c", "n", "o", "s", "[nH]")
BOND_TOKENS: tuple[str, ...] = ("-", "=", "#")
BRANCH_TOKENS: tuple[str, ...] = ("(", ")")
RING_TOKENS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6")

VOCAB: tuple[str, ...] = ATOM_TOKENS + BOND_TOKENS + BRANCH_TOKENS + RING_TOKENS
"""SMILES tokens in action order (the MOSES set regrouped: atoms, bonds, branches, ring digits)."""

END_TOKEN = "$"
"""The end token; its action id is ``len(VOCAB)`` (the last action)."""

N_ACTIONS = len(VOCAB) + 1
END = len(VOCAB)
TOKEN_ID: dict[str, int] = {t: i for i, t in enumerate(VOCAB)}

N_ATOM = len(ATOM_TOKENS)
BOND0 = TOKEN_ID["-"]
OPEN_TOK = TOKEN_ID["("]
CLOSE_TOK = TOKEN_ID[")"]
RING0 = TOKEN_ID["1"]
N_RING = len(RING_TOKENS)

AROMATIC_ATOMS = np.array([t[0].islower() or t == "[nH]" for t in ATOM_TOKENS])
VALENCE = np.array([4, 3, 2, 6, 1, 1, 1, 1, 4, 3, 2, 2, 2], dtype=np.int8)
"""Valence budget of each atom token (neutral atoms; S may reach 6 as in sulfones/sulfonamides)."""

TOKEN_PATTERN = re.compile(r"(\[[^\]]*\]|%\d{2}|Br|Cl|.)")
"""REINVENT4-style tokenizer: bracket atoms, %nn ring closures, Br/Cl, then single characters."""

assert sorted(VOCAB) == sorted(MOSES_TOKENS) and len(VALENCE) == N_ATOM

# token classes stored in ``last``
START, ATOM, BOND, OPEN, CLOSE, DONE = range(6)
N_CLASSES = 6

INF = 1 << 20


def tokenize(smiles: str) -> list[str]:
    """Split a SMILES string into tokens; raise ValueError naming any token outside :data:`VOCAB`."""
    tokens = TOKEN_PATTERN.findall(smiles)
    unknown = sorted({t for t in tokens if t not in TOKEN_ID})
    if unknown:
        raise ValueError(f"SMILES {smiles!r} has token(s) {unknown} outside the vocabulary {list(VOCAB)}")
    return tokens


def encode(smiles: str) -> list[int]:
    """Action ids of a SMILES string, end token included (no grammar check; see :func:`check_actions`)."""
    return [TOKEN_ID[t] for t in tokenize(smiles)] + [END]


def decode(actions: Sequence[int]) -> str:
    """SMILES string of a sequence of action ids (stops at the end token)."""
    out = []
    for a in actions:
        a = int(a)
        if a == END:
            break
        if not 0 <= a < END:
            raise ValueError(f"action {a} is outside [0, {END}]")
        out.append(VOCAB[a])
    return "".join(out)


# ------------------------------------------------------------------------------------------ state
def initial_state(n: int, max_length: int, max_depth: int) -> dict[str, np.ndarray]:
    """``n`` empty prefixes."""
    return {
        "tokens": np.full((n, max_length), -1, np.int8),
        "length": np.zeros(n, np.int16),
        "last": np.full(n, START, np.int8),
        "pending": np.zeros(n, np.int8),
        "cur": np.full(n, -1, np.int16),
        "n_atoms": np.zeros(n, np.int16),
        "free": np.zeros((n, max_length), np.int8),
        "parent": np.full((n, max_length), -1, np.int16),
        "ring_open": np.zeros((n, N_RING), bool),
        "ring_atom": np.full((n, N_RING), -1, np.int16),
        "closed_here": np.full((n, N_RING), -1, np.int16),
        "closed_digits": np.zeros((n, N_RING), bool),
        "depth": np.zeros(n, np.int8),
        "stack": np.full((n, max_depth), -1, np.int16),
    }


def _distinct(mask: np.ndarray, opener: np.ndarray) -> np.ndarray:
    """Per row, the number of distinct ``opener`` values among the ring slots selected by ``mask``."""
    same = opener[:, :, None] == opener[:, None, :]
    earlier = np.tri(N_RING, k=-1, dtype=bool)[None]  # [i, j] True for j < i
    dup = (same & mask[:, None, :] & earlier).any(axis=2)
    return (mask & ~dup).sum(axis=1)


def completion_cost(
    f: np.ndarray, n_open: np.ndarray, n_cur: np.ndarray, h: np.ndarray, beta_ok: np.ndarray, depth: np.ndarray
) -> np.ndarray:
    """Length (tokens, end token included) of a completion that is always legal, from an atom state.

    Arguments describe the state after any dangling ``(`` or bond symbol has received its atom: ``f`` is
    the free valence of the current atom, ``n_open`` the open rings, ``n_cur`` those opened at the current
    atom, ``h`` the number of distinct opener atoms among the rings that can be closed right here by a
    digit, ``beta_ok`` whether some open branch point still has free valence, ``depth`` the open branches.

    Two plans, the cheaper is taken:

    * alpha: close rings here (distinct openers, keeping one valence for a chain when rings remain), then
      hang a chain of new ``C`` atoms on the current atom, each closing one ring (a ring opened at the
      current atom cannot close on the chain's first atom, hence one more atom when only such rings
      remain);
    * beta: close what fits here, then pop branches up to a branch point with free valence and build the
      chain there (one spare atom is always counted).

    Then one ``)`` per open branch and the end token. Each plan's first step leaves a state whose cost is
    exactly one less, so "cost <= remaining length" is an invariant the masks can keep.
    """
    big = np.int64(INF)
    f = f.astype(np.int64)
    n_open = n_open.astype(np.int64)
    hh = np.minimum(h, np.maximum(f - 1, 0))
    m = n_open - hh
    chain = hh + m + np.where(m > n_cur, m, m + 1)
    alpha = np.where(
        n_open == 0, 0, np.where((h == n_open) & (f >= n_open), n_open, np.where(f >= 1, chain, big))
    )
    hb = np.minimum(h, np.maximum(f, 0))
    mb = n_open - hb
    beta = np.where(beta_ok, hb + np.where(mb > 0, 2 * mb + 1, 0), big)
    return np.minimum(alpha, beta) + depth.astype(np.int64) + 1


def legal_actions(state: dict[str, np.ndarray], max_length: int, aromatic: bool) -> np.ndarray:
    """Bool ``[N, N_ACTIONS]`` legal actions, vectorised over rows (all False on finished rows)."""
    n = len(state["length"])
    rows = np.arange(n)
    last = state["last"]
    cur = state["cur"].astype(np.int64)
    has_cur = cur >= 0
    safe_cur = np.maximum(cur, 0)
    free = state["free"]
    f = np.where(has_cur, free[rows, safe_cur], 0).astype(np.int64)
    p = np.where(has_cur, state["parent"][rows, safe_cur], -1)
    ring_open, opener = state["ring_open"], state["ring_atom"]
    n_open = ring_open.sum(axis=1)
    at_cur = ring_open & (opener == cur[:, None])
    n_cur = at_cur.sum(axis=1)
    in_closed = (opener[:, :, None] == state["closed_here"][:, None, :]).any(axis=2)
    closable = ring_open & ~at_cur & (opener != p[:, None]) & ~in_closed
    digits_ok = last == ATOM
    if aromatic:  # '-' directly after an atom or digit may precede a ring digit (RDKit writes 'c1-2')
        length = state["length"].astype(np.int64)
        prev = state["tokens"][rows, np.maximum(length - 2, 0)].astype(np.int64)
        prev_atomish = (length >= 2) & ((prev < N_ATOM) | ((prev >= RING0) & (prev < RING0 + N_RING)))
        digits_ok = digits_ok | ((last == BOND) & (state["pending"] == 1) & prev_atomish)
    h_here = np.where(digits_ok, _distinct(closable, opener), 0)
    h_new = _distinct(ring_open & ~at_cur, opener)  # closable from a new atom bonded to cur

    depth = state["depth"].astype(np.int64)
    stack = state["stack"].astype(np.int64)
    max_depth = stack.shape[1]
    level = np.arange(max_depth)[None, :]
    in_stack = level < depth[:, None]
    stack_free = np.where(in_stack, free[rows[:, None], np.maximum(stack, 0)], 0).astype(np.int64)
    top = np.where(depth > 0, stack[rows, np.maximum(depth - 1, 0)], -1)
    is_top = in_stack & (level == (depth - 1)[:, None])
    att_top = (depth > 0) & (cur == top)  # the next atom attaches to the innermost branch point
    beta_ok = (stack_free >= 1).any(axis=1)

    def beta_after(b: np.ndarray | int) -> np.ndarray:
        dec = np.where(is_top & att_top[:, None], b if np.isscalar(b) else np.asarray(b)[:, None], 0)
        return ((stack_free - dec) >= 1).any(axis=1)

    budget = max_length - state["length"].astype(np.int64)  # tokens left, end token included in the cost
    mask = np.zeros((n, N_ACTIONS), dtype=bool)
    live = last != DONE
    zero = np.zeros(n, np.int64)

    # atoms: incoming bond order b (0 at the start, the pending order after a bond symbol, else 1)
    b = np.where(last == START, 0, np.where(last == BOND, state["pending"], 1)).astype(np.int64)
    can_attach = live & ((last == START) | (f >= b))
    beta_b = beta_after(b)
    for a in range(N_ATOM):
        if AROMATIC_ATOMS[a] and not aromatic:
            continue
        v = int(VALENCE[a])
        cost = completion_cost(v - b, n_open, zero, h_new, beta_b, depth)
        mask[:, a] = can_attach & (v >= b) & (cost <= budget)

    # bond symbols: only after an atom/digit, '(' or ')'; the completion writes a C after it
    after_atomish = live & ((last == ATOM) | (last == CLOSE) | (last == OPEN))
    for k in (1, 2, 3):
        if k == 1 and not aromatic:
            continue
        cost = 1 + completion_cost(np.full(n, 4 - k), n_open, zero, h_new, beta_after(k), depth)
        mask[:, BOND0 + k - 1] = after_atomish & (f >= k) & (cost <= budget)

    atom_or_close = live & ((last == ATOM) | (last == CLOSE))
    # '(' : push cur; the completion writes C inside and ')' later
    cost = 1 + completion_cost(np.full(n, 3), n_open, zero, h_new, beta_ok | (f - 1 >= 1), depth + 1)
    mask[:, OPEN_TOK] = atom_or_close & (depth < max_depth) & (f >= 1) & (cost <= budget)

    # ')' : back to the branch point (no ring digit may follow)
    top_free = np.where(depth > 0, free[rows, np.maximum(top, 0)], 0).astype(np.int64)
    n_top = (ring_open & (opener == top[:, None])).sum(axis=1)
    beta_below = ((stack_free >= 1) & in_stack & ~is_top).any(axis=1)
    cost = completion_cost(top_free, n_open, n_top, zero, beta_below, depth - 1)
    mask[:, CLOSE_TOK] = atom_or_close & (depth > 0) & (cost <= budget)

    # ring digits: close an open ring, or open the lowest free digit
    can_digit = live & digits_ok & (f >= 1)
    cost_close = completion_cost(f - 1, n_open - 1, n_cur, h_here - 1, beta_ok, depth)
    mask[:, RING0 : RING0 + N_RING] = closable & (can_digit & (cost_close <= budget))[:, None]
    lowest = np.argmax(~ring_open & ~state["closed_digits"], axis=1)  # never reuse a digit closed here
    cost_open = completion_cost(f - 1, n_open + 1, n_cur + 1, h_here, beta_ok, depth)
    opening = can_digit & (~ring_open & ~state["closed_digits"]).any(axis=1) & (cost_open <= budget)
    mask[rows[opening], RING0 + lowest[opening]] = True

    mask[:, END] = atom_or_close & (depth == 0) & (n_open == 0)
    return mask


def apply(state: dict[str, np.ndarray], actions: np.ndarray) -> np.ndarray:
    """Apply legal ``actions`` in place (vectorised by token class); return bool ``[N]``: ended rows."""
    actions = np.asarray(actions, dtype=np.int64)
    n = len(actions)
    rows = np.arange(n)
    end = actions == END
    state["last"][end] = DONE
    w = rows[~end]
    if len(w) == 0:
        return end
    a = actions[w]
    state["tokens"][w, state["length"][w]] = a
    state["length"][w] += 1
    last = state["last"]
    cur = state["cur"]

    sel = a < N_ATOM
    if sel.any():
        r, t = w[sel], a[sel]
        b = np.where(last[r] == START, 0, np.where(last[r] == BOND, state["pending"][r], 1))
        x = state["n_atoms"][r].astype(np.int64)
        c = cur[r].astype(np.int64)
        state["free"][r, x] = VALENCE[t] - b
        state["parent"][r, x] = c
        hc = c >= 0
        state["free"][r[hc], c[hc]] -= b[hc].astype(np.int8)
        cur[r] = x
        state["n_atoms"][r] += 1
        state["closed_here"][r] = -1
        state["closed_digits"][r] = False
        last[r] = ATOM
        state["pending"][r] = 0

    sel = (a >= BOND0) & (a < BOND0 + 3)
    if sel.any():
        r = w[sel]
        state["pending"][r] = a[sel] - BOND0 + 1
        last[r] = BOND

    sel = a == OPEN_TOK
    if sel.any():
        r = w[sel]
        state["stack"][r, state["depth"][r]] = cur[r]
        state["depth"][r] += 1
        last[r] = OPEN

    sel = a == CLOSE_TOK
    if sel.any():
        r = w[sel]
        state["depth"][r] -= 1
        cur[r] = state["stack"][r, state["depth"][r]]
        state["stack"][r, state["depth"][r]] = -1
        state["closed_here"][r] = -1
        state["closed_digits"][r] = False
        last[r] = CLOSE

    sel = (a >= RING0) & (a < RING0 + N_RING)
    if sel.any():
        r, d = w[sel], a[sel] - RING0
        c = cur[r].astype(np.int64)
        state["free"][r, c] -= 1
        closing = state["ring_open"][r, d]
        rc, dc = r[closing], d[closing]
        slot = (state["closed_here"][rc] >= 0).sum(axis=1)
        state["closed_here"][rc, slot] = state["ring_atom"][rc, dc]
        state["ring_open"][rc, dc] = False
        state["closed_digits"][rc, dc] = True
        state["ring_atom"][rc, dc] = -1
        ro, do = r[~closing], d[~closing]
        state["ring_open"][ro, do] = True
        state["ring_atom"][ro, do] = cur[ro]
        last[r] = ATOM
        state["pending"][r] = 0
    return end


def smiles_strings(state: dict[str, np.ndarray]) -> list[str]:
    """The SMILES prefix written in each row."""
    out = []
    for row, n in zip(state["tokens"], state["length"], strict=True):
        out.append("".join(VOCAB[t] for t in row[: int(n)]))
    return out


def first_illegal(
    sequences: Sequence[Sequence[int]], max_length: int = 60, aromatic: bool = False, max_depth: int = 8
) -> np.ndarray:
    """Replay action sequences (batched) under the masks; per sequence, the index of the first masked action.

    -1 means every action was legal and the sequence ended with the end token; ``len(seq)`` means it was
    legal but did not end. Use it to check that training SMILES (after :func:`encode`) are writable in the
    env, e.g. ``first_illegal([encode(s) for s in smiles])``.
    """
    n = len(sequences)
    result = np.full(n, -2, dtype=np.int64)
    if n == 0:
        return result
    width = max(len(q) for q in sequences)
    acts = np.full((n, width), -1, dtype=np.int64)
    for i, q in enumerate(sequences):
        acts[i, : len(q)] = np.asarray(q, dtype=np.int64)
    state = initial_state(n, max_length, max_depth)
    alive = np.ones(n, dtype=bool)
    for t in range(width):
        rows = np.flatnonzero(alive)
        if len(rows) == 0:
            break
        a = acts[rows, t]
        ran_out = a < 0
        result[rows[ran_out]] = t
        alive[rows[ran_out]] = False
        rows, a = rows[~ran_out], a[~ran_out]
        sub = {k: v[rows] for k, v in state.items()}
        mask = legal_actions(sub, max_length, aromatic)
        ok = (a < N_ACTIONS) & mask[np.arange(len(rows)), np.clip(a, 0, N_ACTIONS - 1)]
        result[rows[~ok]] = t
        alive[rows[~ok]] = False
        keep = np.flatnonzero(ok)
        sub = {k: v[keep] for k, v in sub.items()}
        ended = apply(sub, a[keep])
        for k, v in sub.items():
            state[k][rows[keep]] = v
        result[rows[keep][ended]] = -1
        alive[rows[keep][ended]] = False
    result[alive] = width
    return result
