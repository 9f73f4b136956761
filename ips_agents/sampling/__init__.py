"""The sampler: one adapter over every supported env (:mod:`~ips_agents.sampling.group_env`) and lock-step group
rollouts into a :class:`GroupBatch` (:mod:`~ips_agents.sampling.rollout`)."""

from ips_agents.sampling.group_env import ENV_CONTRACT, GroupEnv, Obs, concat_obs, index_obs, make_group_env
from ips_agents.sampling.rollout import GroupBatch, collect_groups

__all__ = ["ENV_CONTRACT", "GroupBatch", "GroupEnv", "Obs", "collect_groups", "concat_obs", "index_obs",
           "make_group_env"]
