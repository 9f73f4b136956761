"""Put the legal-action mask into the observation, under the keys each RL library reads.

The envs give their mask through ``action_masks()`` and ``info["action_mask"]``. RLlib, TorchRL, Tianshou
and PettingZoo-style code read it from a ``Dict`` observation instead, each under its own keys:

========== ================== ============== ============================================================
preset     observation key    mask key       mask dtype
========== ================== ============== ============================================================
"rllib"    ``observations``   ``action_mask`` float32 (RLlib's action-masking RLModule)
"torchrl"  ``observation``    ``action_mask`` bool (``GymWrapper`` + ``ActionMask`` / ``MaskedCategorical``)
"tianshou" ``obs``            ``mask``        bool (Tianshou's ``obs.obs`` / ``obs.mask``)
========== ================== ============== ============================================================

::

    import gymnasium as gym
    import ips_envs
    from ips_envs.wrappers import ActionMaskObservation

    env = ActionMaskObservation(gym.make("IPS/CausalDAG-v0"), preset="rllib")
    envs = ActionMaskObservation(gym.make_vec("IPS/CausalDAG-v0", num_envs=8), preset="torchrl")
    custom = ActionMaskObservation(gym.make("IPS/HyperGrid-v0"), obs_key="x", mask_key="legal", dtype="int8")

``action_masks()`` keeps working through the wrapper, and through any standard Gymnasium wrapper around
it with ``env.get_wrapper_attr("action_masks")()`` (Gymnasium 1.x wrappers do not forward attributes).
Once an episode has ended the mask allows only :data:`ips_envs.ENDED_ACTION`, so no consumer sees an
all-False mask. The wrapper works on any env with ``Discrete`` actions and an ``action_masks()`` method.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from ips_envs.core.kernel import ended_masks


class MaskLayout(NamedTuple):
    """Where a library expects the observation and the mask in a ``Dict`` observation."""

    obs_key: str
    mask_key: str
    dtype: type


PRESETS: dict[str, MaskLayout] = {
    "rllib": MaskLayout("observations", "action_mask", np.float32),
    "torchrl": MaskLayout("observation", "action_mask", np.bool_),
    "tianshou": MaskLayout("obs", "mask", np.bool_),
}
"""Preset name -> (observation key, mask key, mask dtype)."""


def mask_layout(
    preset: str | None, obs_key: str | None, mask_key: str | None, dtype: Any | None
) -> MaskLayout:
    """The layout of ``preset`` (default ``"torchrl"``) with any of its keys or dtype overridden."""
    if preset is None:
        preset = "torchrl"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)} (or custom keys)")
    base = PRESETS[preset]
    layout = MaskLayout(
        base.obs_key if obs_key is None else obs_key,
        base.mask_key if mask_key is None else mask_key,
        base.dtype if dtype is None else np.dtype(dtype).type,
    )
    for name, key in (("obs_key", layout.obs_key), ("mask_key", layout.mask_key)):
        if not isinstance(key, str) or not key:
            raise ValueError(f"{name} must be a non-empty str, got {key!r}")
    if layout.obs_key == layout.mask_key:
        raise ValueError(f"obs_key and mask_key must differ, both are {layout.obs_key!r}")
    if not (np.issubdtype(layout.dtype, np.number) or layout.dtype is np.bool_):
        raise ValueError(f"mask dtype must be bool or numeric, got {np.dtype(layout.dtype)}")
    return layout


def _mask_space(n: int, dtype: type) -> spaces.Box:
    return spaces.Box(0, 1, (n,), dtype=dtype)


def _n_actions(space: spaces.Space, what: str) -> int:
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"ActionMaskObservation needs a Discrete action space, got {space} for {what}")
    return int(space.n)


def _env_masks(env: gym.Env | VectorEnv) -> np.ndarray:
    """The legal-action masks of ``env`` through any wrappers (bool)."""
    return np.asarray(env.get_wrapper_attr("action_masks")() if isinstance(env, gym.Env) else _vector_masks(env),
                      dtype=bool)


def _vector_masks(env: VectorEnv) -> np.ndarray:
    base = env.unwrapped
    if hasattr(base, "action_masks"):
        return base.action_masks()
    return np.stack(base.call("action_masks"))


class ActionMaskObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """``Dict`` observations ``{obs_key: observation, mask_key: legal-action mask}`` for a single or vector env.

    Args:
        env: a Gymnasium env (or vector env: the vector wrapper :class:`VectorActionMaskObservation` is
            returned) with ``Discrete`` actions and ``action_masks()``.
        preset: ``"rllib"``, ``"torchrl"`` (the default) or ``"tianshou"`` (see :data:`PRESETS`).
        obs_key, mask_key, dtype: override the preset's keys and mask dtype (e.g. ``dtype="int8"``).
    """

    def __new__(cls, env: Any = None, *args: Any, **kwargs: Any) -> Any:
        if cls is ActionMaskObservation and isinstance(env, VectorEnv):
            return VectorActionMaskObservation(env, *args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        env: gym.Env,
        preset: str | None = None,
        *,
        obs_key: str | None = None,
        mask_key: str | None = None,
        dtype: Any | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, preset=preset, obs_key=obs_key, mask_key=mask_key, dtype=dtype)
        gym.Wrapper.__init__(self, env)
        self.layout = mask_layout(preset, obs_key, mask_key, dtype)
        n = _n_actions(env.action_space, str(env))
        self.observation_space = spaces.Dict(
            {self.layout.obs_key: env.observation_space, self.layout.mask_key: _mask_space(n, self.layout.dtype)}
        )

    def _observe(self, obs: Any) -> dict[str, Any]:
        return {self.layout.obs_key: obs, self.layout.mask_key: self.action_masks().astype(self.layout.dtype)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observe(obs), info

    def step(self, action: Any) -> tuple[dict, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(obs), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Bool legal-action mask of the wrapped env."""
        return _env_masks(self.env)


class VectorActionMaskObservation(VectorWrapper):
    """The vector-env form of :class:`ActionMaskObservation` (batched ``Dict`` observations).

    Works in every autoreset mode; in ``SAME_STEP`` the terminal observations in ``info["final_obs"]``
    become the same ``Dict``, with the terminal mask from ``info["final_info"]["action_mask"]``.
    ``action_masks()``, ``call``, ``get_attr`` and ``set_attr`` reach the wrapped env.
    """

    def __init__(
        self,
        env: VectorEnv,
        preset: str | None = None,
        *,
        obs_key: str | None = None,
        mask_key: str | None = None,
        dtype: Any | None = None,
    ) -> None:
        super().__init__(env)
        self.layout = mask_layout(preset, obs_key, mask_key, dtype)
        n = _n_actions(env.single_action_space, str(env))
        self.single_observation_space = spaces.Dict(
            {self.layout.obs_key: env.single_observation_space, self.layout.mask_key: _mask_space(n, self.layout.dtype)}
        )
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def _observe(self, obs: Any) -> dict[str, Any]:
        return {self.layout.obs_key: obs, self.layout.mask_key: self.action_masks().astype(self.layout.dtype)}

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observe(obs), info

    def step(self, actions: Any) -> tuple[dict, Any, Any, Any, dict]:
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        if self.env.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP and "final_obs" in info:
            info = dict(info)
            final_obs = info["final_obs"].copy()
            final_masks = info.get("final_info", {}).get("action_mask")
            if final_masks is None:  # an env without info masks: the ended-episode mask
                final_masks = ended_masks(self.num_envs, int(self.single_action_space.n))
            for i in np.flatnonzero(info["_final_obs"]):
                mask = np.asarray(final_masks[i])
                final_obs[i] = {self.layout.obs_key: final_obs[i], self.layout.mask_key: mask.astype(self.layout.dtype)}
            info["final_obs"] = final_obs
        return self._observe(obs), rewards, terminated, truncated, info

    @property
    def autoreset_mode(self) -> AutoresetMode | None:
        """The wrapped env's autoreset mode (TorchRL reads this attribute)."""
        return self.env.metadata.get("autoreset_mode")

    def action_masks(self) -> np.ndarray:
        """Bool ``[num_envs, n_actions]`` legal-action masks of the wrapped env."""
        return _env_masks(self.env)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """``call`` of the wrapped vector env."""
        return _vector_target(self.env, "call").call(name, *args, **kwargs)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """``get_attr`` of the wrapped vector env."""
        return _vector_target(self.env, "get_attr").get_attr(name)

    def set_attr(self, name: str, values: Any) -> None:
        """``set_attr`` of the wrapped vector env."""
        _vector_target(self.env, "set_attr").set_attr(name, values)


def _vector_target(env: VectorEnv, method: str) -> VectorEnv:
    """The outermost env of a vector-wrapper stack that has ``method`` (Gymnasium's wrappers lack call etc.)."""
    while not hasattr(env, method) and isinstance(env, VectorWrapper):
        env = env.env
    return env

