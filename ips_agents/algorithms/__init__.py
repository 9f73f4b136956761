"""The algorithms: a :class:`GroupAlgorithm` base (rollouts, learn loop, logging, model files) and the losses on
top of it: :class:`IPSGRPO` / :class:`GRPO` and :class:`TrajectoryBalance` (TB and FlowRL). Their settings and
defaults are one table, :data:`~ips_agents.algorithms.settings.SETTINGS`; the losses are pure torch functions in
:mod:`~ips_agents.algorithms.losses`."""

from ips_agents.algorithms.base import AUTO_POLICY, GroupAlgorithm, default_policy_class
from ips_agents.algorithms.finite import NonFiniteUpdate
from ips_agents.algorithms.ips_grpo import ESTIMATORS, GRPO, IPSGRPO
from ips_agents.algorithms.model_files import ModelClassMismatch
from ips_agents.algorithms.settings import SETTINGS, Setting
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance

__all__ = ["AUTO_POLICY", "ESTIMATORS", "GRPO", "IPSGRPO", "SETTINGS", "GroupAlgorithm", "ModelClassMismatch",
           "NonFiniteUpdate", "Setting", "TrajectoryBalance", "default_policy_class"]
