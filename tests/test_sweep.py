"""Units of work run sequentially, and `ips-rl sweep` without Ray: trials, run folders, errors, re-runs."""

from __future__ import annotations

import json

import pytest

from ips_agents.cli import main
from ips_agents.cli.sweep import parse_grid
from ips_agents.runs.sweep import trial_name
from ips_agents.runs.training import load_run
from ips_agents.integrations.ray_tune import RayOptions
from ips_agents.runs.units import Unit, run_grouped, run_units
from tests.isolated_process import run_process


def _square(x: int) -> int:
    return x * x


def test_units_run_in_order_and_groups_split_back():
    units = [Unit(f"x={i}", _square, {"x": i}) for i in range(4)]
    assert run_units(units, progress=False) == [0, 1, 4, 9]
    grouped = run_grouped({"a": units[:1], "b": units[1:]}, progress=False)
    assert grouped == {"a": [0], "b": [1, 4, 9]}
    with pytest.raises(ValueError, match="'x=0' is used twice"):
        run_units([units[0], units[0]])
    with pytest.raises(ValueError, match="non-empty name"):
        Unit("", _square)
    with pytest.raises(ValueError, match="cpus_per_trial"):
        RayOptions(cpus_per_trial=0)
    with pytest.raises(ValueError, match="experiment name"):
        RayOptions(name="a/b")


def test_grid_parsing_and_trial_names():
    assert parse_grid(["learning-rate=1e-3,3e-4", "--group-size=8"]) == [("learning-rate", ["1e-3", "3e-4"]),
                                                                      ("group-size", ["8"])]
    assert trial_name([("learning-rate", "1e-3"), ("env-kwargs", '{"height": 4}'), ("seed", "0")]) == \
        'learning-rate=1e-3_env-kwargs=-height-4-_seed=0'
    for bad, match in [("learning-rate", "OPTION=V1"), ("seed=1,2", "--seeds"), ("out=x", "sets --out")]:
        with pytest.raises(ValueError, match=match):
            parse_grid([bad])


def test_sweep_writes_one_train_run_folder_per_trial_and_reruns_resume(tmp_path, capsys):
    train_args = ["--env", "IPS/HyperGrid-v0", "--timesteps", "150", "--n-groups", "2", "--group-size", "4",
                  "--net-arch", "8", "--env-kwargs", '{"height": 3}']
    sweep = ["sweep", "--out", str(tmp_path), "--seeds", "0", "1", "--grid", "learning-rate=1e-3,1e-2", "--",
             *train_args]
    assert main(sweep) == 0
    names = ["learning-rate=1e-2_seed=0", "learning-rate=1e-2_seed=1", "learning-rate=1e-3_seed=0",
             "learning-rate=1e-3_seed=1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [*names, "sweep.json"]
    config, model = load_run(tmp_path / "learning-rate=1e-2_seed=1")
    assert config.seed == 1 and config.algo_kwargs["learning_rate"] == 1e-2 and model.num_timesteps >= 150
    first = model.num_timesteps
    summary = json.loads((tmp_path / "sweep.json").read_text())
    assert [r["trial"] for r in summary] == [names[2], names[3], names[0], names[1]]  # grid order, then seeds
    # the same sweep again: every trial is already complete, nothing is trained further
    assert main(sweep) == 0
    assert load_run(tmp_path / "learning-rate=1e-2_seed=1")[1].num_timesteps == first
    # a larger budget continues every trial from its checkpoint
    assert main([*sweep[:-len(train_args)], *train_args[:2], "--timesteps", "300", *train_args[4:]]) == 0
    assert load_run(tmp_path / "learning-rate=1e-2_seed=1")[1].num_timesteps >= 300 > first


@pytest.mark.parametrize("argv, message", [
    (["--grid", "lr=1", "--", "--env", "IPS/HyperGrid-v0"], "unrecognized arguments: --lr 1"),
    (["--grid", "learning-rate=abc", "--", "--env", "IPS/HyperGrid-v0"], "--learning-rate: expected a finite number >= 0, got 'abc'"),
    (["--", "--env", "IPS/HyperGrid-v0", "--seed", "3"], "--seed cannot be an ips-rl train argument"),
    (["--seeds", "1", "1", "--", "--env", "IPS/HyperGrid-v0"], "repeats a seed"),
])
def test_bad_sweeps_are_one_line_errors_with_exit_2(tmp_path, capsys, argv, message):
    assert main(["sweep", "--out", str(tmp_path / "s"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ips-rl sweep: error:") and message in err and "\n" not in err
    assert not (tmp_path / "s").exists()


def test_the_core_and_the_benchmarks_do_not_import_ray():
    import sys

    code = ("import sys, ips_envs, ips_agents, ips_agents.runs.units, ips_agents.runs.sweep, ips_agents.cli, benchmarks.ablation, "
            "benchmarks.hypospace, benchmarks.hypergrid; assert 'ray' not in sys.modules, 'ray imported'")
    run_process([sys.executable, "-c", code], check=True, timeout=300)
