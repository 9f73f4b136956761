"""Oracles: values on reference molecules, modifiers, registry, and the budgeted caching wrapper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen, rdMolDescriptors

import ips_envs.smiles.scoring as O
from ips_envs.smiles.oracle import Oracle, OracleBudgetExhausted, OracleCall
from ips_envs.smiles.scoring import ORACLES, get_oracle

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
PMO_OFFLINE = {
    "qed", "celecoxib_rediscovery", "troglitazone_rediscovery", "thiothixene_rediscovery",
    "albuterol_similarity", "mestranol_similarity", "isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl",
    "median1", "median2", "osimertinib_mpo", "fexofenadine_mpo", "ranolazine_mpo", "perindopril_mpo",
    "amlodipine_mpo", "sitagliptin_mpo", "zaleplon_mpo", "valsartan_smarts", "deco_hop", "scaffold_hop",
}


def _mol(s: str) -> Chem.Mol:
    return Chem.MolFromSmiles(s)


def test_registry_holds_the_offline_pmo_tasks_plus_sa_and_drug_mpo():
    assert set(ORACLES) == PMO_OFFLINE | {"sa", "drug_mpo"}
    assert get_oracle("qed") is ORACLES["qed"]
    with pytest.raises(ValueError, match=r"unknown oracle 'drd2'; valid names are \[.*'qed'"):
        get_oracle("drd2")


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_every_oracle_is_in_unit_interval_and_zero_on_invalid(name):
    fn = ORACLES[name]
    for s in (ASPIRIN, O.CELECOXIB, "CCO", "C", O.MESTRANOL):
        v = fn(s)
        assert isinstance(v, float) and 0.0 <= v <= 1.0
    assert fn("C1CC") == 0.0 and fn("not a smiles") == 0.0 and fn("") == 0.0


def test_qed_and_sa_reference_values():
    assert ORACLES["qed"](ASPIRIN) == pytest.approx(0.55, abs=0.01)
    assert O.sa_raw(_mol(O.CELECOXIB)) == pytest.approx(2.144, abs=1e-3)
    assert ORACLES["sa"](O.CELECOXIB) == pytest.approx((10 - 2.144357) / 9, abs=1e-5)


@pytest.mark.parametrize(
    "name, target",
    [
        ("celecoxib_rediscovery", O.CELECOXIB),
        ("troglitazone_rediscovery", O.TROGLITAZONE),
        ("thiothixene_rediscovery", O.THIOTHIXENE),
        ("albuterol_similarity", O.ALBUTEROL),
        ("mestranol_similarity", O.MESTRANOL),
    ],
)
def test_rediscovery_and_similarity_of_the_target_is_one(name, target):
    assert ORACLES[name](target) == pytest.approx(1.0)
    # any SMILES spelling of the target, e.g. RDKit's canonical one, scores the same
    assert ORACLES[name](Chem.MolToSmiles(_mol(target))) == pytest.approx(1.0)
    assert ORACLES[name]("CCO") < 0.3


def test_similarity_is_clipped_at_0_75():
    mol = _mol("CC(C)(C)NCC(O)c1ccc(O)cc1")  # albuterol without the CH2OH
    raw = O.tanimoto(mol, O.ALBUTEROL, "FCFP4")
    assert 0 < raw < 0.75
    assert ORACLES["albuterol_similarity"]("CC(C)(C)NCC(O)c1ccc(O)cc1") == pytest.approx(raw / 0.75)


@pytest.mark.parametrize(
    "name, smiles",
    [
        ("isomers_c7h8n2o2", "NC(=O)Nc1ccc(O)cc1"),
        ("isomers_c7h8n2o2", "Nc1ccc(cc1)C(=O)NO"),
        ("isomers_c7h8n2o2", "CC1=CC(=C(C=C1)[N+](=O)[O-])N"),
        ("isomers_c9h10n2o2pf2cl", "NC(=O)C1=CC=C(Cl)C=C1NCCP(F)(F)=O"),
        ("isomers_c9h10n2o2pf2cl", "CC(NC(=O)c1ccc(Cl)cc1N)P(=O)(F)F"),
    ],
)
def test_isomer_score_is_one_for_the_target_formula(name, smiles):
    assert ORACLES[name](smiles) == pytest.approx(1.0)


def test_isomer_score_by_hand():
    # C8H8F2NO2P vs C9H10N2O2PF2Cl: C off by 1, H by 2, N by 1, Cl by 1; 22 atoms vs 27 (total sigma 2)
    terms = [math.exp(-0.5), math.exp(-2.0), math.exp(-0.5), 1.0, 1.0, 1.0, math.exp(-0.5),
             math.exp(-0.5 * (5 / 2) ** 2)]
    expected = math.exp(sum(math.log(t) for t in terms) / len(terms))
    assert ORACLES["isomers_c9h10n2o2pf2cl"]("NC(=O)c1ccc(cc1)CP(=O)(F)F") == pytest.approx(expected)
    assert O.parse_formula("C9H10N2O2PF2Cl") == {"C": 9, "H": 10, "N": 2, "O": 2, "P": 1, "F": 2, "Cl": 1}
    with pytest.raises(ValueError, match="not of the form"):
        O.parse_formula("c7h8")


def test_modifiers():
    assert O.clipped(0.35, 0.7) == pytest.approx(0.5) and O.clipped(0.9, 0.7) == 1.0 and O.clipped(-1, 0.7) == 0.0
    assert O.gaussian(3.0, 3.0, 1.0) == 1.0 and O.gaussian(4.0, 3.0, 1.0) == pytest.approx(math.exp(-0.5))
    assert O.min_gaussian(2.0, 3.0, 1.0) == 1.0 and O.min_gaussian(5.0, 3.0, 1.0) == pytest.approx(math.exp(-2))
    assert O.max_gaussian(5.0, 3.0, 1.0) == 1.0 and O.max_gaussian(1.0, 3.0, 1.0) == pytest.approx(math.exp(-2))
    assert O.geometric_mean([0.25, 1.0]) == pytest.approx(0.5) and O.geometric_mean([0.0, 1.0]) == 0.0


def test_median1_of_camphor_is_sqrt_of_its_menthol_similarity():
    sim = O.tanimoto(_mol(O.CAMPHOR), O.MENTHOL, "ECFP4")
    assert ORACLES["median1"](O.CAMPHOR) == pytest.approx(math.sqrt(sim))


def test_osimertinib_mpo_of_osimertinib_from_its_terms():
    mol = _mol(O.OSIMERTINIB)
    tpsa, logp = rdMolDescriptors.CalcTPSA(mol), Crippen.MolLogP(mol)
    terms = [1.0, math.exp(-0.5 * (0.15 / 0.1) ** 2), O.max_gaussian(tpsa, 100, 10), O.min_gaussian(logp, 1, 1)]
    expected = math.exp(sum(math.log(t) for t in terms) / 4)
    assert ORACLES["osimertinib_mpo"](O.OSIMERTINIB) == pytest.approx(expected)


def test_hop_tasks_on_the_reference_molecule():
    # pharmacophore similarity 1; deco_hop: both decorations present (0, 0), core kept (1) -> mean 0.5
    assert ORACLES["deco_hop"](O.HOP_PHARMACOPHORE) == pytest.approx(0.5)
    # scaffold_hop: decoration kept (1), core not left (0) -> mean 2/3
    assert ORACLES["scaffold_hop"](O.HOP_PHARMACOPHORE) == pytest.approx(2 / 3)


def test_sitagliptin_and_valsartan_are_zero_on_their_own_reference():
    # sitagliptin_mpo rewards a *different* structure with sitagliptin's properties and formula:
    # for sitagliptin itself only the similarity term gaussian(1, 0, 0.1) = exp(-50) is off -> exp(-50/4)
    assert ORACLES["sitagliptin_mpo"](O.SITAGLIPTIN) == pytest.approx(math.exp(-12.5))
    assert ORACLES["valsartan_smarts"](O.SITAGLIPTIN) == 0.0  # no valsartan substructure


def test_drug_mpo_by_hand_and_factory_arguments():
    mol = _mol(O.CELECOXIB)
    expected = (QED.qed(mol) * 1.0 * (10 - O.sa_raw(mol)) / 9 * 1.0) ** 0.25  # 1 donor; similarity 1
    assert ORACLES["drug_mpo"](O.CELECOXIB) == pytest.approx(expected)
    aspirin_like = O.make_drug_mpo(target=ASPIRIN)
    assert aspirin_like(ASPIRIN) > ORACLES["drug_mpo"](ASPIRIN)
    # five donors: min_gaussian(5, 3, 1) = exp(-2)
    assert O.min_gaussian(5, 3, 1.0) == pytest.approx(math.exp(-2))
    with pytest.raises(ValueError, match="target SMILES 'C1CC' does not parse"):
        O.make_drug_mpo(target="C1CC")
    with pytest.raises(ValueError, match="similarity_upper"):
        O.make_drug_mpo(similarity_upper=0.0)


# ------------------------------------------------------------------------------------- Oracle wrapper
def test_oracle_caches_by_canonical_smiles_and_counts_only_new_valid_molecules():
    seen: list[str] = []

    def fn(s: str) -> float:
        seen.append(s)
        return 0.25

    oracle = Oracle(fn, name="quarter")
    assert oracle("OCC") == 0.25 and oracle("C(O)C") == 0.25 and oracle("CCO") == 0.25
    assert oracle("C1CC") == 0.0  # invalid: free
    assert oracle("CC") == 0.25
    assert seen == ["CCO", "CC"]
    assert oracle.calls == 2 and oracle.history == [OracleCall(1, "CCO", 0.25), OracleCall(2, "CC", 0.25)]
    assert oracle.remaining is None and not oracle.exhausted
    np.testing.assert_array_equal(oracle.score_many(["CC", "x"]), [0.25, 0.0])
    oracle.reset()
    assert oracle.calls == 0 and not oracle.cache


def test_oracle_budget():
    oracle = Oracle("qed", budget=2)
    assert oracle.name == "qed"
    oracle("CC")
    oracle("CCC")
    assert oracle.exhausted and oracle.remaining == 0
    assert oracle("C(C)") == ORACLES["qed"]("CC")  # cached stays free
    with pytest.raises(OracleBudgetExhausted, match=r"'qed' has spent its budget of 2 calls.*'CCCC'"):
        oracle("CCCC")
    assert oracle("nonsense") == 0.0


def test_oracle_rejects_bad_arguments_and_bad_values():
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        Oracle("qed", budget=0)
    with pytest.raises(ValueError, match="unknown oracle"):
        Oracle("nope")
    with pytest.raises(ValueError, match="registered name or a callable"):
        Oracle(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"returned nan for 'CC'"):
        Oracle(lambda s: float("nan"))("CC")
    with pytest.raises(ValueError, match=r"returned -0.5 for 'CC'"):
        Oracle(lambda s: -0.5)("CC")
    with pytest.raises(ValueError, match=r"returned 'x' for 'CC'"):
        Oracle(lambda s: "x")("CC")  # type: ignore[arg-type,return-value]
