"""ips_envs: Gymnasium environments for sequential construction of discrete objects with many valid answers.

``import ips_envs`` registers every id under the ``IPS/`` namespace::

    import gymnasium as gym
    import ips_envs

    env = gym.make("IPS/HyperGrid-v0")
    envs = gym.make_vec("IPS/HyperGrid-v0", num_envs=256)   # one batched kernel, no Python loop over copies
"""

from ips_envs.core import (
    ENDED_ACTION,
    INVALID_OUTCOME,
    PENDING_OUTCOME,
    PRUNED_OUTCOME,
    ConstructionEnv,
    ConstructionVectorEnv,
    Kernel,
    exact_outcome_distribution,
)
from ips_envs.registration import ENVS, register_all

register_all()

ENV_IDS: tuple[str, ...] = tuple(ENVS)
"""Every registered ``IPS/`` id."""

__all__ = [
    "ENDED_ACTION",
    "ENV_IDS",
    "INVALID_OUTCOME",
    "PENDING_OUTCOME",
    "PRUNED_OUTCOME",
    "ConstructionEnv",
    "ConstructionVectorEnv",
    "Kernel",
    "exact_outcome_distribution",
]
__version__ = "0.1.0"
