"""TorchRL 0.14: GymWrapper / GymEnv + ActionMask on every id, and the vector env in DISABLED mode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torchrl = pytest.importorskip("torchrl")

import torch  # noqa: E402
from torchrl.envs import ActionMask, GymEnv, GymWrapper, TransformedEnv  # noqa: E402
from torchrl.data import Binary  # noqa: E402
from torchrl.envs.libs.gym import default_info_dict_reader  # noqa: E402
from torchrl.envs.utils import check_env_specs  # noqa: E402

from ips_envs.wrappers import ActionMaskObservation  # noqa: E402


def _masked(env) -> TransformedEnv:
    return TransformedEnv(GymWrapper(ActionMaskObservation(env, preset="torchrl")), ActionMask())


def test_check_env_specs_every_id_ten_seeds(env_id):
    """Random masked steps run across episode ends: an ended episode keeps one legal (dummy) action."""
    env = _masked(gym.make(env_id))
    for seed in range(10):
        check_env_specs(env, seed=seed)
        td = env.rollout(env.base_env._env.unwrapped.kernel.max_length + 2, break_when_any_done=False)
        assert not (td["action"].bool() & ~td["action_mask"]).any()


def test_gym_env_by_name_reading_the_mask_from_info():
    """GymEnv makes the env by name; the info reader turns info["action_mask"] into the "action_mask" entry."""
    base = GymEnv("ips_envs:IPS/CausalDAG-v0")
    n = base.action_spec.shape[-1]
    base.set_info_dict_reader(default_info_dict_reader(["action_mask"], spec=[Binary(n, dtype=torch.bool)]))
    env = TransformedEnv(base, ActionMask())
    for seed in range(10):
        check_env_specs(env, seed=seed)
    td = env.rollout(40, break_when_any_done=False)
    assert td["next", "done"].any() and not (td["action"].bool() & ~td["action_mask"]).any()


@pytest.mark.parametrize("env_id", ["IPS/CausalDAG-v0", "IPS/SMILES-v0"])
def test_vector_env_disabled_mode(env_id):
    envs = gym.make_vec(env_id, num_envs=4, autoreset_mode="Disabled")
    env = _masked(envs)
    assert env.batch_size == torch.Size([4])
    check_env_specs(env, seed=0)
    td = env.rollout(3 * envs.unwrapped.kernel.max_length, break_when_any_done=False)
    assert td.shape[0] == 4 and not (td["action"].bool() & ~td["action_mask"]).any()
    assert td["next", "done"].any()  # episodes ended and TorchRL reset those copies itself
    np.testing.assert_array_equal(td["action_mask"].any(-1).numpy(), True)
