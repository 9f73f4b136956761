"""The molecule subpackage: its exports, the prior command, and no module left at the old flat paths."""

from __future__ import annotations

import importlib
import runpy
import sys

import pytest

import ips_agents.molecules as molecules

REMOVED = ["ips_agents.prior", "ips_agents.prior_cli", "ips_agents.smiles_policy", "ips_agents.reinvent",
           "ips_agents.molecule_metrics", "ips_agents.molecules.prior_cli"]


@pytest.mark.parametrize("old", REMOVED)
def test_the_flat_shim_modules_are_gone(old):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def test_package_exports_are_the_module_objects():
    from ips_agents.molecules.metrics import summary, yield_at
    from ips_agents.molecules.policy import SmilesPriorPolicy
    from ips_agents.molecules.prior import SmilesPrior, default_prior_path
    from ips_agents.molecules.reinvent import DiversityFilter, Reinvent

    assert SmilesPrior is molecules.SmilesPrior and SmilesPriorPolicy is molecules.SmilesPriorPolicy
    assert Reinvent is molecules.Reinvent and DiversityFilter is molecules.DiversityFilter
    assert summary is molecules.metrics.summary and yield_at is molecules.metrics.yield_at
    assert default_prior_path().name == "smiles_prior.pt" and default_prior_path().parent.name == "data"
    assert default_prior_path().exists()


def test_python_m_prior_command_samples(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "ips_agents.cli.prior", raising=False)  # as in a fresh `python -m`
    monkeypatch.setattr(sys, "argv", ["ips_agents.cli.prior", "sample", "--n", "3", "--masked", "--seed", "1"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("ips_agents.cli.prior", run_name="__main__", alter_sys=True)
    assert done.value.code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 4 and out[-1] == "validity: 100.0% (masked)"
