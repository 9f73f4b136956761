"""Masked categorical actor with no value head (the policy of IPS-GRPO, GRPO and trajectory balance)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    create_mlp,
)
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

MASKED_LOGIT = -1e8
"""Logit given to masked-out actions before the softmax (sb3-contrib's value): the one masking convention of the
project's policies. Finite, so a row's log-softmax never meets ``inf - inf``, and far enough below any real logit
that a masked-out action's probability is exactly 0 in float32."""


def sample_log_probs(logp: th.Tensor) -> th.Tensor:
    """One action per row ``[N, 1]`` drawn from the categorical with log-probabilities ``logp`` ``[N, A]``.

    Gumbel-max: ``argmax(log p - log E)`` with ``E ~ Exp(1)`` (``-log E`` is Gumbel noise); an action with
    ``log p = -inf`` (or :data:`MASKED_LOGIT` far below the rest) is never drawn.
    """
    return (logp - th.empty_like(logp).exponential_().log()).argmax(dim=-1, keepdim=True)


def mask_logits(logits: th.Tensor, action_masks: th.Tensor | np.ndarray | None) -> th.Tensor:
    """``logits`` with masked-out actions (False in ``action_masks``) set to :data:`MASKED_LOGIT`."""
    if action_masks is None:
        return logits
    mask = th.as_tensor(action_masks, device=logits.device)
    if mask.dtype != th.bool:
        mask = mask.bool()
    if mask.shape != logits.shape:
        mask = mask.reshape(logits.shape)
    return th.where(mask, logits, MASKED_LOGIT)
MAX_LAYER_WIDTH = 2**16
"""Widest hidden layer ``net_arch`` may ask for (65,536 units; two such layers are already 4.3e9 weights)."""


def check_net_arch(net_arch: Any) -> list[int]:
    """``net_arch`` as a list of hidden layer sizes, each an integer in [1, :data:`MAX_LAYER_WIDTH`]."""
    if isinstance(net_arch, str | bytes | dict) or not isinstance(net_arch, list | tuple):
        raise ValueError(f"net_arch must be a list of hidden layer sizes such as [256, 256], got {net_arch!r}")
    for i, width in enumerate(net_arch):
        if isinstance(width, bool) or not isinstance(width, int | np.integer) or not 1 <= width <= MAX_LAYER_WIDTH:
            raise ValueError(f"net_arch[{i}] must be a layer size, an integer in [1, {MAX_LAYER_WIDTH}], got "
                             f"{width!r} (net_arch={list(net_arch)!r})")
    return [int(w) for w in net_arch]


def distinct_rows(x: th.Tensor) -> tuple[th.Tensor, th.Tensor] | None:
    """``(first, inverse)`` with ``x[first][inverse] == x`` and ``x[first]`` the distinct rows of ``x``
    (compared bytewise), or None when every row is distinct (or there is at most one)."""
    n = len(x)
    if n < 2:
        return None
    flat = x.detach().reshape(n, -1)
    if flat.device.type == "cpu":
        arr = np.ascontiguousarray(flat.numpy())
        keys = arr.view(np.dtype((np.void, arr.dtype.itemsize * arr.shape[1]))).reshape(n)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if len(first) == n:
            return None
        return th.from_numpy(first), th.from_numpy(inverse.reshape(n))
    uniq, inverse = th.unique(flat, dim=0, return_inverse=True)
    if len(uniq) == n:
        return None
    first = th.full((len(uniq),), n, dtype=th.long, device=flat.device).scatter_reduce(
        0, inverse, th.arange(n, device=flat.device), reduce="amin")
    return first, inverse


def check_masks(masks: Any, n_obs: int, n_actions: int, vectorized: bool = True) -> np.ndarray:
    """Bool masks ``[n_obs, n_actions]`` from ``masks`` (``(n_actions,)`` allowed for one observation).

    Raises ValueError for a wrong shape, a non-boolean / non-integer dtype or a row with no legal action.
    """
    arr = np.asarray(masks)
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"action_masks must be a bool array, got dtype {arr.dtype}")
    expected = [(n_obs, n_actions)] + ([] if vectorized else [(n_actions,)])
    if arr.shape not in expected:
        want = " or ".join(str(e) for e in expected)
        raise ValueError(f"action_masks has shape {arr.shape}; expected {want} for {n_obs} observation(s) "
                         f"and {n_actions} actions")
    arr = arr.astype(bool).reshape(n_obs, n_actions)
    empty = ~arr.any(axis=1)
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        where = f"row {row} of action_masks" if vectorized else "action_masks"
        raise ValueError(f"{where} has no legal action (all False): there is nothing to predict for that "
                         f"observation (an episode that has ended needs a reset)")
    return arr


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
        deduplicate: run the network once per distinct observation of a batch and share the result among
            equal rows in the update (default True). Group rollouts start G copies from the same state, so an
            update's batch holds many equal observations (HyperGrid: at most one per cell; measured there, it
            halves the update's time). The rollout's per-step forward is not deduplicated (too small to gain). Exact for networks that treat
            rows independently (every SB3 extractor and MLP); turn it off for one with cross-row layers such
            as batch norm in training mode.
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
        deduplicate: bool = True,
    ) -> None:
        self.deduplicate = bool(deduplicate)
        self._init_base(observation_space, action_space, features_extractor_class, features_extractor_kwargs,
                        normalize_images, optimizer_class, optimizer_kwargs, use_sde)
        self.net_arch = [256, 256] if net_arch is None else check_net_arch(net_arch)
        self.activation_fn = activation_fn
        self._build_network()
        self._init_head(lr_schedule)

    def _build_network(self) -> None:
        """Build the modules :meth:`logits` uses (here: the features extractor and an MLP of ``net_arch``).

        The one hook a subclass overrides to bring its own network: it runs after SB3's policy set-up and before
        the masked categorical and the optimizer are made, so subclasses take only their own arguments plus
        ``**kwargs`` for this constructor.
        """
        self.features_extractor = self.make_features_extractor()
        self.features_dim = self.features_extractor.features_dim
        layers = create_mlp(self.features_dim, int(self.action_space.n), self.net_arch, self.activation_fn)
        self.logits_net = nn.Sequential(*layers)

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
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"{type(self).__name__} needs a Discrete action space, got {action_space}")
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
        data.update(net_arch=self.net_arch, activation_fn=self.activation_fn, lr_schedule=lambda _: 0.0,
                    deduplicate=self.deduplicate)
        return data

    def batch_to_tensor(self, obs: np.ndarray | dict[str, np.ndarray]) -> th.Tensor | dict[str, th.Tensor]:
        """A batch of observations as tensors on the policy's device (no copy for float32 arrays on CPU).

        The rollout and the update call this once per step / per batch; it skips the per-call checks of SB3's
        :meth:`obs_to_tensor`, which it falls back to for image observations (SB3 may transpose those).
        """
        plain = getattr(self, "_plain_obs", None)
        if plain is None:
            subspaces = self.observation_space.spaces.values() if isinstance(self.observation_space, spaces.Dict) \
                else [self.observation_space]
            plain = self._plain_obs = all(isinstance(s, spaces.Box) and not is_image_space(s) for s in subspaces)
        if not plain:
            return self.obs_to_tensor(obs)[0]
        device = self._tensor_device()
        if isinstance(obs, dict):
            return {k: th.as_tensor(v, device=device) for k, v in obs.items()}
        return th.as_tensor(obs, device=device)

    def _tensor_device(self) -> th.device:
        """The parameters' device, read from one cached parameter (SB3's ``device`` walks every module)."""
        probe = self.__dict__.get("_device_probe")
        if probe is None:
            probe = next(self.parameters(), None)
            if probe is None:
                return th.device("cpu")
            self.__dict__["_device_probe"] = probe  # not an attribute nn.Module would register
        return probe.device

    def logits(self, obs: th.Tensor) -> th.Tensor:
        """Unmasked action logits ``[N, A]``."""
        return self.logits_net(self._features(obs))

    def _features(self, obs: th.Tensor | dict[str, th.Tensor]) -> th.Tensor:
        """SB3's ``extract_features``, skipped where it is the identity: a flat float32 batch of a 1-D ``Box``
        through the ``FlattenExtractor`` (``float()`` and ``flatten(1)`` return the batch itself)."""
        flat = self.__dict__.get("_identity_features")
        if flat is None:
            space = self.observation_space
            flat = self.__dict__["_identity_features"] = (
                type(self.features_extractor) is FlattenExtractor and isinstance(space, spaces.Box)
                and len(space.shape) == 1 and not is_image_space(space))
        if flat and isinstance(obs, th.Tensor) and obs.dtype == th.float32 and obs.dim() == 2:
            return obs
        return self.extract_features(obs, self.features_extractor)

    def masked_log_probs(self, obs: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None,
                         distinct: bool = False) -> th.Tensor:
        """Log-probabilities of every action ``[N, A]`` under the masks (masked-out actions get ``MASKED_LOGIT``
        before the softmax, as sb3-contrib's masked categorical does, so their probability is exactly 0).

        ``distinct=True`` computes the logits through :meth:`distinct_logits`.
        """
        logits = self.distinct_logits(obs) if distinct else self.logits(obs)
        return th.log_softmax(mask_logits(logits, action_masks), dim=-1)

    def distinct_logits(self, obs: th.Tensor | dict[str, th.Tensor]) -> th.Tensor:
        """:meth:`logits`, computed once per distinct observation row when :attr:`deduplicate` is on.

        Gradients flow back through the shared rows, so a loss over the ``N`` rows has exactly the gradient it
        has without deduplication (up to the order of floating-point sums).
        """
        if not getattr(self, "deduplicate", True) or not isinstance(obs, th.Tensor):  # (dict observations: as is)
            return self.logits(obs)
        found = distinct_rows(obs)
        if found is None:
            return self.logits(obs)
        first, inverse = found
        return self.logits(obs[first])[inverse]

    def distribution(self, obs: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None):
        """The masked categorical distribution over actions (sb3-contrib's, for code that wants the object;
        :meth:`forward` and :meth:`evaluate_actions` compute the same numbers without it)."""
        dist = self.action_dist.proba_distribution(action_logits=self.logits(obs))
        if action_masks is not None:
            dist.apply_masking(action_masks)
        return dist

    def forward(
        self, obs: th.Tensor, deterministic: bool = False, action_masks: th.Tensor | np.ndarray | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """Sample actions (Gumbel-max on the masked log-probabilities, or their argmax when ``deterministic``);
        return ``(actions, log_probs)``."""
        logp = self.masked_log_probs(obs, action_masks)
        if deterministic:
            actions = logp.argmax(dim=-1, keepdim=True)
        else:
            actions = sample_log_probs(logp)
        return actions.squeeze(-1), logp.gather(-1, actions).squeeze(-1)

    def evaluate_actions(
        self, obs: th.Tensor, actions: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """Log-probabilities and entropies of ``actions`` under the current policy (the update's forward: the
        network runs once per distinct observation, see ``deduplicate``)."""
        logp = self.masked_log_probs(obs, action_masks, distinct=True)
        entropy = -(logp.exp() * logp).sum(dim=-1)  # masked-out actions: p = 0 exactly, so they add 0
        return logp.gather(-1, actions.long().reshape(-1, 1)).squeeze(-1), entropy

    def action_probs(self, obs: th.Tensor, action_masks: th.Tensor | np.ndarray | None = None) -> th.Tensor:
        """Masked action probabilities ``[N, A]`` (exactly 0 on masked-out actions)."""
        return th.softmax(mask_logits(self.logits(obs), action_masks), dim=-1)

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
        """Like SB3's ``predict``, plus ``action_masks`` (bool, True = legal).

        ``action_masks`` has shape ``(n_actions,)`` for one observation and ``(n_obs, n_actions)`` for a batch;
        a wrong shape, or a row without any legal action, raises ValueError naming it.
        """
        self.set_training_mode(False)
        obs_tensor, vectorized = self.obs_to_tensor(observation)
        if action_masks is not None:
            first = next(iter(obs_tensor.values())) if isinstance(obs_tensor, dict) else obs_tensor
            action_masks = check_masks(action_masks, len(first), int(self.action_space.n), vectorized)
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
