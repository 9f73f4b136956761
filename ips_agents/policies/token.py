"""A masked actor over entity tokens: shared embeddings, permutation-equivariant mixing, per-entity logits.

The flat observation of a construction env is split into entities by the env's
:class:`~ips_envs.core.tokens.TokenLayout` (voxel columns, ordered node pairs of a causal graph). Every entity
is embedded by the same linear map plus a learned embedding of its slot; ``n_layers`` residual layers update
each entity from itself and the mean over all entities (``encoder="pool"``, DeepSets-style, the default) or by
self-attention (``encoder="attention"``, a pre-norm transformer encoder, about 4x slower at the same width);
a summary token (which also sees the layout's global features) takes part in the mixing. An action's logit is
read from the entity it acts on (one shared scalar head) or, for actions tied to no entity (stop), from the
summary token. The weights are shared across entities, so what the policy learns about one column or one
edge transfers to every other one and to task combinations it never saw in training.

``IPSGRPO("TokenPolicy", env)`` takes the layout from the env (``env.unwrapped.token_layout``); pass
``policy_kwargs={"layout": ...}`` to override it. Saved models keep the layout. ``IPSGRPO("auto", env)``
picks this policy wherever the env advertises a layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from ips_agents.policies.masked_actor import MaskedActorPolicy
from ips_envs.core.tokens import PAD, POOLED, TokenLayout


ENCODERS = ("pool", "attention")


class _PoolMix(nn.Module):
    """Residual layer: each token is updated from itself, the mean of all tokens and, for every neighbourhood of
    the layout, the mean of the group it reads. Each group's mean is projected once and handed to its readers
    (one projection per group rather than per reading token: the same function, a few times cheaper)."""

    def __init__(self, d: int, activation_fn: type[nn.Module], groups: _Groups | None) -> None:
        super().__init__()
        k = 0 if groups is None else groups.n_hoods
        bound = (d * (1 + k)) ** -0.5  # the init of one Linear over the concatenated means
        self.own = nn.Linear(d, 2 * d)
        self.pooled = nn.Parameter(th.empty(d, 2 * d).uniform_(-bound, bound))
        self.near = nn.Parameter(th.empty(k, d, 2 * d).uniform_(-bound, bound)) if k else None
        self.act = activation_fn()
        self.out = nn.Linear(2 * d, d)
        self.groups = groups

    def forward(self, x: th.Tensor) -> th.Tensor:
        h = self.own(x) + x.mean(dim=1, keepdim=True) @ self.pooled
        if self.near is not None:
            g = self.groups
            means = th.einsum("gt,ntd->ngd", g.average, x)
            proj = th.einsum("ngd,gdo->ngo", means, self.near[g.hood])
            h = h + th.einsum("tg,ngo->nto", g.readers, proj)
        return x + self.out(self.act(h))


class _Groups(nn.Module):
    """The neighbourhoods of a layout over ``T = E + 1`` tokens (the summary token first, in no group):
    ``average [G, T]`` (row ``g`` averages the members of group ``g``), ``hood [G]`` (the neighbourhood of each
    group) and ``readers [T, G]`` (1 where token ``t`` reads group ``g``; one group per neighbourhood)."""

    def __init__(self, layout: TokenLayout) -> None:
        super().__init__()
        rows, hood, reads_of = [], [], []
        for k, (member, reads) in enumerate(layout.neighbourhoods):
            ids = sorted(set(member))
            base = len(rows)
            member_arr = np.asarray(member)
            for gid in ids:
                row = np.zeros(layout.n_tokens + 1)
                row[1:][member_arr == gid] = 1.0
                rows.append(row / row.sum())
                hood.append(k)
            reads_of.append([base + ids.index(r) for r in reads])
        readers = np.zeros((layout.n_tokens + 1, len(rows)))
        for groups in reads_of:
            readers[1 + np.arange(layout.n_tokens), groups] = 1.0
        self.n_hoods = len(reads_of)
        self.register_buffer("average", th.as_tensor(np.asarray(rows), dtype=th.float32), persistent=False)
        self.register_buffer("hood", th.as_tensor(np.asarray(hood, dtype=np.int64)), persistent=False)
        self.register_buffer("readers", th.as_tensor(readers, dtype=th.float32), persistent=False)


class TokenPolicy(MaskedActorPolicy):
    """Masked categorical actor whose network mixes the env's entity tokens (pooling or attention).

    Args:
        observation_space: a flat ``Box`` (the layout's indices refer to it).
        action_space: ``Discrete(A)`` with ``A == layout.n_actions``.
        lr_schedule: learning-rate schedule (SB3 convention).
        layout: the :class:`~ips_envs.core.tokens.TokenLayout` (or its ``to_dict()`` form). Required; the
            algorithms fill it in from the env when it is not given.
        d_model: embedding width (default 32).
        n_layers: transformer encoder layers (default 2).
        n_heads: attention heads (``encoder="attention"`` only; default 4).
        slot_embedding: add a learned embedding per entity slot (default True; it tells apart entities whose
            features coincide and fixed orders such as a canonical edge order). Without it the policy is
            equivariant to permutations of the entities.
        encoder: ``"pool"`` (default) or ``"attention"`` (see the module docstring).
        neighbourhoods: with ``encoder="pool"``, also mix in the means over the layout's neighbourhoods (e.g. the
            pairs leaving or entering a node, the columns of a grid row); default True.
        activation_fn, optimizer_class, optimizer_kwargs, normalize_images, deduplicate: as in
            :class:`MaskedActorPolicy` (every row is encoded independently, so deduplication is exact).
        net_arch: accepted for compatibility with the other policies and ignored.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        layout: TokenLayout | Mapping[str, Any] | None = None,
        d_model: int = 32,
        n_layers: int = 2,
        n_heads: int = 4,
        slot_embedding: bool = True,
        encoder: str = "pool",
        neighbourhoods: bool = True,
        **kwargs: Any,
    ) -> None:
        if layout is None:
            raise ValueError("TokenPolicy needs a token layout: use an env that advertises one "
                             "(env.unwrapped.token_layout) or pass policy_kwargs={'layout': ...}")
        if isinstance(layout, Mapping):
            layout = TokenLayout.from_dict(layout)
        if not isinstance(layout, TokenLayout):
            raise ValueError(f"layout must be a TokenLayout or its dict form, got {type(layout).__name__}")
        if not isinstance(observation_space, spaces.Box) or observation_space.shape != (layout.obs_dim,):
            raise ValueError(f"the layout describes flat observations of length {layout.obs_dim}, but the "
                             f"observation space is {observation_space}")
        if isinstance(action_space, spaces.Discrete) and layout.n_actions != int(action_space.n):
            raise ValueError(f"the layout has {layout.n_actions} actions, the action space {action_space.n}")
        for name, value in (("d_model", d_model), ("n_layers", n_layers), ("n_heads", n_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {list(ENCODERS)}, got {encoder!r}")
        if encoder == "attention" and d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be a multiple of n_heads={n_heads}")
        self.layout = layout
        self.d_model, self.n_layers, self.n_heads = d_model, n_layers, n_heads
        self.slot_embedding = bool(slot_embedding)
        self.encoder_kind = encoder
        self.neighbourhoods = bool(neighbourhoods)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_network(self) -> None:
        """Entity embeddings, the pooling (or attention) encoder and the per-entity and pooled heads."""
        layout, d_model = self.layout, self.d_model
        self.features_extractor = self.make_features_extractor()
        self.features_dim = self.features_extractor.features_dim
        idx = np.asarray(layout.features, dtype=np.int64)
        self.register_buffer("_feature_index", th.as_tensor(np.where(idx == PAD, layout.obs_dim, idx)),
                             persistent=False)
        self.register_buffer("_global_index", th.as_tensor(np.asarray(layout.global_features, np.int64)),
                             persistent=False)
        tokens = np.asarray(layout.action_tokens, dtype=np.int64)
        self.register_buffer("_action_token", th.as_tensor(np.maximum(tokens, 0)), persistent=False)
        self.register_buffer("_pooled_action", th.as_tensor(tokens == POOLED), persistent=False)
        self.embed = nn.Linear(layout.n_features, d_model)
        self.slots = nn.Parameter(th.zeros(layout.n_tokens, d_model)) if self.slot_embedding else None
        if self.slots is not None:
            nn.init.normal_(self.slots, std=0.1)
        self.summary = nn.Parameter(th.zeros(d_model))
        self.embed_global = nn.Linear(len(layout.global_features), d_model) if layout.global_features else None
        if self.encoder_kind == "attention":
            layer = nn.TransformerEncoderLayer(d_model, self.n_heads, dim_feedforward=2 * d_model, dropout=0.0,
                                               activation="relu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, self.n_layers, enable_nested_tensor=False)
        else:
            groups = _Groups(layout) if layout.neighbourhoods and self.neighbourhoods else None
            self.encoder = nn.Sequential(*[_PoolMix(d_model, self.activation_fn, groups)
                                           for _ in range(self.n_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.token_head = nn.Linear(d_model, 1)
        self.pooled_head = nn.Linear(d_model, int(self.action_space.n))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(layout=self.layout.to_dict(), d_model=self.d_model, n_layers=self.n_layers,
                    n_heads=self.n_heads, slot_embedding=self.slot_embedding, encoder=self.encoder_kind,
                    neighbourhoods=self.neighbourhoods)
        return data

    def encode(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """``(entity embeddings [N, E, d], summary embedding [N, d])`` after the encoder."""
        flat = self.extract_features(obs, self.features_extractor)
        padded = th.cat([flat, flat.new_zeros(len(flat), 1)], dim=1)
        x = self.embed(padded[:, self._feature_index])
        if self.slots is not None:
            x = x + self.slots
        s = self.summary.expand(len(flat), 1, -1)
        if self.embed_global is not None:
            s = s + self.embed_global(flat[:, self._global_index])[:, None, :]
        h = self.norm(self.encoder(th.cat([s, x], dim=1)))
        return h[:, 1:], h[:, 0]

    def logits(self, obs: th.Tensor) -> th.Tensor:
        """Unmasked action logits ``[N, A]``: per-entity head where the layout ties an action to an entity."""
        tokens, summary = self.encode(obs)
        per_token = self.token_head(tokens).squeeze(-1)[:, self._action_token]
        return th.where(self._pooled_action, self.pooled_head(summary), per_token)
