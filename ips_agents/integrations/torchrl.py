"""TorchRL 0.14: one call that turns an IPS env or vector env, in any autoreset mode TorchRL takes, into a masked env.

TorchRL keeps every entry of a step in a tensordict of tensors. Two things of an IPS vector env do not fit its
``GymWrapper`` in ``SAME_STEP`` mode: the string ``info["outcome"]`` (TorchRL's info reader stacks every info
entry into a tensor and fails with "indexing a tensordict with td.batch_dims==0 ...") and a ``Dict``
observation (its terminal-observation reader cannot iterate ``final_obs`` as a dict). :func:`make_torchrl_env`
picks what works for each case:

* a single env, or a vector env in ``DISABLED`` mode (TorchRL resets finished copies itself; its preferred
  mode): ``GymWrapper(ActionMaskObservation(env, preset="torchrl"))``;
* a vector env in ``SAME_STEP`` mode: ``GymWrapper(TensorInfo(env))``, the flat observation with the mask read
  from ``info["action_mask"]`` (and from ``final_info`` at episode ends), the string outcome left out;
* a vector env in ``NEXT_STEP`` mode: refused, as TorchRL's ``GymWrapper`` takes ``SAME_STEP`` or ``DISABLED``
  only;

and appends TorchRL's ``ActionMask`` transform, so ``env.rand_step()``, ``check_env_specs`` and an actor with
``MaskedCategorical`` / ``MaskedOneHotCategorical`` (``in_keys={"logits": ..., "mask": "action_mask"}``)
only take legal actions::

    from ips_agents.integrations.torchrl import make_torchrl_env

    env = make_torchrl_env(gym.make_vec("IPS/CausalDAG-v0", num_envs=8, autoreset_mode="SameStep"))
    td = env.rollout(50, break_when_any_done=False)        # td["action_mask"], td["next", "valid"], ...

The numeric info entries (``valid``, ``invalid_action``, ``path_count``, ...) come through as tensors under
their own keys. The outcome keys are strings: read them from the Gymnasium env (``info["outcome"]``) when you
need them, or evaluate the trained policy with ``ips_agents.evaluation`` on a plain env.

``pip install "ips-rl[interop]"`` installs TorchRL; this module imports it, nothing else in ips-rl does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from torchrl.envs import ActionMask, EnvBase, GymWrapper, TransformedEnv

from ips_envs.wrappers import ActionMaskObservation

FINAL_INFO = "final_info"


def tensor_info(info: dict[str, Any], drop: Iterable[str] = ()) -> dict[str, Any]:
    """The entries of a vector env's ``info`` that TorchRL can hold as tensors (numeric or bool arrays).

    Strings and other object arrays (``outcome``) are left out, with their ``_key`` presence masks, as are the
    keys in ``drop``; ``final_info`` (``SAME_STEP`` mode) is filtered the same way.
    """
    dropped = set(drop)
    kept: dict[str, Any] = {}
    for key, value in info.items():
        if key == FINAL_INFO and isinstance(value, dict):
            kept[key] = tensor_info(value, dropped)
            continue
        name = key[1:] if key.startswith("_") and key[1:] in info else key
        source = info.get(name, value)
        if name in dropped or not _is_numeric(source):
            continue
        kept[key] = value
    return kept


def _is_numeric(value: Any) -> bool:
    """Whether ``value`` is a bool or numeric array (or scalar)."""
    array = np.asarray(value)
    return array.dtype.kind in "biuf"


class TensorInfo(VectorWrapper):
    """A vector env whose info dicts hold only what TorchRL can stack into tensors (see :func:`tensor_info`).

    Args:
        env: a Gymnasium vector env.
        drop: further info keys to leave out.
    """

    def __init__(self, env: VectorEnv, drop: Iterable[str] = ()) -> None:
        super().__init__(env)
        self.drop = tuple(drop)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        """The wrapped env's autoreset mode (TorchRL's ``GymWrapper`` reads it from the env it wraps)."""
        return self.env.metadata.get("autoreset_mode", getattr(self.env, "autoreset_mode", AutoresetMode.NEXT_STEP))

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Reset, with the info filtered."""
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, tensor_info(info, self.drop)

    def step(self, actions: Any):
        """Step, with the info filtered."""
        obs, rewards, terminations, truncations, info = self.env.step(actions)
        return obs, rewards, terminations, truncations, tensor_info(info, self.drop)


def make_torchrl_env(env: gym.Env | VectorEnv, **gym_wrapper_kwargs: Any) -> EnvBase:
    """A TorchRL env with an ``"action_mask"`` entry and the ``ActionMask`` transform, for an IPS env or vector env.

    Args:
        env: a Gymnasium env with ``Discrete`` actions and ``action_masks()``, or a vector env of such envs in
            ``SAME_STEP`` or ``DISABLED`` autoreset mode (``gym.make_vec(..., autoreset_mode="SameStep")``).
        gym_wrapper_kwargs: passed to ``torchrl.envs.GymWrapper`` (``device=...``, ...).

    Raises:
        ValueError: for a vector env in ``NEXT_STEP`` mode (TorchRL cannot tell its reset steps apart).
    """
    if isinstance(env, VectorEnv):
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode == AutoresetMode.NEXT_STEP:
            raise ValueError("TorchRL's GymWrapper takes vector envs in SAME_STEP or DISABLED autoreset mode; "
                             "make it with gym.make_vec(..., autoreset_mode=\"SameStep\") or \"Disabled\"")
        if mode == AutoresetMode.SAME_STEP:
            return _with_action_mask(GymWrapper(TensorInfo(env), **gym_wrapper_kwargs))
    return _with_action_mask(GymWrapper(ActionMaskObservation(env, preset="torchrl"), **gym_wrapper_kwargs))


def _with_action_mask(env: EnvBase) -> TransformedEnv:
    """``env`` with TorchRL's ``ActionMask`` transform appended (``GymWrapper`` of a vector env is already a
    ``TransformedEnv``: its ``VecGymEnvTransform`` swaps the terminal observations in)."""
    if isinstance(env, TransformedEnv):
        env.append_transform(ActionMask())
        return env
    return TransformedEnv(env, ActionMask())
