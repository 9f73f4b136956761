"""ips_agents: IPS-GRPO and baselines on the Stable-Baselines3 interface, plus outcome-level evaluation.

    from ips_agents import IPSGRPO, GRPO
    model = IPSGRPO("MlpPolicy", "IPS/PathMultiplicity-v0", group_size=16, n_groups=4, seed=0)
    model.learn(20_000, progress_bar=True)

Packages, bottom to top: :mod:`~ips_agents.estimators` (the IPS arithmetic), :mod:`~ips_agents.sampling`
(group rollouts over any env), :mod:`~ips_agents.policies` (masked actors), :mod:`~ips_agents.algorithms`
(``GroupAlgorithm``, IPS-GRPO, GRPO, trajectory balance, the settings table), :mod:`~ips_agents.evaluation`,
:mod:`~ips_agents.runs` (run settings, run folders, sweeps), :mod:`~ips_agents.cli` (``ips-rl``);
:mod:`~ips_agents.molecules` and :mod:`~ips_agents.integrations` (TRL, verl, Ray Tune, ...) sit beside them.
"""

import ips_envs  # noqa: F401  (registers the IPS/ ids)
from ips_agents.algorithms import GRPO, IPSGRPO, GroupAlgorithm, TrajectoryBalance
from ips_agents.policies import MaskedActorPolicy, MultiInputMaskedActorPolicy, TokenPolicy

__all__ = ["GRPO", "IPSGRPO", "GroupAlgorithm", "MaskedActorPolicy", "MultiInputMaskedActorPolicy", "TokenPolicy",
           "TrajectoryBalance"]
