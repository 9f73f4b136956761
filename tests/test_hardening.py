"""Hardening (issue 23): non-finite updates are undone and reported, user errors are one line, surprising inputs
are refused with a message that says what was expected."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

from ips_agents.algorithms import IPSGRPO, NonFiniteUpdate, TrajectoryBalance
from ips_agents.cli import main

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
