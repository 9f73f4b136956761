"""ips_agents: IPS-GRPO and baselines on the Stable-Baselines3 interface, plus outcome-level evaluation.

    from ips_agents import IPSGRPO, GRPO
    model = IPSGRPO("MlpPolicy", "IPS/PathMultiplicity-v0", group_size=16, n_groups=4, seed=0)
    model.learn(20_000, progress_bar=True)
"""

import ips_envs  # noqa: F401  (registers the IPS/ ids)
from ips_agents.ips_grpo import GRPO, IPSGRPO
from ips_agents.policies import MaskedActorPolicy, MultiInputMaskedActorPolicy
from ips_agents.tb import TrajectoryBalance

__all__ = ["GRPO", "IPSGRPO", "MaskedActorPolicy", "MultiInputMaskedActorPolicy", "TrajectoryBalance"]
