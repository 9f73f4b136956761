"""Shared core of every construction env: kernel protocol, Gymnasium faces, exact DP."""

from ips_envs.core.env import ConstructionEnv
from ips_envs.core.exact import exact_outcome_distribution
from ips_envs.core.kernel import ENDED_ACTION, INVALID_OUTCOME, PENDING_OUTCOME, PRUNED_OUTCOME, Kernel, State
from ips_envs.core.vector_env import ConstructionVectorEnv

__all__ = [
    "ENDED_ACTION",
    "INVALID_OUTCOME",
    "PENDING_OUTCOME",
    "PRUNED_OUTCOME",
    "ConstructionEnv",
    "ConstructionVectorEnv",
    "Kernel",
    "State",
    "exact_outcome_distribution",
]
