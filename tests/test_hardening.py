"""Hardening (issue 23): non-finite updates are undone and reported, user errors are one line, surprising inputs
are refused with a message that says what was expected."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
import torch

from ips_agents.algorithms import IPSGRPO, NonFiniteUpdate, TrajectoryBalance
from ips_agents.cli import main
from ips_agents.runs import load_run

PATHS = "IPS/PathMultiplicity-v0"


def finite(model) -> bool:
    return not model.non_finite_parameters()


def one_error_line(capsys) -> str:
    """The single stderr line of a CLI user error (asserting there is exactly one and no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------------------ 1. non-finite updates
@pytest.mark.parametrize("cls", [IPSGRPO, TrajectoryBalance])
def test_an_overflowing_step_is_undone_and_names_the_learning_rate(cls):
    model = cls("MlpPolicy", PATHS, learning_rate=1e308, group_size=4, n_groups=2, seed=0)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    with pytest.raises(NonFiniteUpdate, match=r"learning_rate=1e\+308.*lower the learning rate"):
        model.learn(400)
    assert isinstance(NonFiniteUpdate("x"), ValueError)
    assert finite(model)
    after = model.policy.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the step was undone
    assert not model.policy.optimizer.state  # ... and so was the optimizer's first step


def test_a_diverged_policy_raises_instead_of_skipping_every_batch():
    """lr=1e30: the first step leaves huge but finite parameters, after which every log-probability is NaN."""
    model = IPSGRPO("MlpPolicy", PATHS, learning_rate=1e30, group_size=4, n_groups=2, seed=0)
    with pytest.raises(NonFiniteUpdate, match=r"diverged.*learning_rate=1e\+30"):
        model.learn(400)
    assert finite(model) and model.skipped_batches == 0


def test_non_finite_models_are_not_saved_nor_used_to_predict(tmp_path, monkeypatch):
    model = IPSGRPO("MlpPolicy", PATHS, group_size=4, n_groups=2, seed=0)
    model.save(tmp_path / "good.zip")
    obs, info = model.group_env.env.reset(seed=0)
    with torch.no_grad():
        next(model.policy.parameters()).fill_(math.nan)
    with pytest.raises(ValueError, match="refusing to save.*non-finite"):
        model.save(tmp_path / "nan.zip")
    assert not (tmp_path / "nan.zip").exists()
    with pytest.raises(ValueError, match="refusing to predict.*non-finite"):
        model.predict(obs, action_masks=info["action_mask"])
    # a file that holds one anyway (written by other code) is refused when loaded
    monkeypatch.setattr(IPSGRPO, "_check_finite", lambda self, action: None)
    model.save(tmp_path / "nan.zip")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="refusing to load.*nan.zip.*non-finite"):
        IPSGRPO.load(tmp_path / "nan.zip")
    assert finite(IPSGRPO.load(tmp_path / "good.zip"))


@pytest.mark.parametrize("lr", ["1e308", "1e30"])
def test_cli_training_that_diverges_exits_2_and_keeps_a_finite_model(tmp_path, capsys, lr):
    out = tmp_path / "run"
    code = main(["train", "--env", PATHS, "--learning-rate", lr, "--group-size", "4", "--n-groups", "2",
                 "--timesteps", "400", "--out", str(out), "--no-progress"])
    line = one_error_line(capsys)
    assert code == 2 and f"learning_rate={float(lr):g}" in line and "lower the learning rate" in line, line
    saved = IPSGRPO.load(out / "model.zip")  # the checkpoint taken before the divergence
    obs, info = gym.make(PATHS).reset(seed=0)
    assert finite(saved) and saved.predict(obs, action_masks=info["action_mask"])[0] is not None


# ------------------------------------------------------------------------------ 2. one-line errors (exit 2)
TINY = ["--env", "IPS/HyperGrid-v0", "--env-kwargs", '{"height": 3}', "--n-groups", "2", "--group-size", "2",
        "--net-arch", "4", "--no-progress"]


def cli_error(capsys, argv: list[str]) -> str:
    """The one stderr line of ``ips-rl argv`` failing with a user error (exit status 2, argparse's or ours)."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse refuses the value while parsing
        code = e.code
    assert code == 2
    return one_error_line(capsys)


@pytest.mark.parametrize("flag, bound", [("--group-size", "<= 1048576"), ("--n-groups", "<= 1048576"),
                                         ("--net-arch", "[1, 65536]")])
def test_huge_sizes_are_refused_up_front_with_the_bound(tmp_path, capsys, flag, bound):
    line = cli_error(capsys, ["train", "--env", "IPS/HyperGrid-v0", flag, str(10**12), "--out", str(tmp_path / "r")])
    assert flag in line and bound in line and str(10**12) in line, line
    assert not (tmp_path / "r").exists()


def test_sizes_device_seed_and_net_arch_are_checked_by_the_python_api():
    from ips_agents.runs import RunConfig

    cases = [
        ({"group_size": 2**11, "n_groups": 2**10}, r"group_size \* n_groups = 2,097,152 env copies"),
        ({"device": "bogus"}, "device must be 'auto', 'cpu'.*got 'bogus'"),
        ({"seed": 2**32}, r"seed must be an integer in \[0, 4294967295\], got 4294967296"),
        ({"policy_kwargs": {"net_arch": [-3]}}, r"net_arch\[0\] must be a layer size.*got -3"),
        ({"policy_kwargs": {"net_arch": [8, 0]}}, r"net_arch\[1\] must be a layer size.*got 0"),
        ({"policy_kwargs": {"net_arch": "64"}}, "net_arch must be a list of hidden layer sizes"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            IPSGRPO("MlpPolicy", PATHS, **kwargs)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 4294967295\]"):
        RunConfig(env=PATHS, seed=2**32)


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:117] . "
                                                               "DefaultCPUAllocator: can't allocate memory: you tried "
                                                               "to allocate 4000000000000 bytes.")])
def test_running_out_of_memory_is_one_line_with_advice(monkeypatch, capsys, error):
    import ips_agents.cli as cli

    def fail(args):
        raise error

    monkeypatch.setitem(cli.SUBCOMMANDS, "train", (cli.SUBCOMMANDS["train"][0], fail))
    line = cli_error(capsys, ["train", "--env", "IPS/HyperGrid-v0", "--out", "x"])
    assert "out of memory" in line and "--group-size" in line and "--net-arch" in line, line


def test_eval_of_a_run_whose_config_names_a_non_ips_env(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--timesteps", "40", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "env": "CartPole-v1"}))
    capsys.readouterr()
    line = cli_error(capsys, ["eval", str(run), "--samples", "5"])
    assert "'CartPole-v1' is not an IPS env" in line and "not an IPS/ env" in line, line


def test_a_failed_trial_elsewhere_and_a_second_sweep_on_one_folder_are_one_line(tmp_path, capsys, monkeypatch):
    from ips_agents.cli import sweep as sweep_cli
    from ips_agents.runs.files import RunLock
    from ips_agents.runs.units import UnitsFailed

    out = tmp_path / "sweep"
    argv = ["sweep", "--out", str(out), "--", "--env", "IPS/HyperGrid-v0", "--timesteps", "40", "--n-groups", "2",
            "--group-size", "2", "--net-arch", "4"]
    with RunLock(out):  # a sweep is running on this folder
        line = cli_error(capsys, argv)
    assert "locked" in line and f"pid {os.getpid()}" in line, line
    assert not (out / "seed=0").exists()

    class FailingRunner:  # what RayOptions raises when trials fail
        storage = str(tmp_path / "tune")

        def run(self, units, label):
            raise UnitsFailed(f"1 of {len(units)} trials did not finish (seed=0); first error: ValueError: bad task")

    monkeypatch.setattr(sweep_cli, "ray_options", lambda args: FailingRunner())
    line = cli_error(capsys, argv)
    assert "did not finish" in line and "first error: ValueError" in line, line


def test_disk_full_in_tensorboard_names_the_events_file_without_a_thread_traceback(tmp_path, capfd, monkeypatch):
    import errno

    from tensorboard.summary.writer import record_writer

    from ips_agents.runs.training import TensorBoardOutput, quiet_tensorboard_threads

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with quiet_tensorboard_threads():
        output = TensorBoardOutput(str(tmp_path))
        events = output.events_file()
        monkeypatch.setattr(record_writer.RecordWriter, "write", full)
        with pytest.raises(OSError, match="No space left on device") as info:
            for step in range(50):  # the writer thread fails; a later write (or the close) raises it here
                output.write({"x": 1.0}, {"x": None}, step)
                output.writer.flush()
            output.close()
    assert info.value.filename == events and "events.out.tfevents" in events
    assert "Exception in thread" not in capfd.readouterr().err


def test_datasets_refuses_an_unwritable_out_before_building(tmp_path, capsys):
    from ips_envs import datasets

    (tmp_path / "file").write_text("")
    for out, needle in [(tmp_path / "file" / "x.json", "does not exist"), (tmp_path / "nope" / "x.json",
                                                                          "does not exist"),
                        (tmp_path, "is a folder"), ("", "is empty")]:
        assert datasets.main(["causal", "--n-nodes", "3", "--n-observations", "2", "--out", str(out)]) == 2
        line = one_error_line(capsys)
        assert line.startswith("python -m ips_envs.datasets: error:") and needle in line, line


def test_a_double_ctrl_c_always_exits_130_with_one_line(tmp_path, children):
    """Two SIGINTs 30 ms apart, several times: status 130 (or 0 when the first stop had already finished), never a
    traceback or death by the signal; --resume then works."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    folder = tmp_path / "run"
    for attempt in range(3):
        extra = ["--resume"] if attempt else [*TINY, "--timesteps", "10000000"]
        proc = children.start([sys.executable, "-m", "ips_agents.cli", "train", *extra, "--out", str(folder),
                               "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        progress = folder / "logs" / "progress.csv"
        rows = len(progress.read_text().splitlines()) if progress.exists() else 0
        deadline = time.monotonic() + 120
        while not (progress.exists() and len(progress.read_text().splitlines()) >= rows + 2):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.03)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and proc.returncode in (0, 130), (proc.returncode, err)
        if proc.returncode == 130:  # the second signal came while the run was still stopping
            assert err.strip().splitlines()[-1].startswith("SIGINT received twice: stopped at once"), err
        else:  # the first stop had already finished (checkpoint saved, message printed): the second is ignored
            assert err.strip().splitlines()[-1].endswith("continue with --resume"), err
        load_run(folder)  # the last checkpoint is whole (and the next attempt resumes it, taking over the lock)


# ------------------------------------------------------------------------------ 3. unclear or surprising input
def test_an_empty_out_is_refused(capsys):
    from ips_agents.runs import RunConfig, train_run
    from ips_agents.runs.sweep import run_sweep

    for argv in (["train", "--env", "IPS/HyperGrid-v0", "--out", ""], ["sweep", "--out", " ", "--", *TINY]):
        assert "expected a folder path" in cli_error(capsys, argv)
    with pytest.raises(ValueError, match="folder path is empty"):
        train_run("", RunConfig(env="IPS/HyperGrid-v0"))
    with pytest.raises(ValueError, match="folder path is empty"):
        run_sweep("", [])


def test_a_non_ips_env_names_what_an_ips_env_needs(tmp_path, capsys):
    line = cli_error(capsys, ["train", "--env", "CartPole-v1", "--out", str(tmp_path / "r")])
    assert "'CartPole-v1' is not an IPS env" in line and "info['action_mask']" in line, line
    assert "info['outcome']" in line and "IPS/HyperGrid-v0" in line
    with pytest.raises(ValueError, match=r"not an IPS env.*info\['outcome'\] at termination"):
        IPSGRPO("MlpPolicy", "CartPole-v1", group_size=2, n_groups=1).learn(10)


def test_a_progress_log_that_is_not_utf8_is_moved_aside_and_resume_goes_on(tmp_path):
    from ips_agents.runs import RunConfig, train_run

    folder = tmp_path / "run"
    config = RunConfig(env="IPS/HyperGrid-v0", timesteps=60, env_kwargs={"height": 3},
                       algo_kwargs={"group_size": 2, "n_groups": 2, "policy_kwargs": {"net_arch": [4]}})
    train_run(folder, config, progress_bar=False)
    log = folder / "logs" / "progress.csv"
    damaged = b"\xff\xfe" + log.read_bytes()[2:]
    log.write_bytes(damaged)
    with pytest.warns(RuntimeWarning, match=r"progress.csv' is not UTF-8 text.*moved it to .*progress.csv.unreadable"):
        train_run(folder, {"timesteps": 120}, resume=True, progress_bar=False)
    assert (folder / "logs" / "progress.csv.unreadable").read_bytes() == damaged  # nothing deleted
    assert log.read_text().startswith(("train/", "rollout/", "time/"))


def test_iterations_continue_across_resumes(tmp_path):
    from ips_agents.runs import RunConfig, train_run

    folder = tmp_path / "run"
    config = RunConfig(env="IPS/HyperGrid-v0", timesteps=60, env_kwargs={"height": 3},
                       algo_kwargs={"group_size": 2, "n_groups": 2, "policy_kwargs": {"net_arch": [4]}})
    train_run(folder, config, progress_bar=False)
    first = load_run(folder)[1]._iterations
    train_run(folder, {"timesteps": 150}, resume=True, progress_bar=False)
    with (folder / "logs" / "progress.csv").open() as f:
        iterations = [int(row["time/iterations"]) for row in csv.DictReader(f)]
    assert first > 1 and iterations == list(range(1, len(iterations) + 1)) and len(iterations) > first
    assert load_run(folder)[1]._iterations == len(iterations)
    legacy = IPSGRPO.load(Path(__file__).parent / "fixtures" / "legacy" / "ips_grpo_mlp.zip")
    assert legacy._iterations == 0  # zips written before the counter start from 0


def test_seeds_are_bounded(tmp_path, capsys):
    line = cli_error(capsys, ["train", "--env", "IPS/HyperGrid-v0", "--seed", str(2**32), "--out", str(tmp_path)])
    assert "--seed" in line and "[0, 4294967295]" in line, line
    line = cli_error(capsys, ["eval", str(tmp_path), "--seed", str(2**64)])
    assert "--seed" in line and "[0, 4294967295]" in line, line
    line = cli_error(capsys, ["sweep", "--out", str(tmp_path), "--seeds", "0", str(2**32), "--", *TINY])
    assert "--seeds" in line and "[0, 4294967295]" in line, line


def test_a_string_with_characters_outside_the_smiles_alphabet_is_invalid():
    from ips_envs.smiles.scoring import canonical_smiles

    assert [canonical_smiles(s) for s in ("Cé", "C\x00", "C\u00a0", "CCO", "[NH4+]")] == [None, None, None, "CCO",
                                                                                          "[NH4+]"]


# ------------------------------------------------------------------------------ 4. tests that start processes
INNER_SUITE = '''
import os, subprocess, sys

CHILD = ("import signal, subprocess, sys, time; "
         "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
         "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, grandchild.pid, flush=True); "
         "time.sleep(600)")


def test_starts_a_process_and_leaves_it_running(children):
    proc = children.start([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    default_sigint, grandchild = proc.stdout.readline().split()
    with open(os.environ["PIDS_FILE"], "w") as f:
        f.write(f"{proc.pid} {grandchild} {default_sigint}")
'''


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def test_a_suite_started_with_sigint_ignored_leaves_no_process_behind(tmp_path):
    """The ``children`` fixture: a child gets the default SIGINT back, and it and what it started are killed."""
    from tests.isolated_process import ROOT, run_process

    (tmp_path / "test_inner.py").write_text(INNER_SUITE)
    pids = tmp_path / "pids"
    pytest_cmd = f"{sys.executable} -m pytest -q -p no:cacheprovider -p tests.conftest {tmp_path / 'test_inner.py'}"
    done = run_process(["bash", "-c", f"trap '' INT; exec {pytest_cmd}"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PIDS_FILE": str(pids)}, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    child, grandchild, default_sigint = pids.read_text().split()
    assert default_sigint == "True"  # the child can be interrupted although the suite ignores SIGINT
    deadline = time.monotonic() + 10
    while not (_gone(int(child)) and _gone(int(grandchild))):
        assert time.monotonic() < deadline, f"processes {child} / {grandchild} outlived the suite"
        time.sleep(0.05)
