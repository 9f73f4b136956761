"""Molecule scoring functions ("oracles") computable offline with RDKit, and the RDKit helpers they share.

Every oracle maps a SMILES string to a float in [0, 1] and returns 0.0 for a string RDKit cannot parse.
The PMO benchmark (Gao et al. 2022) tasks are re-implemented here from the formulas of TDC's
``tdc/chem_utils/oracle/oracle.py`` and guacamol's ``standard_benchmarks.py`` (no code copied):

* fingerprints are RDKit's count-based, unfolded fingerprints, as TDC/guacamol use them: ECFP4 = Morgan
  radius 2, ECFP6 = radius 3, FCFP4 = radius 2 with feature invariants, AP = atom pairs up to distance 10
  (generated with ``rdFingerprintGenerator`` sparse count fingerprints, which give the same Tanimoto values
  as the legacy ``GetMorganFingerprint`` / ``GetAtomPairFingerprint`` calls: checked here);
* modifiers: ``clipped(x, upper)`` = ``clip(x / upper, 0, 1)``; ``gaussian(x, mu, s)`` =
  ``exp(-((x - mu) / s)^2 / 2)``; ``min_gaussian`` is 1 below ``mu`` (penalises larger values),
  ``max_gaussian`` is 1 above ``mu`` (penalises smaller values);
* multi-property objectives are geometric means, except ``deco_hop`` and ``scaffold_hop`` (arithmetic
  means, as in TDC).

Known deviations / uncertain details (stated again in each docstring):

* isomer scores: element counts (H included, via implicit hydrogens) each scored with
  ``gaussian(count, target, 1)`` and the total atom count (H included) with ``gaussian(n, total, 2)``,
  geometric mean: guacamol's ``IsomerScoringFunction``. TDC's ``Isomer_scoring`` computes the total from a
  regular expression run over the *SMILES string* (its code says "todo add Hs"), so TDC's numbers differ
  for most molecules; ours give exactly 1.0 for every molecule with the target formula.
* ``zaleplon_mpo`` and ``sitagliptin_mpo`` use the same (guacamol) isomer score.
* ``SA`` is RDKit Contrib's ``sascorer`` (Ertl & Schuffenhauer 2009), normalised as in TDC/PMO-style
  reward use: ``(10 - sa) / 9``.

``drug_mpo`` is this project's own offline drug-likeness objective (not a PMO task): the geometric mean of
QED, a hydrogen-bond-donor term (1 for 0..3 donors, then ``min_gaussian(n, 3, 1)``: 0.61 for 4, 0.14 for 5),
SA synthesizability ``(10 - sa) / 9`` and ``clipped(tanimoto_ECFP4(x, target), 0.7)`` similarity to a
target (celecoxib by default). Build variants with :func:`make_drug_mpo`.

:data:`ORACLES` names every scoring function; the budgeted, caching wrapper that the env and the agents call
is :class:`ips_envs.smiles.oracle.Oracle`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs, RDConfig, rdBase
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

ScoreFn = Callable[[str], float]
"""A scoring function: SMILES -> float in [0, 1]."""

# ------------------------------------------------------------------------------------- target SMILES
CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
ALBUTEROL = "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"
MESTRANOL = "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1"
CAMPHOR = "CC1(C)C2CCC1(C)C(=O)C2"
MENTHOL = "CC(C)C1CCC(C)CC1O"
TADALAFIL = "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C"
SILDENAFIL = "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
AMLODIPINE = "Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\\C(=O)OC"
SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"
VALSARTAN_SMARTS = "CN(C=O)Cc1ccc(c2ccccc2)cc1"
HOP_PHARMACOPHORE = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"


# ------------------------------------------------------------------------------------------ helpers
def mol_from_smiles(smiles: str) -> Chem.Mol | None:
    """RDKit molecule of the *whole* string, or None when it does not parse or sanitise (RDKit's log silenced).

    RDKit reads a SMILES up to the first whitespace and takes the rest as the molecule's name, so
    ``"CCO garbage"`` would be ethanol, and it stops at other characters outside the SMILES alphabet too
    (``"Cé"`` would be methane). SMILES are printable ASCII without spaces (``!`` to ``~``): a string with any
    other character (whitespace, control, non-ASCII) is invalid here.
    """
    if not isinstance(smiles, str) or not smiles or not all("!" <= c <= "~" for c in smiles):
        return None
    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(smiles)


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES, or None for an invalid string."""
    mol = mol_from_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def clipped(x: float, upper: float) -> float:
    """guacamol's ClippedScoreModifier with lower_x = 0: ``clip(x / upper, 0, 1)``."""
    return float(min(max(x / upper, 0.0), 1.0))


def gaussian(x: float, mu: float, sigma: float) -> float:
    """``exp(-0.5 ((x - mu) / sigma)^2)``."""
    return float(math.exp(-0.5 * ((x - mu) / sigma) ** 2))


def min_gaussian(x: float, mu: float, sigma: float) -> float:
    """1 for ``x <= mu``, Gaussian decay above (guacamol's MinGaussianModifier)."""
    return gaussian(max(x, mu), mu, sigma)


def max_gaussian(x: float, mu: float, sigma: float) -> float:
    """1 for ``x >= mu``, Gaussian decay below (guacamol's MaxGaussianModifier)."""
    return gaussian(min(x, mu), mu, sigma)


def geometric_mean(values: Iterable[float]) -> float:
    """Geometric mean; 0 as soon as one value is 0."""
    vals = [float(v) for v in values]
    if any(v <= 0.0 for v in vals):
        return 0.0
    return float(math.exp(sum(math.log(v) for v in vals) / len(vals)))


_GENERATORS: dict[str, Any] = {}


def _generator(kind: str) -> Any:
    if kind not in _GENERATORS:
        g = rdFingerprintGenerator
        _GENERATORS[kind] = {
            "ECFP4": lambda: g.GetMorganGenerator(radius=2),
            "ECFP6": lambda: g.GetMorganGenerator(radius=3),
            "FCFP4": lambda: g.GetMorganGenerator(radius=2, atomInvariantsGenerator=g.GetMorganFeatureAtomInvGen()),
            "AP": lambda: g.GetAtomPairGenerator(maxDistance=10),
        }[kind]()
    return _GENERATORS[kind]


FP_TYPES = ("ECFP4", "ECFP6", "FCFP4", "AP")


def fingerprint(mol: Chem.Mol, kind: str) -> Any:
    """Count-based unfolded fingerprint ``kind`` in {ECFP4, ECFP6, FCFP4, AP} (TDC/guacamol's choice)."""
    if kind not in FP_TYPES:
        raise ValueError(f"fingerprint kind must be one of {list(FP_TYPES)}, got {kind!r}")
    return _generator(kind).GetSparseCountFingerprint(mol)


@lru_cache(maxsize=64)
def _target_fp(smiles: str, kind: str) -> Any:
    mol = mol_from_smiles(smiles)
    if mol is None:
        raise ValueError(f"target SMILES {smiles!r} does not parse")
    return fingerprint(mol, kind)


def tanimoto(mol: Chem.Mol, target: str, kind: str) -> float:
    """Tanimoto similarity of ``mol`` to the ``target`` SMILES on fingerprint ``kind``."""
    return float(DataStructs.TanimotoSimilarity(fingerprint(mol, kind), _target_fp(target, kind)))


def _sascorer() -> Any:
    try:
        from rdkit.Contrib.SA_Score import sascorer  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - wheels without the namespace package
        path = os.path.join(RDConfig.RDContribDir, "SA_Score")
        if path not in sys.path:
            sys.path.append(path)
        import sascorer  # type: ignore[import-not-found,no-redef]
    return sascorer


def sa_raw(mol: Chem.Mol) -> float:
    """Synthetic accessibility score of Ertl & Schuffenhauer (1 easy .. 10 hard), RDKit Contrib."""
    return float(_sascorer().calculateScore(mol))


def atom_counts(mol: Chem.Mol) -> dict[str, int]:
    """Element symbol -> count, hydrogens included (implicit and explicit)."""
    counts: dict[str, int] = {}
    for atom in mol.GetAtoms():
        sym = atom.GetSymbol()
        counts[sym] = counts.get(sym, 0) + 1
        h = atom.GetTotalNumHs()
        if h:
            counts["H"] = counts.get("H", 0) + h
    return counts


def parse_formula(formula: str) -> dict[str, int]:
    """``"C7H8N2O2"`` -> ``{"C": 7, "H": 8, "N": 2, "O": 2}``; raise ValueError on anything else."""
    import re

    parts = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    if not parts or "".join(e + n for e, n in parts) != formula:
        raise ValueError(f"molecular formula {formula!r} is not of the form 'C7H8N2O2'")
    out: dict[str, int] = {}
    for element, n in parts:
        out[element] = out.get(element, 0) + (int(n) if n else 1)
    return out


MAX_HEAVY_ATOMS = 60
"""Largest molecule (heavy atoms) an oracle scores; larger ones get reward 0.0 without being scored.

Some scores grow steeply with size (the Gobbi pharmacophore fingerprint of ``deco_hop`` / ``scaffold_hop``
takes seconds on a 100-atom chain, the atom-pair fingerprint of ``fexofenadine_mpo`` minutes on 5,000
atoms). 60 is well above drug-like molecules (MOSES at most 27 heavy atoms, ZINC250k 38, the PMO targets 35)
and the longest molecule ``IPS/SMILES-v0`` writes with its default ``max_length`` (60 tokens).
:class:`~ips_envs.smiles.oracle.Oracle` reports such molecules with the flag ``"too_large"``
(``info["too_large"]`` in the env).
"""


def too_large(mol: Chem.Mol, max_atoms: int | None = MAX_HEAVY_ATOMS) -> bool:
    """Whether ``mol`` has more than ``max_atoms`` heavy atoms (never, for ``max_atoms=None``)."""
    return max_atoms is not None and mol.GetNumHeavyAtoms() > max_atoms


class SmilesScore:
    """A SMILES -> float in [0, 1] scoring function from a molecule score.

    0.0 for invalid strings and for molecules above :data:`MAX_HEAVY_ATOMS` heavy atoms (not scored).

    A plain object (module-level ``score_mol``, or a :func:`functools.partial` of one), so oracles and the
    envs holding them pickle with the standard :mod:`pickle` (subprocess and Ray workers need that).
    """

    def __init__(self, score_mol: Callable[[Chem.Mol], float], name: str | None = None, doc: str | None = None):
        self.score_mol = score_mol
        self.__name__ = name or getattr(score_mol, "__name__", "oracle").lstrip("_")
        self.__doc__ = doc or score_mol.__doc__

    def __call__(self, smiles: str) -> float:
        mol = mol_from_smiles(smiles)
        if mol is None or too_large(mol):
            return 0.0
        return float(min(max(self.score_mol(mol), 0.0), 1.0))

    def __repr__(self) -> str:
        return f"SmilesScore({self.__name__!r})"


def _wrap(score: Callable[[Chem.Mol], float], name: str | None = None, doc: str | None = None) -> ScoreFn:
    """SMILES -> float in [0, 1]; 0.0 for invalid strings and molecules above :data:`MAX_HEAVY_ATOMS`."""
    return SmilesScore(score, name, doc)


# ----------------------------------------------------------------------------------------- oracles
def _qed(mol: Chem.Mol) -> float:
    """QED drug-likeness (Bickerton et al. 2012), RDKit's implementation, in [0, 1]."""
    return QED.qed(mol)


def _sa(mol: Chem.Mol) -> float:
    """Normalised synthetic accessibility ``(10 - SA) / 9``: 1 = easiest, 0 = hardest."""
    return (10.0 - sa_raw(mol)) / 9.0


def make_rediscovery(target: str, fp: str = "ECFP4") -> ScoreFn:
    """Tanimoto similarity to ``target`` (PMO rediscovery: ECFP4 counts, no modifier)."""
    return _wrap(partial(tanimoto, target=target, kind=fp), "rediscovery", f"Tanimoto ({fp}) similarity to {target}.")


def _similarity(mol: Chem.Mol, target: str, fp: str, upper: float) -> float:
    return clipped(tanimoto(mol, target, fp), upper)


def make_similarity(target: str, fp: str, upper: float = 0.75) -> ScoreFn:
    """``clipped(tanimoto, upper)`` similarity to ``target`` (PMO similarity tasks: upper 0.75)."""
    return _wrap(partial(_similarity, target=target, fp=fp, upper=upper), "similarity",
                 f"clip(Tanimoto_{fp}(x, {target}) / {upper}, 0, 1).")


def isomer_score(mol: Chem.Mol, formula: dict[str, int]) -> float:
    """guacamol isomer score: geometric mean of gaussian(count_e, n_e, 1) per element and
    gaussian(total atoms incl. H, total, 2). Exactly 1.0 for any molecule with that formula."""
    counts = atom_counts(mol)
    terms = [gaussian(counts.get(e, 0), n, 1.0) for e, n in formula.items()]
    terms.append(gaussian(sum(counts.values()), sum(formula.values()), 2.0))
    return geometric_mean(terms)


def make_isomer(formula: str) -> ScoreFn:
    """Isomer objective for a molecular formula (guacamol definition; TDC's differs, see module doc)."""
    return _wrap(partial(isomer_score, formula=parse_formula(formula)), "isomers",
                 f"Isomer score for {formula} (1.0 exactly for that formula).")


def _median1(mol: Chem.Mol) -> float:
    """Geometric mean of ECFP4 similarities to camphor and menthol (PMO median1)."""
    return geometric_mean([tanimoto(mol, CAMPHOR, "ECFP4"), tanimoto(mol, MENTHOL, "ECFP4")])


def _median2(mol: Chem.Mol) -> float:
    """Geometric mean of ECFP6 similarities to tadalafil and sildenafil (PMO median2)."""
    return geometric_mean([tanimoto(mol, TADALAFIL, "ECFP6"), tanimoto(mol, SILDENAFIL, "ECFP6")])


def _tpsa(mol: Chem.Mol) -> float:
    return float(rdMolDescriptors.CalcTPSA(mol))


def _logp(mol: Chem.Mol) -> float:
    return float(Crippen.MolLogP(mol))


def _osimertinib_mpo(mol: Chem.Mol) -> float:
    """gmean(clipped(FCFP4 sim, 0.8), min_gaussian(ECFP6 sim, 0.85, 0.1), max_gaussian(TPSA, 100, 10),
    min_gaussian(logP, 1, 1)) to osimertinib."""
    return geometric_mean([
        clipped(tanimoto(mol, OSIMERTINIB, "FCFP4"), 0.8),
        min_gaussian(tanimoto(mol, OSIMERTINIB, "ECFP6"), 0.85, 0.1),
        max_gaussian(_tpsa(mol), 100.0, 10.0),
        min_gaussian(_logp(mol), 1.0, 1.0),
    ])


def _fexofenadine_mpo(mol: Chem.Mol) -> float:
    """gmean(clipped(AP sim, 0.8), max_gaussian(TPSA, 90, 10), min_gaussian(logP, 4, 1)) to fexofenadine."""
    return geometric_mean([
        clipped(tanimoto(mol, FEXOFENADINE, "AP"), 0.8),
        max_gaussian(_tpsa(mol), 90.0, 10.0),
        min_gaussian(_logp(mol), 4.0, 1.0),
    ])


def _ranolazine_mpo(mol: Chem.Mol) -> float:
    """gmean(clipped(AP sim, 0.7), max_gaussian(TPSA, 95, 20), max_gaussian(logP, 7, 1),
    gaussian(#F, 1, 1)) to ranolazine (TDC's version; guacamol's older one used aromatic rings instead
    of TPSA)."""
    n_f = sum(1 for a in mol.GetAtoms() if a.GetSymbol() == "F")
    return geometric_mean([
        clipped(tanimoto(mol, RANOLAZINE, "AP"), 0.7),
        max_gaussian(_tpsa(mol), 95.0, 20.0),
        max_gaussian(_logp(mol), 7.0, 1.0),
        gaussian(n_f, 1.0, 1.0),
    ])


def _perindopril_mpo(mol: Chem.Mol) -> float:
    """gmean(ECFP4 sim to perindopril, gaussian(#aromatic rings, 2, 0.5))."""
    return geometric_mean([
        tanimoto(mol, PERINDOPRIL, "ECFP4"),
        gaussian(rdMolDescriptors.CalcNumAromaticRings(mol), 2.0, 0.5),
    ])


def _amlodipine_mpo(mol: Chem.Mol) -> float:
    """gmean(ECFP4 sim to amlodipine, gaussian(#rings, 3, 0.5))."""
    return geometric_mean([
        tanimoto(mol, AMLODIPINE, "ECFP4"),
        gaussian(rdMolDescriptors.CalcNumRings(mol), 3.0, 0.5),
    ])


@lru_cache(maxsize=1)
def _sitagliptin_props() -> tuple[float, float, float]:
    mol = mol_from_smiles(SITAGLIPTIN)
    assert mol is not None
    return _logp(mol), _tpsa(mol), float(Descriptors.BertzCT(mol))


_C16H15F6N5O = parse_formula("C16H15F6N5O")
_C19H17N3O2 = parse_formula("C19H17N3O2")


def _sitagliptin_mpo(mol: Chem.Mol) -> float:
    """gmean(gaussian(ECFP4 sim to sitagliptin, 0, 0.1), gaussian(logP, sitagliptin's, 0.2),
    gaussian(TPSA, sitagliptin's, 5), isomer score C16H15F6N5O): sitagliptin's properties and formula
    with a different structure. The isomer term uses the guacamol definition (see module doc)."""
    logp, tpsa, _ = _sitagliptin_props()
    return geometric_mean([
        gaussian(tanimoto(mol, SITAGLIPTIN, "ECFP4"), 0.0, 0.1),
        gaussian(_logp(mol), logp, 0.2),
        gaussian(_tpsa(mol), tpsa, 5.0),
        isomer_score(mol, _C16H15F6N5O),
    ])


def _zaleplon_mpo(mol: Chem.Mol) -> float:
    """gmean(ECFP4 sim to zaleplon, isomer score C19H17N3O2) (guacamol isomer definition)."""
    return geometric_mean([tanimoto(mol, ZALEPLON, "ECFP4"), isomer_score(mol, _C19H17N3O2)])


@lru_cache(maxsize=8)
def _smarts(pattern: str) -> Chem.Mol:
    patt = Chem.MolFromSmarts(pattern)
    if patt is None:
        raise ValueError(f"SMARTS {pattern!r} does not parse")
    return patt


def _has(mol: Chem.Mol, pattern: str) -> float:
    return 1.0 if mol.HasSubstructMatch(_smarts(pattern)) else 0.0


def _valsartan_smarts(mol: Chem.Mol) -> float:
    """gmean(1[contains CN(C=O)Cc1ccc(c2ccccc2)cc1 as SMARTS], gaussian(TPSA, sitagliptin's, 5),
    gaussian(logP, sitagliptin's, 0.2), gaussian(BertzCT, sitagliptin's, 30)) (PMO valsartan_smarts)."""
    logp, tpsa, bertz = _sitagliptin_props()
    return geometric_mean([
        _has(mol, VALSARTAN_SMARTS),
        gaussian(_tpsa(mol), tpsa, 5.0),
        gaussian(_logp(mol), logp, 0.2),
        gaussian(float(Descriptors.BertzCT(mol)), bertz, 30.0),
    ])


def _pharmacophore_fp(mol: Chem.Mol) -> Any:
    from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

    return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)


@lru_cache(maxsize=1)
def _hop_target_fp() -> Any:
    mol = mol_from_smiles(HOP_PHARMACOPHORE)
    assert mol is not None
    return _pharmacophore_fp(mol)


_HOP_CORE = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"


def _pharm_sim(mol: Chem.Mol) -> float:
    return float(DataStructs.TanimotoSimilarity(_pharmacophore_fp(mol), _hop_target_fp()))


def _deco_hop(mol: Chem.Mol) -> float:
    """mean(clipped(Gobbi 2D pharmacophore sim, 0.85), no CS([#6])(=O)=O, no [#7]-c1ccc2ncsc2c1,
    keeps the quinazoline core SMARTS) (PMO deco_hop, arithmetic mean as in TDC)."""
    return float(np.mean([
        clipped(_pharm_sim(mol), 0.85),
        1.0 - _has(mol, "CS([#6])(=O)=O"),
        1.0 - _has(mol, "[#7]-c1ccc2ncsc2c1"),
        _has(mol, _HOP_CORE),
    ]))


def _scaffold_hop(mol: Chem.Mol) -> float:
    """mean(clipped(Gobbi 2D pharmacophore sim, 0.75), keeps the decoration SMARTS, leaves the quinazoline
    core SMARTS) (PMO scaffold_hop, arithmetic mean as in TDC)."""
    return float(np.mean([
        clipped(_pharm_sim(mol), 0.75),
        _has(mol, "[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
        1.0 - _has(mol, _HOP_CORE),
    ]))


def make_drug_mpo(
    target: str = CELECOXIB, similarity_upper: float = 0.7, max_donors: int = 3, fp: str = "ECFP4"
) -> ScoreFn:
    """This project's offline drug-likeness objective, the geometric mean of four terms:

    * QED;
    * donors: 1 for at most ``max_donors`` H-bond donors (RDKit ``CalcNumHBD``), then
      ``min_gaussian(n, max_donors, 1)`` (0.61 at one donor too many, 0.14 at two);
    * synthesizability: ``(10 - SA) / 9``;
    * similarity: ``clipped(tanimoto_fp(x, target), similarity_upper)`` (ECFP4 counts; full score from
      Tanimoto 0.7 to ``target``, celecoxib by default).
    """
    if not 0 < similarity_upper <= 1:
        raise ValueError(f"similarity_upper must be in (0, 1], got {similarity_upper!r}")
    if mol_from_smiles(target) is None:
        raise ValueError(f"target SMILES {target!r} does not parse")

    score = partial(_drug_mpo, target=target, similarity_upper=similarity_upper, max_donors=max_donors, fp=fp)
    return _wrap(score, "drug_mpo", make_drug_mpo.__doc__)


def _drug_mpo(mol: Chem.Mol, target: str, similarity_upper: float, max_donors: int, fp: str) -> float:
    donors = rdMolDescriptors.CalcNumHBD(mol)
    return geometric_mean([
        QED.qed(mol),
        min_gaussian(donors, max_donors, 1.0),
        (10.0 - sa_raw(mol)) / 9.0,
        clipped(tanimoto(mol, target, fp), similarity_upper),
    ])


ORACLES: dict[str, ScoreFn] = {
    "qed": _wrap(_qed),
    "sa": _wrap(_sa),
    "celecoxib_rediscovery": make_rediscovery(CELECOXIB),
    "troglitazone_rediscovery": make_rediscovery(TROGLITAZONE),
    "thiothixene_rediscovery": make_rediscovery(THIOTHIXENE),
    "albuterol_similarity": make_similarity(ALBUTEROL, "FCFP4", 0.75),
    "mestranol_similarity": make_similarity(MESTRANOL, "AP", 0.75),
    "isomers_c7h8n2o2": make_isomer("C7H8N2O2"),
    "isomers_c9h10n2o2pf2cl": make_isomer("C9H10N2O2PF2Cl"),
    "median1": _wrap(_median1),
    "median2": _wrap(_median2),
    "osimertinib_mpo": _wrap(_osimertinib_mpo),
    "fexofenadine_mpo": _wrap(_fexofenadine_mpo),
    "ranolazine_mpo": _wrap(_ranolazine_mpo),
    "perindopril_mpo": _wrap(_perindopril_mpo),
    "amlodipine_mpo": _wrap(_amlodipine_mpo),
    "sitagliptin_mpo": _wrap(_sitagliptin_mpo),
    "zaleplon_mpo": _wrap(_zaleplon_mpo),
    "valsartan_smarts": _wrap(_valsartan_smarts),
    "deco_hop": _wrap(_deco_hop),
    "scaffold_hop": _wrap(_scaffold_hop),
    "drug_mpo": make_drug_mpo(),
}
"""Name -> SMILES scoring function in [0, 1] (0.0 for invalid SMILES)."""


def get_oracle(name: str) -> ScoreFn:
    """The scoring function registered as ``name``; ValueError listing the valid names otherwise."""
    if name not in ORACLES:
        raise ValueError(f"unknown oracle {name!r}; valid names are {sorted(ORACLES)}")
    return ORACLES[name]
