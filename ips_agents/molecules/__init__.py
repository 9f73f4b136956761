"""Molecule-specific agent code for ``IPS/SMILES-v0`` (the env side is :mod:`ips_envs.smiles`, its grammar and
:mod:`ips_envs.smiles.oracle`).

* :mod:`~ips_agents.molecules.prior`: :class:`SmilesPrior`, the GRU SMILES language model over the env's
  actions (the packaged checkpoint ``ips_agents/data/smiles_prior.pt``), its sampler and its training;
* :mod:`~ips_agents.molecules.policy`: :class:`SmilesPriorPolicy`, the SB3 policy whose logits come from a
  prior (IPS-GRPO's initial policy and KL reference);
* :mod:`~ips_agents.molecules.reinvent`: :class:`Reinvent`, the REINVENT-style baseline (DAP loss,
  Murcko diversity filter, replay memory);
* :mod:`~ips_agents.molecules.metrics`: Yield, Oracle Burden, PMO AUC top-k, internal diversity,
  scaffolds and #Circles from an oracle history;

The ``ips-rl prior train|sample`` command that trains and samples the prior is :mod:`ips_agents.cli.prior`.

    from ips_agents import IPSGRPO
    from ips_agents.molecules import SmilesPriorPolicy, metrics
    from ips_envs.smiles import Oracle

    oracle = Oracle("drug_mpo", budget=10_000)
    model = IPSGRPO(SmilesPriorPolicy, "IPS/SMILES-v0", env_kwargs={"oracle": oracle}, kl_coef=0.01,
                    learning_rate=1e-3)
    ...
    print(metrics.summary(oracle, thresholds=(0.8, 0.85), budget=10_000))
"""

from ips_agents.molecules import metrics
from ips_agents.molecules.policy import SmilesPriorPolicy
from ips_agents.molecules.prior import PriorSamples, SmilesPrior, default_prior_path
from ips_agents.molecules.prior_training import train_prior
from ips_agents.molecules.reinvent import DiversityFilter, ReplayMemory, Reinvent, dap_loss, murcko_scaffold

__all__ = [
    "DiversityFilter",
    "PriorSamples",
    "Reinvent",
    "ReplayMemory",
    "SmilesPrior",
    "SmilesPriorPolicy",
    "dap_loss",
    "default_prior_path",
    "metrics",
    "murcko_scaffold",
    "train_prior",
]
