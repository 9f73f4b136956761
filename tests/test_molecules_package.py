"""The molecule subpackage and the former module paths that re-export it."""

from __future__ import annotations

import importlib
import runpy
import sys

import pytest

import ips_agents.molecules as molecules

OLD_PATHS = {
    "ips_agents.prior": "ips_agents.molecules.prior",
    "ips_agents.prior_cli": "ips_agents.molecules.prior_cli",
    "ips_agents.smiles_policy": "ips_agents.molecules.policy",
    "ips_agents.reinvent": "ips_agents.molecules.reinvent",
    "ips_agents.molecule_metrics": "ips_agents.molecules.metrics",
}


@pytest.mark.parametrize("old", list(OLD_PATHS))
def test_old_module_path_is_the_new_module(old):
    assert importlib.import_module(old) is importlib.import_module(OLD_PATHS[old])


def test_old_from_imports_give_the_same_objects():
    from ips_agents.molecule_metrics import summary, yield_at
    from ips_agents.prior import SmilesPrior, default_prior_path, fit
    from ips_agents.reinvent import DiversityFilter, Reinvent
    from ips_agents.smiles_policy import N_EXTRA_FEATURES, SmilesPriorPolicy

    assert SmilesPrior is molecules.SmilesPrior and SmilesPriorPolicy is molecules.SmilesPriorPolicy
    assert Reinvent is molecules.Reinvent and DiversityFilter is molecules.DiversityFilter
    assert summary is molecules.metrics.summary and yield_at is molecules.metrics.yield_at
    assert fit is molecules.prior.fit and N_EXTRA_FEATURES == molecules.policy.N_EXTRA_FEATURES
    assert default_prior_path().name == "smiles_prior.pt" and default_prior_path().parent.name == "data"
    assert default_prior_path().exists()


def test_monkeypatching_the_old_path_patches_the_new_one(monkeypatch):
    import ips_agents.prior as old

    monkeypatch.setattr(old, "MOLSETS_INSTALL", "pip install something-else")
    assert molecules.prior.MOLSETS_INSTALL == "pip install something-else"


def test_python_m_old_prior_cli_runs(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "ips_agents.prior_cli", raising=False)  # as in a fresh `python -m`
    monkeypatch.setattr(sys, "argv", ["ips_agents.prior_cli", "sample", "--n", "3", "--masked", "--seed", "1"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("ips_agents.prior_cli", run_name="__main__", alter_sys=True)
    assert done.value.code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 4 and out[-1] == "validity: 100.0% (masked)"
