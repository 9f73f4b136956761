"""Run folders through real processes and real signals: nothing is lost, a resumed run equals the uninterrupted one.

Each ``ips-rl train`` here is a subprocess; it is interrupted with SIGINT, SIGTERM and SIGKILL at whatever
batch it has reached, resumed, and compared parameter for parameter with an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ips_agents.runs.training as training
from ips_agents.runs import RunConfig, load_run, train_run
from tests.isolated_process import Children, run_process

# the default learning rate of the default (paths) estimator decays linearly over the run: its progress must
# survive the interruptions too
TINY = ["--env", "IPS/HyperGrid-v0", "--env-kwargs", '{"height": 4}', "--n-groups", "2", "--group-size", "4",
        "--net-arch", "8", "--no-progress"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start(children: Children, *args: str, cwd: Path) -> subprocess.Popen:
    """``ips-rl *args`` started as a child of the test (killed when the test ends, whatever happens)."""
    return children.start([sys.executable, "-m", "ips_agents.cli", *args], cwd=cwd, env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``ips-rl *args`` run to the end (its output captured; its session killed on return)."""
    return run_process([sys.executable, "-m", "ips_agents.cli", *args], cwd=cwd, env=ENV, capture_output=True,
                       text=True, timeout=timeout)


def rows(folder: Path) -> list[list[str]]:
    path = folder / "logs" / "progress.csv"
    return list(csv.reader(path.open())) if path.exists() else []


def wait_for_rows(proc: subprocess.Popen, folder: Path, n: int, timeout: float = 120) -> None:
    """Wait until progress.csv has at least ``n`` lines (header included) while ``proc`` runs."""
    end = time.monotonic() + timeout
    while len(rows(folder)) < n:
        if proc.poll() is not None:
            raise AssertionError(f"training ended before {n} log lines: {proc.communicate()}")
        assert time.monotonic() < end, "training did not log in time"
        time.sleep(0.02)


def parameters(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.policy.state_dict().items()}


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, children):
    """SIGINT, SIGKILL, SIGTERM, each followed by --resume: the same parameters and log rows as one clean run."""
    timesteps = "3000"
    reference = tmp_path / "reference"
    done = run("train", *TINY, "--timesteps", timesteps, "--out", str(reference), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "run"
    seen: list[list[str]] = []

    def check_kept() -> None:  # every earlier row is still there, unchanged
        now = rows(folder)
        assert now[: len(seen)] == seen
        seen[:] = now

    # 1. SIGINT: the current batch is finished and saved, exit status 0, no traceback
    proc = start(children, "train", *TINY, "--timesteps", timesteps, "--out", str(folder), cwd=tmp_path)
    wait_for_rows(proc, folder, 4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err and "stopped by SIGINT" in err, err
    assert not (folder / "run.lock").exists()
    check_kept()
    saved = load_run(folder)[1].num_timesteps
    assert 0 < saved < int(timesteps)

    # 2. SIGKILL: no handler runs; the lock and a half-written checkpoint are left behind
    proc = start(children, "train", "--resume", "--out", str(folder), "--no-progress", "--checkpoint-every", "1",
                 cwd=tmp_path)
    wait_for_rows(proc, folder, len(seen) + 3)
    proc.kill()
    proc.communicate(timeout=60)
    assert (folder / "run.lock").exists()  # a stale lock of a dead process
    leftover = folder / ".model.zip.a1b2c3.tmp"
    leftover.write_bytes(b"PK\x03\x04 half a zip")
    check_kept()

    # 3. SIGTERM, then resume to the end
    proc = start(children, "train", "--resume", "--out", str(folder), "--no-progress", cwd=tmp_path)
    wait_for_rows(proc, folder, len(seen) + 3)
    assert not leftover.exists()  # the lock holder removed what the SIGKILL left
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped by SIGTERM" in err and "Traceback" not in err, err
    check_kept()
    done = run("train", "--resume", "--out", str(folder), "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    check_kept()

    _, expected = load_run(reference)
    _, got = load_run(folder)
    assert got.num_timesteps == expected.num_timesteps and got.num_trajectories == expected.num_trajectories
    want, have = parameters(expected), parameters(got)
    assert all(torch.equal(want[k], have[k]) for k in want)
    opt_a, opt_b = expected.policy.optimizer.state_dict(), got.policy.optimizer.state_dict()
    assert all(torch.equal(opt_a["state"][i]["exp_avg"], opt_b["state"][i]["exp_avg"]) for i in opt_a["state"])
    # the log: every update of the clean run appears, with the same values (time columns aside)
    header = seen[0]
    # (time/iterations continues across resumes: the same numbers as the uninterrupted run)
    keep = [i for i, k in enumerate(header) if not k.startswith("time/") or k in ("time/total_timesteps",
                                                                                  "time/trajectories",
                                                                                  "time/iterations")]
    ref_rows = rows(reference)
    ref_keep = [ref_rows[0].index(header[i]) for i in keep]
    # (rows logged after the SIGKILLed segment's last checkpoint appear twice: that batch was trained again,
    # to the same values)
    assert {tuple(r[i] for i in ref_keep) for r in ref_rows[1:]} == {tuple(r[i] for i in keep) for r in seen[1:]}


def test_second_writer_is_refused_naming_the_holder(tmp_path, children):
    folder = tmp_path / "run"
    first = start(children, "train", *TINY, "--timesteps", "10000000", "--out", str(folder), cwd=tmp_path)
    try:
        wait_for_rows(first, folder, 2)
        config_before = (folder / "config.json").read_text()
        for extra in ([], ["--resume"]):
            second = run("train", *TINY, "--env", "IPS/CausalDAG-v0", "--timesteps", "500", "--out",
                         str(folder), *extra, cwd=tmp_path)
            assert second.returncode == 2
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "locked" in lines[0], second.stderr
            assert f"pid {first.pid}" in lines[0] and socket.gethostname() in lines[0]
        assert (folder / "config.json").read_text() == config_before
        assert first.poll() is None  # the holder is unaffected
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 0 and load_run(folder)[0].env == "IPS/HyperGrid-v0"


def test_cli_user_errors_are_one_line_with_status_2(tmp_path):
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text('{"env": "IPS/HyperGrid-v0", "timest')
    for args, needle in [
        (["train", "--env", "IPS/NoSuchEnv-v0", "--out", "x"], "NoSuchEnv"),
        (["eval", str(tmp_path / "corrupt")], "corrupt"),
    ]:
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_resume_keeps_every_row_and_checkpoints_on_a_time_interval(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    config = RunConfig(env="IPS/HyperGrid-v0", timesteps=300, env_kwargs={"height": 3},
                       algo_kwargs={"group_size": 2, "n_groups": 2, "policy_kwargs": {"net_arch": [4]}})
    saves = []
    original = training.atomic_save

    def counting_save(model, path):
        saves.append(model.num_timesteps)
        original(model, path)

    monkeypatch.setattr(training, "atomic_save", counting_save)
    # a tiny time interval: a checkpoint at every batch although the step interval is never reached
    train_run(folder, config, checkpoint_every=10**9, checkpoint_seconds=1e-9, progress_bar=False)
    monkeypatch.undo()
    first = rows(folder)
    n_batches = len(first) - 1
    assert n_batches > 3 and len(saves) >= n_batches  # at the start, between all batches and at the end
    train_run(folder, {"timesteps": 300}, resume=True, progress_bar=False)  # nothing left to train
    assert rows(folder) == first
    train_run(folder, {"timesteps": 600}, resume=True, progress_bar=False)  # a larger target is applied
    more = rows(folder)
    assert more[: len(first)] == first and len(more) > len(first)
    assert json.loads((folder / "config.json").read_text())["timesteps"] == 600
    assert not list(folder.glob(".*.tmp")) and not (folder / "run.lock").exists()


def test_resume_refuses_conflicting_settings(tmp_path, capsys):
    folder = tmp_path / "run"
    config = RunConfig(env="IPS/HyperGrid-v0", timesteps=300, env_kwargs={"height": 3},
                       algo_kwargs={"group_size": 2, "n_groups": 2, "learning_rate": 1e-3,
                                    "policy_kwargs": {"net_arch": [4]}})
    train_run(folder, config, progress_bar=False)
    for given, listed in [
        ({"env": "IPS/CausalDAG-v0"}, "env: saved 'IPS/HyperGrid-v0', given 'IPS/CausalDAG-v0'"),
        ({"algo_kwargs": {"group_size": 8}}, "group_size: saved 2, given 8"),
        ({"algo_kwargs": {"learning_rate": 0.5}}, "learning_rate: saved 0.001, given 0.5"),
        ({"timesteps": 10}, "timesteps: saved 300, given 10"),
        ({"seed": 3}, "seed: saved 0, given 3"),
    ]:
        with pytest.raises(ValueError, match="conflicts") as info:
            train_run(folder, given, resume=True, progress_bar=False)
        assert listed in str(info.value)
    # the CLI: all of them at once, one line, exit status 2
    from ips_agents.cli import main

    code = main(["train", "--out", str(folder), "--resume", "--env", "IPS/CausalDAG-v0", "--group-size", "8",
                 "--learning-rate", "0.5", "--timesteps", "10", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    for piece in ("env: saved", "group_size: saved 2, given 8", "learning_rate: saved 0.001, given 0.5",
                  "timesteps: saved 300, given 10"):
        assert piece in err[0]
    assert load_run(folder)[0] == config  # nothing was changed
    # the same settings as saved are fine (nothing left to train)
    assert main(["train", "--out", str(folder), "--resume", "--env", "IPS/HyperGrid-v0", "--group-size", "2",
                 "--no-progress"]) == 0
