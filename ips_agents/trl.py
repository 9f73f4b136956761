"""IPS for TRL's ``GRPOTrainer`` (the user-facing name of :mod:`ips_agents.integrations.trl`).

``import ips_agents.trl`` imports TRL (the ``[llm]`` extra); the rest of ``ips_agents`` never does.
"""

from ips_agents.integrations.trl import NO_ANSWER, IPSReward, completion_text, task_dataset

__all__ = ["NO_ANSWER", "IPSReward", "completion_text", "task_dataset"]
