"""Masked categorical actors with no value head: one base (:mod:`~ips_agents.policies.masked_actor`, one masking
convention) and the policies built on it: the MLP (``MlpPolicy`` / ``MultiInputPolicy``) and the entity-token
policy (:mod:`~ips_agents.policies.token`). The SMILES policy lives with the molecules
(:class:`ips_agents.molecules.SmilesPriorPolicy`)."""

from ips_agents.policies.masked_actor import (
    MASKED_LOGIT,
    MAX_LAYER_WIDTH,
    MaskedActorPolicy,
    MultiInputMaskedActorPolicy,
    check_masks,
    mask_logits,
    check_net_arch,
    distinct_rows,
)
from ips_agents.policies.token import TokenPolicy

__all__ = ["MASKED_LOGIT", "MAX_LAYER_WIDTH", "MaskedActorPolicy", "MultiInputMaskedActorPolicy", "TokenPolicy",
           "check_masks", "mask_logits", "check_net_arch", "distinct_rows"]
