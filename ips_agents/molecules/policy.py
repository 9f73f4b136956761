"""An SB3 policy for ``IPS/SMILES-v0`` whose logits come from the GRU SMILES prior (:mod:`ips_agents.molecules.prior`).

The env's observation starts with the written prefix, one entry per position: ``(token_id + 1) / 25``, 0
after its end (see :mod:`ips_envs.smiles`). :class:`SmilesPriorPolicy` decodes that prefix and runs the
GRU over ``start + prefix``; the logits after the last token are the action logits, masked by the env's
legal actions like every :class:`~ips_agents.policies.MaskedActorPolicy`. The other observation features
are not used: the policy is exactly the language model, so at initialisation (the shipped prior by
default) it *is* the prior, and IPS-GRPO's ``kl_coef`` term (to a frozen copy of the initial policy) is a
KL to the prior.

Cost: without gradients (rollouts, the KL reference) the GRU hidden state of every prefix seen is cached,
so a rollout step costs one GRU step per trajectory; the cache is dropped whenever a parameter changes
(tracked through the tensors' version counters). With gradients (the update), the steps of a batch are
grouped by trajectory (a prefix that another prefix extends is read off the longer one's run), so a
batch costs one GRU pass per distinct trajectory.

    from ips_agents import IPSGRPO
    from ips_agents.molecules import SmilesPriorPolicy
    model = IPSGRPO(SmilesPriorPolicy, "IPS/SMILES-v0", kl_coef=0.05, learning_rate=1e-4,
                    env_kwargs={"oracle": "drug_mpo"})
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import Schedule

from ips_agents.policies import MaskedActorPolicy
from ips_agents.molecules.prior import SmilesPrior
from ips_envs.core.validation import check_int
from ips_envs.smiles.grammar import N_ACTIONS, VOCAB

N_EXTRA_FEATURES = 66
"""Observation entries after the prefix block in ``IPS/SMILES-v0`` (``max_length + 66`` in total)."""


def _zero_schedule(_: float) -> float:
    return 0.0


class SmilesPriorPolicy(MaskedActorPolicy):
    """GRU language-model policy over the SMILES env's actions, initialised from a :class:`SmilesPrior`.

    Args:
        observation_space: ``IPS/SMILES-v0``'s observation space (``Box`` of ``max_length + 66``).
        action_space: ``Discrete(25)``.
        lr_schedule: SB3 learning-rate schedule (builds the optimizer).
        prior_path: checkpoint to start from (None: the packaged ``ips_agents/data/smiles_prior.pt``).
        prior_config: build an untrained network of this configuration instead of loading weights (used when
            SB3 re-creates a saved policy; the weights then come from the saved state dict).
        cache_size: most prefixes whose hidden state is cached for gradient-free calls.
        optimizer_class / optimizer_kwargs: torch optimizer.
        net_arch, activation_fn, features_extractor_*: accepted for interface compatibility, ignored.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        prior_path: str | os.PathLike[str] | None = None,
        prior_config: dict[str, Any] | None = None,
        cache_size: int = 30_000,
        **kwargs: Any,
    ) -> None:
        if not isinstance(action_space, spaces.Discrete) or int(action_space.n) != N_ACTIONS:
            raise ValueError(
                f"SmilesPriorPolicy needs IPS/SMILES-v0's Discrete({N_ACTIONS}) actions, got {action_space}"
            )
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1 \
                or observation_space.shape[0] <= N_EXTRA_FEATURES:
            raise ValueError(
                "SmilesPriorPolicy needs IPS/SMILES-v0's flat Box observation of max_length + "
                f"{N_EXTRA_FEATURES} entries, got {observation_space}"
            )
        self.cache_size = check_int("cache_size", cache_size, 0)
        self.prior_path = None if prior_path is None else str(prior_path)
        self._prior_config = prior_config
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
        self._cache: dict[bytes, th.Tensor] = {}
        self._cache_version: tuple[int, ...] | None = None

    def _build_network(self) -> None:
        """Load (or build) the prior whose logits this policy uses; it has no other network."""
        self.max_length = int(self.observation_space.shape[0]) - N_EXTRA_FEATURES
        config = self.__dict__.pop("_prior_config", None)
        prior = SmilesPrior(**config) if config is not None else SmilesPrior.load(self.prior_path)
        if prior.vocab != VOCAB:
            raise ValueError(f"the prior's vocabulary {list(prior.vocab)} is not the env's {list(VOCAB)}")
        self.prior = prior
        self.net_arch: list[int] = []

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = BasePolicy._get_constructor_parameters(self)
        data.update(
            lr_schedule=_zero_schedule,
            prior_config=self.prior.config,
            cache_size=self.cache_size,
            optimizer_class=self.optimizer_class,
            optimizer_kwargs=self.optimizer_kwargs,
        )
        return data

    def __deepcopy__(self, memo: dict[int, Any]) -> SmilesPriorPolicy:
        """Copies (e.g. IPS-GRPO's frozen KL reference) start with an empty prefix cache."""
        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        import copy

        for k, v in self.__dict__.items():
            setattr(new, k, {} if k == "_cache" else None if k == "_cache_version" else copy.deepcopy(v, memo))
        return new

    # ----------------------------------------------------------------- prefix
    def prefixes(self, obs: th.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Decode the written prefix from observations: action ids ``[N, max_length]`` (-1 after the end), lengths."""
        block = obs[:, : self.max_length].detach().float().cpu().numpy()
        codes = np.rint(block * N_ACTIONS).astype(np.int64) - 1
        if (codes < -1).any() or (codes >= N_ACTIONS - 1).any():
            raise ValueError("observation prefix entries are not (token_id + 1) / 25: is this IPS/SMILES-v0?")
        lengths = (codes >= 0).sum(axis=1)
        return codes.astype(np.int8), lengths

    def clear_cache(self) -> None:
        """Forget the cached hidden states."""
        self._cache.clear()
        self._cache_version = None

    def _param_version(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.prior.parameters())

    @staticmethod
    def _leaves(codes: np.ndarray, lengths: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Rows whose prefix no other row extends ("leaves"), and for each row (its leaf, its position)."""
        n = len(lengths)
        where: dict[bytes, tuple[int, int]] = {}
        leaves: list[int] = []
        leaf_of = np.empty(n, dtype=np.int64)
        pos_of = np.empty(n, dtype=np.int64)
        for i in np.argsort(-lengths, kind="stable"):
            length = int(lengths[i])
            row = codes[i, :length]
            hit = where.get(row.tobytes())
            if hit is None:
                j = len(leaves)
                leaves.append(int(i))
                for k in range(length + 1):
                    where.setdefault(row[:k].tobytes(), (j, k))
                hit = (j, length)
            leaf_of[i], pos_of[i] = hit
        return leaves, leaf_of, pos_of

    def _inputs(self, codes: np.ndarray, width: int) -> th.Tensor:
        """``[start, tokens...]`` inputs of width ``width + 1`` (padding replaced by token 0, never read)."""
        body = th.as_tensor(np.maximum(codes[:, :width], 0).astype(np.int64))
        start = th.full((len(codes), 1), self.prior.bos, dtype=th.long)
        return th.cat([start, body], dim=1).to(self.device)

    def _logits_grad(self, codes: np.ndarray, lengths: np.ndarray) -> th.Tensor:
        leaves, leaf_of, pos_of = self._leaves(codes, lengths)
        width = int(lengths[leaves].max()) if leaves else 0
        logits, _ = self.prior(self._inputs(codes[leaves], width))
        return logits[th.as_tensor(leaf_of, device=self.device), th.as_tensor(pos_of, device=self.device)]

    def _logits_cached(self, codes: np.ndarray, lengths: np.ndarray) -> th.Tensor:
        version = self._param_version()
        if version != self._cache_version or len(self._cache) > self.cache_size:
            self._cache.clear()
            self._cache_version = version
        n = len(lengths)
        keys = [codes[i, : int(lengths[i])].tobytes() for i in range(n)]
        hidden: list[th.Tensor | None] = [self._cache.get(k) for k in keys]
        one_step = [i for i in range(n) if hidden[i] is None and lengths[i] > 0 and keys[i][:-1] in self._cache]
        if one_step:
            h0 = th.stack([self._cache[keys[i][:-1]] for i in one_step], dim=1)
            tok = th.as_tensor(codes[one_step, lengths[one_step] - 1].astype(np.int64), device=self.device)
            _, h1 = self.prior(tok[:, None], h0)
            for j, i in enumerate(one_step):
                hidden[i] = h1[:, j]
                if self.cache_size:
                    self._cache[keys[i]] = h1[:, j]
        rest = [i for i in range(n) if hidden[i] is None]
        if rest:
            sub_codes, sub_len = codes[rest], lengths[rest]
            leaves, leaf_of, pos_of = self._leaves(sub_codes, sub_len)
            width = int(sub_len[leaves].max())
            inputs = self._inputs(sub_codes[leaves], width)
            h = self.prior.initial_hidden(len(leaves))
            per_pos = []
            for t in range(width + 1):
                _, h = self.prior(inputs[:, t : t + 1], h)
                per_pos.append(h)
            for j, i in enumerate(rest):
                hidden[i] = per_pos[pos_of[j]][:, leaf_of[j]]
            if self.cache_size:
                for li, r in enumerate(leaves):
                    row = sub_codes[r]
                    for t in range(int(sub_len[r]) + 1):
                        self._cache.setdefault(row[:t].tobytes(), per_pos[t][:, li])
        top = th.stack([hh[-1] for hh in hidden])  # type: ignore[index]
        return self.prior.head(top)

    def logits(self, obs: th.Tensor) -> th.Tensor:
        """Unmasked action logits ``[N, 25]``: the GRU's next-token logits after the observed prefix."""
        codes, lengths = self.prefixes(obs)
        if len(lengths) == 0:
            return th.zeros((0, N_ACTIONS), device=self.device)
        if th.is_grad_enabled():
            return self._logits_grad(codes, lengths)
        return self._logits_cached(codes, lengths)
