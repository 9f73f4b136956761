"""Token layouts: how a flat observation splits into entities (columns, node pairs, ...) for structured policies.

A construction env's observation is one flat float vector (so ``MlpPolicy`` and every other library can use
it), but most of it describes *entities*: the columns of a voxel grid, the ordered node pairs of a causal
graph. A :class:`TokenLayout` names, for
every entity, which entries of the flat vector describe it, and, for every action, the entity it acts on.
A policy that embeds each entity with shared weights, lets the entities attend to each other and reads
an action's logit from the entity it acts on (``ips_agents.policies.token.TokenPolicy``) then treats a column
or an edge the same wherever it sits, instead of learning every combination of flat inputs separately.

Kernels advertise their layout with ``token_layout()`` (None when they have none); the env faces expose it
as ``env.unwrapped.token_layout``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

POOLED = -1
"""``action_tokens`` entry of an action whose logit is read from the pooled (whole-observation) summary."""
PAD = -1
"""``features`` entry that stands for a constant 0 (entities with fewer features than the widest one)."""


@dataclass(frozen=True)
class TokenLayout:
    """Entities of a flat observation and the entity each action acts on.

    Attributes:
        features: ``[E][F]`` indices into the flat observation: entry ``f`` of entity ``e`` is
            ``obs[features[e][f]]`` (:data:`PAD` for a constant 0). Every entity has ``F`` features.
        action_tokens: ``[A]``: the entity whose embedding gives action ``a``'s logit, or :data:`POOLED`
            (e.g. a stop action, or every action of a domain whose actions are not tied to one entity).
        global_features: indices of observation entries that describe the whole state (fed to the pooled
            summary token); may be empty.
        obs_dim: length of the flat observation the indices refer to.
        neighbourhoods: optional structure among the entities, as ``(member, read)`` pairs of ``[E]`` group ids:
            entity ``e`` belongs to group ``member[e]`` and receives the mean of the entities in group
            ``read[e]`` (e.g. for node pairs ``(i, j)``: the pairs leaving ``i``, or those leaving ``j``). A
            structured policy mixes these means in besides the mean over all entities.
    """

    features: tuple[tuple[int, ...], ...]
    action_tokens: tuple[int, ...]
    global_features: tuple[int, ...] = ()
    obs_dim: int = 0
    neighbourhoods: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        if not self.features or not self.features[0]:
            raise ValueError("a TokenLayout needs at least one entity with at least one feature")
        width = len(self.features[0])
        if any(len(row) != width for row in self.features):
            raise ValueError(f"every entity needs the same number of features ({width}); pad with PAD = -1")
        if self.obs_dim < 1:
            raise ValueError(f"obs_dim must be >= 1, got {self.obs_dim}")
        bad = [i for row in self.features for i in row if not PAD <= i < self.obs_dim]
        bad += [i for i in self.global_features if not 0 <= i < self.obs_dim]
        if bad:
            raise ValueError(f"feature index {bad[0]} is outside the observation (0..{self.obs_dim - 1}, or PAD)")
        if not self.action_tokens:
            raise ValueError("action_tokens must give one entry per action")
        bad = [t for t in self.action_tokens if not POOLED <= t < len(self.features)]
        if bad:
            raise ValueError(f"action token {bad[0]} is not an entity index (0..{len(self.features) - 1}) or POOLED")
        for k, pair in enumerate(self.neighbourhoods):
            if len(pair) != 2 or any(len(ids) != len(self.features) for ids in pair):
                raise ValueError(f"neighbourhood {k} must be a (member, read) pair of one group id per entity")
            missing = set(pair[1]) - set(pair[0])
            if missing:
                raise ValueError(f"neighbourhood {k} reads group {min(missing)}, which has no member")

    def neighbourhood_matrices(self) -> np.ndarray:
        """Float ``[K, E, E]``: row ``e`` of matrix ``k`` averages the entities of group ``read[e]``."""
        out = np.zeros((len(self.neighbourhoods), self.n_tokens, self.n_tokens))
        for k, (member, read) in enumerate(self.neighbourhoods):
            m, r = np.asarray(member), np.asarray(read)
            same = (r[:, None] == m[None, :]).astype(np.float64)
            out[k] = same / same.sum(axis=1, keepdims=True)
        return out

    @property
    def n_tokens(self) -> int:
        """Number of entities ``E``."""
        return len(self.features)

    @property
    def n_features(self) -> int:
        """Features per entity ``F``."""
        return len(self.features[0])

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return len(self.action_tokens)

    def gather(self, obs: np.ndarray) -> np.ndarray:
        """Entity features ``[N, E, F]`` of flat observations ``[N, obs_dim]`` (numpy; PAD entries are 0)."""
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"expected observations of shape [N, {self.obs_dim}], got {obs.shape}")
        padded = np.concatenate([obs, np.zeros((len(obs), 1), obs.dtype)], axis=1)
        idx = np.asarray(self.features, dtype=np.int64)
        return padded[:, np.where(idx == PAD, self.obs_dim, idx)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``TokenLayout.from_dict`` inverts it)."""
        return {"features": [list(r) for r in self.features], "action_tokens": list(self.action_tokens),
                "global_features": list(self.global_features), "obs_dim": self.obs_dim,
                "neighbourhoods": [[list(m), list(r)] for m, r in self.neighbourhoods]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenLayout:
        """Inverse of :meth:`to_dict`."""
        hoods = tuple((tuple(int(i) for i in m), tuple(int(i) for i in r)) for m, r in data.get("neighbourhoods", ()))
        return cls(tuple(tuple(int(i) for i in r) for r in data["features"]),
                   tuple(int(t) for t in data["action_tokens"]),
                   tuple(int(i) for i in data.get("global_features", ())), int(data["obs_dim"]), hoods)


def layout_from_blocks(obs_dim: int, n_tokens: int, blocks: Sequence[np.ndarray], action_tokens: Sequence[int],
                       global_features: Sequence[int] = (),
                       neighbourhoods: Sequence[tuple[Sequence[int], Sequence[int]]] = ()) -> TokenLayout:
    """A layout from feature blocks: each block is an int array ``[E]`` or ``[E, k]`` of observation indices.

    The blocks are concatenated along the feature axis (so entity ``e`` gets ``block[e]`` of every block).
    """
    cols = []
    for block in blocks:
        b = np.asarray(block, dtype=np.int64)
        b = b[:, None] if b.ndim == 1 else b
        if b.shape[0] != n_tokens:
            raise ValueError(f"a feature block has {b.shape[0]} rows, expected one per entity ({n_tokens})")
        cols.append(b)
    feats = np.concatenate(cols, axis=1)
    hoods = tuple((tuple(int(i) for i in m), tuple(int(i) for i in r)) for m, r in neighbourhoods)
    return TokenLayout(tuple(tuple(int(i) for i in row) for row in feats.tolist()),
                       tuple(int(t) for t in action_tokens), tuple(int(i) for i in global_features), obs_dim, hoods)
