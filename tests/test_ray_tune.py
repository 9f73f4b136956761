"""Sweeps on Ray Tune: the same results as a sequential run, resuming an interrupted sweep, `ips-rl sweep --ray`.

One local Ray (2 CPUs) serves the whole module; the interrupted sweep is driven from a child process that
joins it by address (the `--ray-address` path).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch as th

ray = pytest.importorskip("ray")

from benchmarks.pertask import per_task_units, pick_tasks  # noqa: E402
from ips_agents.cli import main  # noqa: E402
from ips_agents.integrations.ray_tune import fingerprint  # noqa: E402
from ips_agents.algorithms.ips_grpo import IPSGRPO  # noqa: E402
from ips_agents.runs.training import load_run  # noqa: E402
from ips_agents.integrations.ray_tune import RayOptions  # noqa: E402
from ips_agents.runs.units import SweepMismatchError, Unit, run_units  # noqa: E402
from tests.ray_units import record  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # address="local": a private instance even when another Ray runs on this machine (e.g. examples/rllib_ppo.py)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _same(a, b, path="result") -> None:
    """Exact equality of nested results (dicts, lists, tuples, arrays, floats), timings excepted."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k != "seconds":
                _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_two_trial_sweep_on_ray_is_bit_identical_to_the_sequential_run(local_ray, tmp_path):
    tasks = pick_tasks("IPS/CausalDAG-v0", 1, min_admissible=2)
    units = per_task_units("IPS-GRPO", IPSGRPO, "IPS/CausalDAG-v0", tasks, seeds=2, trajectories=128,
                           group_size=8, n_groups=4, policy_kwargs={"net_arch": [32]})
    assert [u.name for u in units] == ["IPS-GRPO/seed=0/task=0", "IPS-GRPO/seed=1/task=0"]
    sequential = run_units(units, progress=False)
    on_ray = run_units(units, RayOptions(storage=str(tmp_path), verbose=0))
    _same(sequential, on_ray)
    assert sequential[0]["tv"] != sequential[1]["tv"] or not np.array_equal(sequential[0]["curve"], sequential[1]["curve"])
    # a finished experiment is restored, not rerun: the same call returns the stored results
    again = run_units(units, RayOptions(storage=str(tmp_path), verbose=0))
    _same(on_ray, again)
    assert [p.name for p in tmp_path.iterdir()] == [f"sweep-{fingerprint(units)[:12]}"]


def test_an_interrupted_sweep_resumes_without_redoing_finished_trials(local_ray, tmp_path, children):
    log, flag, storage = tmp_path / "log.txt", tmp_path / "go", tmp_path / "tune"
    script = (
        "import sys; from ips_agents.integrations.ray_tune import RayOptions; from ips_agents.runs.units import Unit, run_units; from tests.ray_units import record\n"
        f"units = [Unit('a', record, {{'name': 'a', 'log': {str(log)!r}}}),\n"
        f"         Unit('b', record, {{'name': 'b', 'log': {str(log)!r}, 'wait_for': {str(flag)!r}}})]\n"
        f"run_units(units, RayOptions(address={local_ray!r}, storage={str(storage)!r}, name='exp', verbose=0,\n"
        "                             cpus_per_trial=2))\n"
    )
    child = children.start([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # trial a has finished and b is running
        if log.exists() and log.read_text().split() == ["a", "b"]:
            break
        assert child.poll() is None, child.communicate()[0][-3000:]
        time.sleep(0.2)
    else:
        child.kill()
        pytest.fail("the first trial did not finish in time")
    child.send_signal(signal.SIGINT)  # Ctrl+C: Tune saves the experiment state and stops
    out, _ = child.communicate(timeout=120)
    assert child.returncode != 0 and "did not finish" in out, out[-3000:]
    flag.touch()
    units = [Unit("a", record, {"name": "a", "log": str(log)}),
             Unit("b", record, {"name": "b", "log": str(log), "wait_for": str(flag)})]
    results = run_units(units, RayOptions(storage=str(storage), name="exp", verbose=0, cpus_per_trial=2))
    assert results == [{"name": "a"}, {"name": "b"}]
    assert log.read_text().split() == ["a", "b", "b"]  # a ran once; only the interrupted b ran again
    with pytest.raises(SweepMismatchError, match="different sweep"):
        run_units(units[:1], RayOptions(storage=str(storage), name="exp", verbose=0))


def test_ips_rl_sweep_on_ray_writes_the_run_folders_ips_rl_train_writes(local_ray, tmp_path, capsys):
    train_args = ["--env", "IPS/HyperGrid-v0", "--timesteps", "200", "--n-groups", "2", "--group-size", "4",
                  "--net-arch", "16", "--env-kwargs", '{"height": 4}']
    sweep = tmp_path / "sweep"
    assert main(["sweep", "--out", str(sweep), "--seeds", "0", "1", "--ray", "--", *train_args]) == 0
    assert sorted(p.name for p in sweep.iterdir()) == ["seed=0", "seed=1", "sweep.json", "tune"]
    assert main(["train", *train_args, "--seed", "1", "--out", str(tmp_path / "alone"), "--no-progress"]) == 0
    config, model = load_run(sweep / "seed=1")
    alone_config, alone = load_run(tmp_path / "alone")
    assert config == alone_config and config.seed == 1
    assert model.num_timesteps == alone.num_timesteps and model.num_trajectories == alone.num_trajectories
    for (k, a), (_, b) in zip(model.policy.state_dict().items(), alone.policy.state_dict().items(), strict=True):
        assert th.equal(a, b), k
    summary = json.loads((sweep / "sweep.json").read_text())
    assert [row["trial"] for row in summary] == ["seed=0", "seed=1"]
    assert summary[1]["last"]["time/total_timesteps"] == alone.num_timesteps


def test_a_trial_that_fails_on_ray_is_one_line_naming_its_error(local_ray, tmp_path, capsys):
    """A user error inside a Ray trial (a task the env refuses): exit status 2, the trial and its error named."""
    train_args = ["--env", "IPS/HyperGrid-v0", "--timesteps", "100", "--n-groups", "2", "--group-size", "2",
                  "--net-arch", "4", "--env-kwargs", '{"height": 3}', "--task", '{"bogus": 1}']
    assert main(["sweep", "--out", str(tmp_path / "sweep"), "--ray", "--", *train_args]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("ips-rl sweep: error: 1 of 1 trials did not finish (seed=0); first error: seed=0: "
                           "ValueError"), last
    assert "Traceback" not in last and not (tmp_path / "sweep" / "run.lock").exists()
