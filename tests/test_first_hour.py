"""The first hour of a new user (issue 22): interop edges with TorchRL, Tianshou, SB3, Gymnasium wrappers,
RLlib's example text and a bare editable install; each test failed before its fix."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import ips_envs
import ips_envs_plugin
from tests.isolated_process import run_process

ROOT = Path(__file__).resolve().parent.parent
OTHER_LIBRARIES = ROOT / "docs" / "guide" / "other-libraries.md"


# --- TorchRL: a vector env in SAME_STEP mode ------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ["IPS/CausalDAG-v0", "IPS/SMILES-v0"])
def test_torchrl_vector_env_same_step_mode(env_id):
    """GymWrapper over SAME_STEP crashed on the string info["outcome"]; make_torchrl_env reads the mask from info."""
    pytest.importorskip("torchrl")
    from torchrl.envs.utils import check_env_specs

    from ips_agents.integrations.torchrl import make_torchrl_env

    env = make_torchrl_env(gym.make_vec(env_id, num_envs=4, autoreset_mode="SameStep"))
    check_env_specs(env, seed=0)
    td = env.rollout(3 * 20, break_when_any_done=False)
    done = td["next", "done"].squeeze(-1)
    assert done.any() and not (td["action"].bool() & ~td["action_mask"]).any()
    # at an episode end the step holds the final state (only the dummy action left) ...
    np.testing.assert_array_equal(td["next", "action_mask"][done].sum(-1).numpy(), 1)
    # ... and the next step starts from the reset state Gymnasium made in the same step
    assert (td["action_mask"][:, 1:][done[:, :-1]].sum(-1) > 1).all()


def test_torchrl_vector_env_next_step_mode_is_refused_with_the_modes_it_takes():
    pytest.importorskip("torchrl")
    from ips_agents.integrations.torchrl import make_torchrl_env

    with pytest.raises(ValueError, match="SameStep"):
        make_torchrl_env(gym.make_vec("IPS/HyperGrid-v0", num_envs=2))


def test_tensor_info_keeps_numeric_entries_only():
    pytest.importorskip("torchrl")
    from ips_agents.integrations.torchrl import tensor_info

    info = {"outcome": np.array(["A", "<pending>"]), "_outcome": np.array([True, True]),
            "valid": np.array([True, False]), "_valid": np.array([True, True]),
            "final_info": {"outcome": np.array(["A", None], dtype=object), "path_count": np.array([3, 0])}}
    kept = tensor_info(info)
    assert set(kept) == {"valid", "_valid", "final_info"} and set(kept["final_info"]) == {"path_count"}


# --- Tianshou: PPO / A2C need a masked actor -----------------------------------------------------------------

def test_tianshou_masked_actor_gives_masked_actions_zero_probability():
    pytest.importorskip("tianshou")
    import torch
    from tianshou.data import Batch

    from ips_agents.integrations.tianshou import masked_actor_critic
    from ips_envs.wrappers import ActionMaskObservation

    env = ActionMaskObservation(gym.make("IPS/CausalDAG-v0"), preset="tianshou")
    obs, _ = env.reset(seed=0)
    actor, critic = masked_actor_critic(env, hidden_sizes=(16,))
    batch = Batch(obs=obs["obs"][None], mask=obs["mask"][None])
    logits, _ = actor(batch)
    probs = torch.softmax(logits, -1)[0].detach().numpy()
    assert np.all(probs[~obs["mask"]] == 0) and np.isclose(probs[obs["mask"]].sum(), 1)
    assert torch.isfinite(torch.distributions.Categorical(logits=logits).entropy()).all()
    assert critic(batch).shape == (1, 1)


def test_tianshou_example_uses_the_shipped_actor():
    assert "from ips_agents.integrations.tianshou import masked_actor_critic" in \
        (ROOT / "examples" / "tianshou_ppo.py").read_text()


# --- SB3: evaluate_policy ------------------------------------------------------------------------------------

def test_sb3_evaluate_policy_plays_illegal_actions_and_sb3_contrib_does_not():
    """SB3's evaluate_policy ignores the masks; the example and the docs use sb3-contrib's masked version."""
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.evaluation import evaluate_policy as masked_evaluate
    from stable_baselines3.common.evaluation import evaluate_policy as sb3_evaluate

    env = gym.make("IPS/CausalDAG-v0")
    model = MaskablePPO("MlpPolicy", env, seed=0, n_steps=64, batch_size=64)
    counts = {}
    for name, evaluate in (("sb3", sb3_evaluate), ("sb3-contrib", masked_evaluate)):
        illegal = []

        def count(local_vars: dict, _globals: dict) -> None:
            if local_vars["done"]:
                illegal.append(bool(local_vars["info"]["invalid_action"]))

        evaluate(model, env, n_eval_episodes=20, deterministic=False, callback=count, warn=False)
        counts[name] = sum(illegal)
    assert counts["sb3"] > 0 and counts["sb3-contrib"] == 0, counts
    example = (ROOT / "examples" / "maskable_ppo.py").read_text()
    assert "from sb3_contrib.common.maskable.evaluation import evaluate_policy" in example
    assert "sb3_contrib.common.maskable.evaluation" in OTHER_LIBRARIES.read_text()


# --- action_masks() through standard Gymnasium wrappers ------------------------------------------------------

def test_action_masks_through_standard_wrappers_with_get_wrapper_attr_as_documented():
    env = gym.wrappers.TimeLimit(gym.wrappers.RecordEpisodeStatistics(gym.make("IPS/CausalDAG-v0")), 50)
    env.reset(seed=0)
    with pytest.raises(AttributeError):
        env.action_masks()  # Gymnasium 1.x wrappers do not forward attributes
    np.testing.assert_array_equal(env.get_wrapper_attr("action_masks")(), env.unwrapped.action_masks())
    assert 'get_wrapper_attr("action_masks")' in OTHER_LIBRARIES.read_text()


# --- RLlib example text, plain ids in fresh processes --------------------------------------------------------

def test_rllib_example_no_longer_says_plain_ids_fail_in_workers():
    text = (ROOT / "examples" / "rllib_ppo.py").read_text()
    assert "Namespace IPS not found" not in text and "Plain \"IPS/...\" ids work in the remote runner" in text


def test_editable_wheel_ships_the_startup_file(tmp_path):
    """`pip install -e .` installs the editable wheel setuptools builds: it must carry ips_rl_gymnasium.pth."""
    code = "import sys; from setuptools import build_meta; print(build_meta.build_editable(sys.argv[1]))"
    run = run_process([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                      timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    wheel = tmp_path / run.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(ips_envs_plugin.PTH_NAME).decode() == ips_envs_plugin.PTH_LINE


def test_plain_ids_in_a_fresh_process():
    code = "import gymnasium as gym; gym.make('IPS/HyperGrid-v0'); print('ok')"
    run = run_process([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
    assert ips_envs.ENV_IDS


def test_readme_links_into_the_docs_resolve():
    """The README is the front page: its links into docs/ name pages that exist."""
    readme = (ROOT / "README.md").read_text()
    links = [link.split("#")[0] for link in re.findall(r"\]\((docs/[^)]+)\)", readme)]
    assert len(links) >= 8 and all((ROOT / link).exists() for link in links), links
    for heading in ("## Two commands for a fresh clone", "## IPS with language models", "## Reliability",
                    "## Design"):
        assert heading in readme
