"""Every benchmark script runs end to end in --quick mode (numbers are not checked here)."""

from __future__ import annotations

import importlib

import pytest

SCRIPTS = ["env_throughput", "hypergrid", "hypospace", "ablation", "larger_spaces", "estimators",
           "training_throughput", "path_multiplicity"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_quick_mode_runs(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IPS_RL_FIGURES", str(tmp_path))
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.main(["--quick", "--no-write"]) == 0
    assert "|---" in capsys.readouterr().out  # printed its table
