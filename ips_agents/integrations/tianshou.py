"""Tianshou 2.0: a masked actor (and a critic that reads the same observations) for PPO, A2C and REINFORCE.

Tianshou's DQN reads ``obs.mask`` by itself, but its actor-critic algorithms do not: their actor sees the whole
observation and samples from every action. With observations from
``ActionMaskObservation(env, preset="tianshou")`` (``{"obs": ..., "mask": ...}``), :class:`MaskedDiscreteActor`
runs its network on ``obs.obs`` and gives masked-out actions the lowest float logit, so the categorical
distribution built by :class:`tianshou.algorithm.modelfree.reinforce.DiscreteActorPolicy` never samples them
(probability exactly 0) and the log-probabilities and entropy stay finite. :class:`ObservationPart` feeds only
``obs.obs`` to a critic network::

    from tianshou.algorithm import PPO
    from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
    from ips_agents.integrations.tianshou import masked_actor_critic

    env = ActionMaskObservation(gym.make("IPS/CausalDAG-v0"), preset="tianshou")
    actor, critic = masked_actor_critic(env, hidden_sizes=(64, 64))
    policy = DiscreteActorPolicy(actor=actor, action_space=env.action_space)
    algorithm = PPO(policy=policy, critic=critic, optim=AdamOptimizerFactory(lr=3e-4))

``pip install "ips-rl[interop]"`` installs Tianshou; this module imports it, nothing else in ips-rl does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tianshou.utils.net.common import ModuleWithVectorOutput, Net
from tianshou.utils.net.discrete import AbstractDiscreteActor, DiscreteActor, DiscreteCritic


def _part(obs: Any, key: str) -> Any:
    """``obs[key]`` for a Tianshou ``Batch`` or a dict of arrays."""
    return obs[key] if isinstance(obs, dict) else getattr(obs, key)


class ObservationPart(ModuleWithVectorOutput):
    """Runs ``net`` on one entry (``key``, default ``"obs"``) of a ``Dict`` observation.

    Args:
        net: a Tianshou network with a vector output (e.g. :class:`tianshou.utils.net.common.Net`).
        key: the observation entry it reads (``"obs"`` under the ``"tianshou"`` preset).
    """

    def __init__(self, net: ModuleWithVectorOutput, key: str = "obs") -> None:
        super().__init__(net.get_output_dim())
        self.net = net
        self.key = key

    def forward(self, obs: Any, state: Any = None, info: dict[str, Any] | None = None) -> tuple[torch.Tensor, Any]:
        """The network's output on ``obs[key]`` (and its hidden state)."""
        return self.net(_part(obs, self.key), state)


class MaskedDiscreteActor(AbstractDiscreteActor):
    """A discrete actor that outputs logits with every masked-out action at the lowest float value.

    Args:
        preprocess_net: the network on the flat observation (``obs[obs_key]``), e.g. ``Net(state_shape=...,
            hidden_sizes=...)``.
        action_shape: the number of actions.
        hidden_sizes: layers of the head after ``preprocess_net`` (none by default: one linear layer).
        obs_key: the observation entry the network reads (``"obs"``).
        mask_key: the entry holding the legal-action mask (``"mask"``; True = legal).
    """

    def __init__(
        self,
        *,
        preprocess_net: ModuleWithVectorOutput,
        action_shape: int | Sequence[int],
        hidden_sizes: Sequence[int] = (),
        obs_key: str = "obs",
        mask_key: str = "mask",
    ) -> None:
        inner = DiscreteActor(preprocess_net=preprocess_net, action_shape=action_shape, hidden_sizes=hidden_sizes,
                              softmax_output=False)
        super().__init__(inner.output_dim)
        self.inner = inner
        self.obs_key = obs_key
        self.mask_key = mask_key

    def get_preprocess_net(self) -> ModuleWithVectorOutput:
        """The network on the flat observation."""
        return self.inner.get_preprocess_net()

    def forward(self, obs: Any, state: Any = None, info: dict[str, Any] | None = None) -> tuple[torch.Tensor, Any]:
        """Masked logits ``(batch, n_actions)`` for the ``Dict`` observations ``obs``, and the hidden state."""
        logits, hidden = self.inner(_part(obs, self.obs_key), state)
        mask = torch.as_tensor(np.asarray(_part(obs, self.mask_key)), dtype=torch.bool, device=logits.device)
        return logits.masked_fill(~mask, torch.finfo(logits.dtype).min), hidden


def masked_actor_critic(
    env: gym.Env, hidden_sizes: Sequence[int] = (64, 64), obs_key: str = "obs", mask_key: str = "mask"
) -> tuple[MaskedDiscreteActor, DiscreteCritic]:
    """A masked actor and a critic, each with its own MLP, for an env with ``Dict`` observations and masks.

    Args:
        env: an env whose observation space is a ``Dict`` with ``obs_key`` (a flat ``Box``) and ``mask_key``
            (``ActionMaskObservation(env, preset="tianshou")``) and whose actions are ``Discrete``.
        hidden_sizes: the hidden layers of both MLPs.
        obs_key, mask_key: the two observation entries.
    """
    state_shape = env.observation_space[obs_key].shape
    n_actions = int(env.action_space.n)
    actor = MaskedDiscreteActor(preprocess_net=Net(state_shape=state_shape, hidden_sizes=hidden_sizes),
                                action_shape=n_actions, obs_key=obs_key, mask_key=mask_key)
    critic = DiscreteCritic(preprocess_net=ObservationPart(Net(state_shape=state_shape, hidden_sizes=hidden_sizes),
                                                           key=obs_key))
    return actor, critic
