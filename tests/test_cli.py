"""The ips-rl command line: train, resume, eval, and atomic checkpoints."""

from __future__ import annotations

import json

import pytest

from ips_agents.cli import main
from ips_agents.runs.config import RunConfig
from ips_agents.runs.files import atomic_write_text
from ips_agents.runs.training import load_run


def test_train_resume_eval(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--env", "IPS/HyperGrid-v0", "--out", str(run), "--n-groups", "2", "--group-size", "4",
            "--net-arch", "16", "--no-progress", "--env-kwargs", '{"height": 4}']
    assert main([*args, "--timesteps", "300"]) == 0
    config, model = load_run(run)
    assert config.env_kwargs == {"height": 4} and model.num_timesteps >= 300
    first = model.num_timesteps
    assert main([*args, "--timesteps", "300"]) == 2  # a second fresh run on the folder: refused, one line
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--timesteps", "600", "--resume"]) == 0
    _, resumed = load_run(run)
    assert resumed.num_timesteps >= 600 > first
    assert (run / "logs" / "progress.csv").exists()
    assert main(["eval", str(run), "--samples", "50"]) == 0
    out = capsys.readouterr().out
    assert "RR(samples)" in out and (run / "recovery.png").exists() and (run / "outcomes.png").exists()


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--env", "IPS/HyperGrid-v0", "--out", str(tmp_path), "--env-kwargs", "{bad json"])
    assert exit_info.value.code == 2
    with pytest.raises(ValueError, match="algo"):
        RunConfig(env="IPS/HyperGrid-v0", algo="ppo")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_run(tmp_path / "missing")


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "a" / "config.json"
    atomic_write_text(path, json.dumps({"x": 1}))
    atomic_write_text(path, json.dumps({"x": 2}))
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]
