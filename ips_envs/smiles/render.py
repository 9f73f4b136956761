"""SMILES renderings of a single row: ANSI text and an rgb_array picture.

The kernel (:mod:`ips_envs.smiles.kernel`) calls these with its grammar state (row 0 is drawn); they read the
written tokens and the grammar's bookkeeping (open rings and branches, free valence), and RDKit for the
canonical form and the molecule picture.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

import ips_envs.smiles.grammar as G
from ips_envs.core import raster
from ips_envs.core.kernel import State
from ips_envs.smiles.scoring import mol_from_smiles


def _describe(state: State, length_cap: int) -> tuple[str, str]:
    """Row 0's raw string and a line on its length, open branches and rings and the current atom's valence."""
    raw = G.smiles_strings(state)[0]
    opened = [G.RING_TOKENS[d] for d in np.flatnonzero(state["ring_open"][0])]
    cur = int(state["cur"][0])
    free = int(state["free"][0, cur]) if cur >= 0 else 0
    info = (f"length {int(state['length'][0])}/{length_cap}, open branches {int(state['depth'][0])}, "
            f"open rings {opened or 'none'}, free valence of the current atom {free}")
    return raw, info


def render_ansi(state: State, oracle_name: str, length_cap: int) -> str:
    """Text picture of row 0: the string so far, the grammar's bookkeeping and, once ended, the canonical form."""
    raw, info = _describe(state, length_cap)
    lines = [f"SMILES (oracle {oracle_name}): {raw or '(empty)'}", info]
    if int(state["last"][0]) == G.DONE:
        mol = mol_from_smiles(raw)
        lines.append(f"canonical: {Chem.MolToSmiles(mol)}" if mol is not None else "invalid (RDKit rejects it)")
    return "\n".join(lines) + "\n"


def render_rgb(state: State, length_cap: int) -> np.ndarray:
    """RGB picture of row 0: RDKit's drawing of the molecule (when the string parses) above one coloured block
    per written token (atoms blue, bonds orange, parentheses green, ring digits red)."""
    size, cell, per_row = 240, 12, 20
    n_rows = -(-length_cap // per_row)
    img = raster.canvas(size + n_rows * cell + 4, size)
    raw = G.smiles_strings(state)[0]
    mol = mol_from_smiles(raw) if raw else None
    if mol is not None:
        try:
            from rdkit.Chem import Draw

            pic = np.asarray(Draw.MolToImage(mol, size=(size, size)).convert("RGB"), dtype=np.uint8)
            img[:size, :size] = pic[:size, :size]
        except Exception:  # pragma: no cover - drawing backend missing
            pass
    colors = {G.ATOM: raster.BLUE, G.BOND: raster.ORANGE, G.OPEN: raster.GREEN, G.CLOSE: raster.GREEN}
    for i, t in enumerate(state["tokens"][0][: int(state["length"][0])]):
        t = int(t)
        kind = G.ATOM if t < G.N_ATOM else G.BOND if t < G.OPEN_TOK else G.OPEN if t <= G.CLOSE_TOK else -1
        color = colors.get(kind, raster.RED)
        r, c = divmod(i, per_row)
        raster.fill(img, size + 2 + r * cell, c * cell, cell - 1, cell - 1, color)
    return img
