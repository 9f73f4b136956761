"""benchmarks.molecules: the resumable run store, the stop reasons and the report (no long training)."""

from __future__ import annotations

import gzip
import json

import pytest
import torch as th

import benchmarks.molecules as bm
from ips_agents.molecules import SmilesPrior
from ips_envs.smiles.oracle import Oracle
from tests.test_prior import TINY


def _result(yield80: int, stop: str = "budget", calls: int = 100) -> dict:
    return {
        "seconds": 1.0, "calls": calls, "updates": 3, "trajectories": 192, "stop": stop, "repeated_in_group": 0.25,
        "yield@0.8": yield80, "yield@0.85": yield80 // 2, "ob100@0.8": 50 if yield80 >= 100 else None,
        "ob100@0.85": None, "auc_top10": 0.5, "avg_top10": 0.6, "internal_diversity": 0.7, "n_scaffolds": 4, "n_circles": 2,
        "history": [(1, "CCO", 0.9), (2, "CCN", 0.1)],
    }


def _spec(**kw) -> bm.RunSpec:
    base = {"method": "GRPO", "oracle": "drug_mpo", "seed": 0, "budget": 100, "learning_rate": 1e-3,
            "kl_coef": 0.01, "max_updates": 25}
    return bm.RunSpec(**{**base, **kw})


def test_runs_are_stored_and_resumed(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(bm, "one_run", lambda spec: made.append(spec) or _result(len(made)))
    spec = _spec()
    assert bm.get_run(spec, tmp_path, report_only=True) is None and made == []
    first = bm.get_run(spec, tmp_path)
    assert made == [spec] and first["yield@0.8"] == 1 and first["commit"]
    assert bm.get_run(spec, tmp_path) == json.loads(json.dumps(first))  # read back, not rerun
    assert len(made) == 1
    with gzip.open(spec.path(tmp_path), "rt") as f:
        assert json.load(f)["spec"]["max_updates"] == 25
    assert [p.name for p in spec.path(tmp_path).parent.iterdir()] == [spec.path(tmp_path).name]  # no temp file left
    other = _spec(max_updates=26)  # same file name, another spec: run again and replace it
    assert other.path(tmp_path) == spec.path(tmp_path)
    assert bm.get_run(other, tmp_path)["yield@0.8"] == 2 and len(made) == 2
    assert bm.load_run(spec, tmp_path) is None
    spec.path(tmp_path).write_bytes(b"not gzip")  # unreadable: treated as missing
    assert bm.load_run(other, tmp_path) is None
    assert bm.get_run(other, None)["yield@0.8"] == 3  # no store: always a fresh run


def test_a_wall_time_cap_that_did_not_stop_a_run_reuses_it(tmp_path, monkeypatch):
    stops = iter(["budget", "time"])
    monkeypatch.setattr(bm, "one_run", lambda spec: _result(7, stop=next(stops)))
    uncapped, capped = _spec(), _spec(max_minutes=30.0)
    assert bm.get_run(uncapped, tmp_path)["max_minutes"] is None
    assert bm.get_run(capped, tmp_path)["yield@0.8"] == 7  # the cap did not bind: the same run, not rerun
    bm.get_run(_spec(seed=1, max_minutes=30.0), tmp_path)  # this one the cap stopped
    assert bm.load_run(_spec(seed=1), tmp_path) is None  # not the uncapped run ...
    reported = bm.get_run(_spec(seed=1), tmp_path, report_only=True)  # ... but the report shows it, with its cap
    assert reported["stop"] == "time" and reported["max_minutes"] == 30.0
    assert bm._stops([reported, _result(1)]) == "budget 1, time 1 (cap 30 min)"


def test_run_spec_validates_and_labels():
    with pytest.raises(ValueError, match="unknown method 'PPO'"):
        _spec(method="PPO")
    with pytest.raises(ValueError, match="no thresholds for oracle 'qed'"):
        _spec(oracle="qed")
    assert _spec(method="REINVENT", learning_rate=5e-4).label == "REINVENT lr 5e-4"
    assert _spec(method="IPS-GRPO").label == "IPS-GRPO"
    assert bm.default_max_updates(10_000) == 1572


def test_report_marks_the_best_reinvent_lr_and_how_runs_stopped():
    rows = {
        "IPS-GRPO": [_result(400), _result(600)],
        "GRPO": [_result(100, stop="updates", calls=40), _result(100)],
        "REINVENT lr 1e-4": [_result(50)],
        "REINVENT lr 1e-3": [_result(200)],
        "REINVENT lr 5e-4": [],
    }
    body = bm.oracle_report("drug_mpo", rows, planned=3, budget=100, kl_coef=0.01, learning_rate=1e-3,
                            max_updates=25, prior_note="n/a")
    lines = {line.split(" | ")[0].lstrip("| "): line for line in body.splitlines() if line.startswith("| ")}
    assert "REINVENT lr 1e-3 (best lr)" in lines and "REINVENT lr 1e-4" in lines
    alone = bm.oracle_report("drug_mpo", {"REINVENT lr 1e-3": [_result(200)], "REINVENT lr 1e-4": []}, planned=1,
                             budget=100, kl_coef=0.01, learning_rate=1e-3, max_updates=25, prior_note="n/a")
    assert "(best lr)" not in alone  # one learning rate run: no sweep to be best in
    assert "REINVENT lr 5e-4" not in lines  # no finished run: no row
    assert "| 2/3 | 70 ± 30 | 100 ± 0 |" in lines["GRPO"] and "budget 1, updates 1" in lines["GRPO"]
    assert "IPS-GRPO / GRPO = 5.00" in body and "IPS-GRPO / REINVENT lr 1e-4 = 10.00" in body
    assert "IPS-GRPO / REINVENT lr 1e-3 = 2.50" in body and "GRPO / REINVENT lr 1e-3 = 0.50" in body
    assert body.endswith("Runs made at commit unrecorded.")


def test_yield_curves_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("IPS_RL_FIGURES", str(tmp_path))
    path = bm.yield_curves("drug_mpo", {"GRPO": [_result(1)], "IPS-GRPO": []}, budget=10, threshold=0.8)
    assert path == tmp_path / "molecules_drug_mpo.png" and path.stat().st_size > 0


def test_grpo_run_stops_at_the_update_cap(tmp_path, monkeypatch):
    th.manual_seed(0)
    path = SmilesPrior(**TINY).save(tmp_path / "tiny.pt")
    real_load = SmilesPrior.load
    monkeypatch.setattr(SmilesPrior, "load", classmethod(lambda cls, p=None, **k: real_load(path)))
    oracle = Oracle("qed", budget=10_000)
    info = bm.run_grpo(oracle, seed=0, max_batches=1, **bm.GRPO_METHODS["IPS-GRPO-trajectory-0.1"])
    assert info["stop"] == "updates" and info["updates"] == 1 and info["trajectories"] == 64
    assert info["ips_eps"] == 0.1 and info["advantage_norm"] == "group" and info["median_log_p"] < 0
    assert 0 < oracle.calls <= 64 and 0.0 <= info["repeated_in_group"] <= 1.0
    spent = Oracle("qed", budget=5)
    info = bm.run_grpo(spent, seed=0, max_batches=3, **bm.GRPO_METHODS["GRPO"])
    assert info["stop"] == "budget" and info["updates"] == 0 and spent.calls == 5  # no update on that batch
    reinvent = bm.run_reinvent(Oracle("qed", budget=10_000), seed=0, max_batches=1)
    assert reinvent["stop"] == "updates" and reinvent["updates"] == 1 and reinvent["trajectories"] == 64


def test_report_only_writes_the_seeds_that_ran(tmp_path, monkeypatch):
    import benchmarks.report as report

    monkeypatch.setattr(report, "RESULTS", tmp_path / "RESULTS.md")
    monkeypatch.setattr(bm, "prior_percentiles", lambda name: {"n": 1, "p50": 0.1, "p99": 0.2, "max": 0.3})
    monkeypatch.setattr(bm, "one_run", lambda spec: _result(9, stop="time"))
    monkeypatch.setenv("IPS_RL_FIGURES", str(tmp_path))
    runs = tmp_path / "runs"
    bm.get_run(bm.RunSpec("GRPO", "drug_mpo", 1, 10_000, 1e-3, 0.01, 1572, max_minutes=12.0), runs)
    args = ["--report-only", "--runs-dir", str(runs), "--oracles", "drug_mpo", "osimertinib_mpo", "--methods", "GRPO"]
    assert bm.main(args) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## Molecules: IPS-GRPO vs GRPO vs REINVENT under an oracle budget: drug_mpo" in text
    assert "osimertinib_mpo\n" not in text  # nothing finished there: no section
    assert "* seeds: 1 (of 0..2 planned;" in text and "| GRPO | 1/3 |" in text and "time 1 (cap 12 min)" in text
    assert (tmp_path / "molecules_drug_mpo.png").exists()
