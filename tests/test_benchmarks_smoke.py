"""Every benchmark script runs end to end in --quick mode (numbers are not checked here)."""

from __future__ import annotations

import importlib

import pytest

SCRIPTS = {
    "env_throughput": [], "hypergrid": [], "hypospace": [], "ablation": [], "larger_spaces": [], "estimators": [],
    "training_throughput": [], "path_multiplicity": [], "time_to_quality": [], "defaults": [], "generalisation": [],
    "llm_hypospace": [], "large_spaces": ["--methods", "IPS-GRPO (defaults)", "TB"],
    # without a torchgfn interpreter (as on CI) only the ips-rl side runs
    "torchgfn_compare": ["--torchgfn-python", "none"],
    # --quick is a 1,000-call budget on two oracles (minutes); the smoke test only checks the pipeline
    "molecules": ["--budget", "64", "--oracles", "drug_mpo"],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_quick_mode_runs(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IPS_RL_FIGURES", str(tmp_path))
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.main(["--quick", "--no-write", *SCRIPTS[name]]) == 0
    assert "|---" in capsys.readouterr().out  # printed its table
