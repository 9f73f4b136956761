"""Masked categorical actor with no value head (the policy of IPS-GRPO, GRPO and trajectory balance)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    create_mlp,
)
from stable_baselines3.common.type_aliases import Schedule
from torch import nn


class MaskedActorPolicy(BasePolicy):
    """Features extractor -> MLP (``net_arch``) -> action logits, sampled through a masked categorical.

    Args:
        observation_space: the env's single observation space.
        action_space: a ``Discrete`` space.
        lr_schedule: learning-rate schedule (SB3 convention); builds the Adam optimizer.
        net_arch: hidden layer sizes (default ``[256, 256]``).
        activation_fn: hidden activation (default ``nn.ReLU``).
        features_extractor_class / features_extractor_kwargs: SB3 features extractor.
        optimizer_class / optimizer_kwargs: torch optimizer.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        use_sde: bool = False,
    ) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"MaskedActorPolicy needs a Discrete action space, got {action_space}")
        self._init_base(observation_space, action_space, features_extractor_class, features_extractor_kwargs,
                        normalize_images, optimizer_class, optimizer_kwargs, use_sde)
        self.net_arch = [256, 256] if net_arch is None else list(net_arch)
        self.activation_fn = activation_fn
        self.features_extractor = self.make_features_extractor()
        self.features_dim = self.features_extractor.features_dim
        layers = create_mlp(self.features_dim, int(action_space.n), self.net_arch, activation_fn)
        self.logits_net = nn.Sequential(*layers)
        self._init_head(lr_schedule)

    def _init_base(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        features_extractor_class: type[BaseFeaturesExtractor],
        features_extractor_kwargs: dict[str, Any] | None,
        normalize_images: bool,
        optimizer_class: type[th.optim.Optimizer],
        optimizer_kwargs: dict[str, Any] | None,
        use_sde: bool,
    ) -> None:
        """SB3's policy set-up, before a subclass builds the network that produces :meth:`logits`."""
        if use_sde:
            raise ValueError("use_sde is not supported by a categorical policy")
        BasePolicy.__init__(
            self,
            observation_space,
            action_space,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )

    def _init_head(self, lr_schedule: Schedule) -> None:
        """The masked categorical and the optimizer, once the network's parameters exist."""
        self.action_dist = MaskableCategoricalDistribution(int(self.action_space.n))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(net_arch=self.net_arch, activation_fn=self.activation_fn, lr_schedule=lambda _: 0.0)
        return data

    def logits(self, obs: th.Tensor) -> th.Tensor:
        """Unmasked action logits ``[N, A]``."""
        return self.logits_net(self.extract_features(obs, self.features_extractor))

    def distribution(self, obs: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None):
        """The masked categorical distribution over actions."""
        dist = self.action_dist.proba_distribution(action_logits=self.logits(obs))
        if action_masks is not None:
            dist.apply_masking(action_masks)
        return dist

    def forward(
        self, obs: th.Tensor, deterministic: bool = False, action_masks: th.Tensor | np.ndarray | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """Sample actions; return ``(actions, log_probs)``."""
        dist = self.distribution(obs, action_masks)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, dist.log_prob(actions)

    def evaluate_actions(
        self, obs: th.Tensor, actions: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """Log-probabilities and entropies of ``actions`` under the current policy."""
        dist = self.distribution(obs, action_masks)
        return dist.log_prob(actions), dist.entropy()

    def action_probs(self, obs: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None) -> th.Tensor:
        """Masked action probabilities ``[N, A]`` (exactly 0 on masked-out actions)."""
        logits = self.logits(obs)
        if action_masks is not None:
            mask = th.as_tensor(action_masks, dtype=th.bool, device=logits.device)
            logits = logits.masked_fill(~mask, -th.inf)
        return th.softmax(logits, dim=-1)

    def _predict(
        self, observation: th.Tensor, deterministic: bool = False, action_masks: np.ndarray | None = None
    ) -> th.Tensor:
        return self.forward(observation, deterministic, action_masks)[0]

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Like SB3's ``predict``, plus ``action_masks`` (bool, True = legal)."""
        self.set_training_mode(False)
        obs_tensor, vectorized = self.obs_to_tensor(observation)
        if action_masks is not None:
            action_masks = np.asarray(action_masks, dtype=bool).reshape(-1, int(self.action_space.n))
        with th.no_grad():
            actions = self._predict(obs_tensor, deterministic=deterministic, action_masks=action_masks)
        actions = actions.cpu().numpy().reshape(-1)
        if not vectorized:
            return actions[0], state  # type: ignore[return-value]
        return actions, state


class MultiInputMaskedActorPolicy(MaskedActorPolicy):
    """:class:`MaskedActorPolicy` for ``Dict`` observations (SB3's ``CombinedExtractor``)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor,
                 **kwargs: Any) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)
