"""IPS-GRPO (and GRPO, its ``ips_alpha=0`` special case) on the Stable-Baselines3 algorithm interface."""

from __future__ import annotations

import contextlib
import copy
import pickle
import time
import warnings
import zipfile
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ConvertCallback, ProgressBarCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback, Schedule
from stable_baselines3.common.utils import LinearSchedule, configure_logger, safe_mean
from stable_baselines3.common.vec_env import VecEnv

from ips_agents import checkpoint, ips
from ips_agents.group_env import GroupEnv, index_obs
from ips_agents.policies import MaskedActorPolicy, MultiInputMaskedActorPolicy
from ips_agents.rollout import GroupBatch, collect_groups
from ips_agents.token_policy import TokenPolicy
from ips_envs.core.validation import check_float, check_int

SelfIPSGRPO = TypeVar("SelfIPSGRPO", bound="IPSGRPO")
ESTIMATORS = tuple(ips.ESTIMATORS)
"""The ``ips_estimator`` names (see :mod:`ips_agents.ips`)."""


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with torch on ``n`` CPU threads (None: unchanged), restoring the previous count after."""
    before = th.get_num_threads()
    if n is None or n == before:
        yield
        return
    th.set_num_threads(n)
    try:
        yield
    finally:
        th.set_num_threads(before)


DEFAULT_LEARNING_RATE = 1e-3
"""Constant Adam learning rate of the count estimator and of GRPO."""
DECAYING_LEARNING_RATE_START = 3e-3
"""Start of the default learning rate of the probability-based estimators (it falls linearly to 0)."""
DEFAULT_EPS = {False: 0.01, True: 1e-6}
"""Default ``ips_eps`` for the count estimator (False) and the probability-based ones (True)."""


def default_learning_rate(estimator: str) -> float | Schedule:
    """The default learning rate for ``estimator``: see :class:`IPSGRPO` (``learning_rate``)."""
    if ips.get_estimator(estimator).from_probabilities:
        return LinearSchedule(DECAYING_LEARNING_RATE_START, 0.0, 1.0)
    return DEFAULT_LEARNING_RATE


AUTO_POLICY = "auto"
"""Policy name that picks the best policy class the env supports (see :func:`default_policy_class`)."""


def default_policy_class(group_env: GroupEnv) -> type[MaskedActorPolicy]:
    """The policy ``policy="auto"`` resolves to: :class:`TokenPolicy` when the env advertises a token layout
    (CausalDAG and Voxel3D, whose actions each act on one entity: shared per-entity weights learn faster and
    generalise to held-out tasks, see benchmarks/generalisation.py), else the MLP policy (``MultiInputPolicy``
    for ``Dict`` observations)."""
    if group_env.token_layout is not None:
        return TokenPolicy
    if isinstance(group_env.observation_space, spaces.Dict):
        return MultiInputMaskedActorPolicy
    return MaskedActorPolicy


class _GroupProgressBar(ProgressBarCallback):
    """SB3's progress bar, advanced by the number of recorded (active) steps of each lock-step step."""

    def _on_step(self) -> bool:
        self.pbar.update(int(self.locals.get("n_active", 0)))
        return True


def make_group_env(env: Any, num_envs: int, env_kwargs: Mapping[str, Any] | None = None) -> GroupEnv:
    """Turn an env id, a Gymnasium env / vector env or an SB3 VecEnv into a :class:`GroupEnv` of ``num_envs``."""
    env_kwargs = dict(env_kwargs or {})
    if isinstance(env, str):
        spec = gym.spec(env)
        mode = None if spec.vector_entry_point is not None else "sync"
        return GroupEnv(gym.make_vec(env, num_envs=num_envs, vectorization_mode=mode, **env_kwargs))
    if env_kwargs:
        raise ValueError("env_kwargs only apply when env is an id string")
    if isinstance(env, VecEnv | gym.vector.VectorEnv):
        if env.num_envs != num_envs:
            raise ValueError(
                f"the vector env has num_envs={env.num_envs}, expected group_size * n_groups = {num_envs}"
            )
        return GroupEnv(env)
    if isinstance(env, gym.Env):
        if env.spec is None:
            raise TypeError(
                "a single Gymnasium env without a registered spec cannot be copied into groups; pass its id, "
                "a vector env with group_size * n_groups copies, or an SB3 VecEnv"
            )
        mode = None if env.spec.vector_entry_point is not None else "sync"
        kwargs = {k: v for k, v in env.spec.kwargs.items() if k != "render_mode"}
        spec = copy.deepcopy(env.spec)
        spec.kwargs = {}
        return GroupEnv(gym.make_vec(spec, num_envs=num_envs, vectorization_mode=mode, **kwargs))
    raise TypeError(f"unsupported env type {type(env).__name__}")


class IPSGRPO(BaseAlgorithm):
    """Group Relative Policy Optimisation with Inverse Probability Scaling of terminal rewards.

    Each update samples ``n_groups`` task instances, rolls out ``group_size`` trajectories for each in
    lock step (one policy forward and one batched env step per step), scales every terminal reward by the
    inverse estimated probability of its outcome (``r / max(p, ips_eps) ** ips_alpha``), turns the scaled
    rewards into group-relative advantages and takes ``n_epochs`` clipped policy-gradient steps. Its stable
    fixed point is the reward-proportional outcome distribution ``p(o) = r(o) / sum r`` (for ``ips_alpha=1``);
    ``ips_alpha=0`` is plain GRPO (see :class:`GRPO`).

    Defaults (``IPSGRPO("MlpPolicy", env)`` with nothing else) and why:

    * ``ips_estimator``: ``"paths"`` where the env reports path counts (every enumerable ``IPS/`` env:
      HyperGrid, PathMultiplicity, CausalDAG, Voxel3D, BooleanExpr, with or without canonical order), else
      ``"count"`` (e.g. SMILES, or your own env). The count estimate is at least ``1/G`` for every sampled
      outcome, so outcomes with probability below ``1/G`` under the current policy cannot be told from common
      ones and the first ones found take the mass. At ``learn(100_000)``, one policy per task
      (``benchmarks/defaults.py``): causal 4-node tasks with 12 admissible DAGs, the count estimator finds 8 of
      12 on each of 3 tasks (exact TV 0.33) and path counts all 12 (TV 0.002-0.004, E[RR@5|H|] 0.995 = the
      perfect sampler's); Boolean x,y depth-2 tasks, 9/12, 9/12, 5/8 (TV 0.25-0.39) against all (TV
      0.013-0.019, at the ceiling). ``n(o) p(tau)`` has the reward-proportional fixed point whatever the
      number of paths per outcome (derivation in :mod:`ips_agents.ips`).
    * ``ips_eps``: 1e-6 with the probability-based estimators (only an underflow guard: a larger floor caps
      exactly the weights of the rare outcomes), 0.01 with the count estimator (the best cell of
      ``benchmarks/ablation.py``, G = 64 with eps = 0.01; for ``G <= 100`` the floor is then never active).
    * ``advantage_norm``: ``"none"`` with the probability-based estimators, ``"group"`` with the count one
      (see the argument).
    * ``learning_rate``: with the probability-based estimators 3e-3 falling linearly to 0 over each
      :meth:`learn` call (an SB3 ``LinearSchedule``); with the count estimator (and GRPO) a constant 1e-3.
      With exact propensities the expected update vanishes at the target, and what is left is sampling noise:
      a learning rate that decays to 0 lets it average out. Measured on the tasks above at ``learn(100_000)``:
      causal exact TV 0.013-0.039 with a constant 1e-3, 0.004-0.006 with 1e-3 decaying, 0.002-0.004 with
      3e-3 decaying; Boolean 0.10 with 1e-3 decaying, 0.013-0.019 with 3e-3 decaying. So give :meth:`learn`
      the whole budget at once (a second call restarts the decay), or pass a constant ``learning_rate``.
    * ``group_size=16``, ``n_groups=4`` (64 trajectories per update), one epoch, clip 0.2, MLP 256x256.

    Args:
        policy: ``"MlpPolicy"`` (an MLP on the flat observation), ``"MultiInputPolicy"`` (``Dict``
            observations), ``"TokenPolicy"`` (shared weights over the env's entities, see
            :mod:`ips_agents.token_policy`), ``"auto"`` (``TokenPolicy`` when the env advertises a token layout,
            else the MLP; :func:`default_policy_class`) or a :class:`MaskedActorPolicy` subclass.
        env: an env id, a Gymnasium env (made from a registered id), a Gymnasium vector env or an SB3 VecEnv
            with ``group_size * n_groups`` copies, or None (only to load a model). The env contract is
            documented in :mod:`ips_agents.group_env`.
        group_size: G, trajectories per task instance (>= 2).
        n_groups: B, task instances per update (default 4, or ``num_envs // group_size`` for a vector env).
        ips_alpha: tempering exponent in [0, 1]: rewards are divided by ``p ** ips_alpha``; 0 is GRPO.
        ips_eps: probability floor in (0, 1] (the weight is at most ``1 / ips_eps ** ips_alpha``);
            default 0.01 with the count estimator and 1e-6 with the others (there it only guards against
            numerical underflow: a larger floor caps the weights of the rare outcomes they exist to lift).
        ips_estimator: how the outcome probability ``p`` is estimated (:data:`ips_agents.ips.ESTIMATORS`;
            default ``"paths"`` where the env reports path counts, else ``"count"``):
            ``"count"`` (the paper's Eq. 9, the outcome's frequency in its group; any env), ``"paths"``
            (``n(o) * p(tau)``: the outcome's path count times the trajectory probability; needs
            ``info["path_count"]``, refused on an env that cannot count paths), ``"exact"`` (``p(tau)``; needs
            ``unique_paths``, where it equals ``"paths"``) or ``"trajectory"`` (``p(tau)`` with no requirement:
            the probability of the sampled sequence, e.g. a SMILES string).
        advantage_norm: ``"group"`` (divide by the group std), ``"batch"`` (by the batch std) or ``"none"``
            (only subtract the group mean). Default ``"group"`` with the count estimator (the paper's choice)
            and ``"none"`` with the probability-based ones: there the scaled rewards r / p all equal Z at the
            reward-proportional fixed point, so unnormalised advantages vanish as the policy converges, while
            dividing by the shrinking group std keeps them at unit size and the policy jittering around it
            (HyperGrid 2D H=8 in benchmarks/torchgfn_compare.py and benchmarks/estimators.py).
        clip_range: PPO ratio clipping.
        n_epochs: gradient passes over each batch.
        minibatch_size: trajectories per gradient step (default: the whole batch).
        learning_rate: Adam learning rate (float or SB3 schedule; default: see above).
        ent_coef: entropy bonus (per-trajectory summed entropy).
        kl_coef: weight of the k3 KL estimate to a frozen copy of the initial policy (0 disables it).
        max_grad_norm: gradient-norm clip (None disables).
        tasks: optional list of task dicts to train on (a train split); each group draws one of them.
            Default: tasks from the env's task distribution.
        env_kwargs: arguments for the env when ``env`` is an id.
        torch_threads: torch CPU threads while :meth:`learn` runs (default 1; None keeps torch's own setting).
            The previous count is restored when ``learn`` returns, so nothing else in the process changes. One
            thread is the faster setting for these small networks: benchmarks/training_throughput.py measures
            1 vs 2 threads side by side (RESULTS.md), and on a busy 2-core machine 2 threads were many times
            slower.
        policy_kwargs, tensorboard_log, verbose, seed, device, stats_window_size: as in SB3.

    ``num_timesteps`` counts recorded transitions (steps of trajectories that had not yet ended).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MaskedActorPolicy,
        "MultiInputPolicy": MultiInputMaskedActorPolicy,
        "TokenPolicy": TokenPolicy,
    }
    policy: MaskedActorPolicy

    def __init__(
        self,
        policy: str | type[MaskedActorPolicy],
        env: Any,
        group_size: int = 16,
        n_groups: int | None = None,
        ips_alpha: float = 1.0,
        ips_eps: float | None = None,
        ips_estimator: str | None = None,
        advantage_norm: str | None = None,
        clip_range: float = 0.2,
        n_epochs: int = 1,
        minibatch_size: int | None = None,
        learning_rate: float | Schedule | None = None,
        ent_coef: float = 0.0,
        kl_coef: float = 0.0,
        max_grad_norm: float | None = 1.0,
        tasks: Sequence[Mapping[str, Any]] | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        torch_threads: int | None = 1,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        auto = isinstance(policy, str) and policy == AUTO_POLICY
        super().__init__(
            "MlpPolicy" if auto else policy,
            None,
            DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            supported_action_spaces=(spaces.Discrete,),
        )
        self.group_size = group_size
        self.n_groups = n_groups
        self.ips_alpha = ips_alpha
        self.ips_estimator = ips_estimator
        self.ips_eps = ips_eps
        self.advantage_norm = advantage_norm
        self._default_lr = learning_rate is None
        self.clip_range = clip_range
        self.n_epochs = n_epochs
        self.minibatch_size = minibatch_size
        self.ent_coef = ent_coef
        self.kl_coef = kl_coef
        self.max_grad_norm = max_grad_norm
        self.tasks = self._task_list(tasks)
        self.torch_threads = None if torch_threads is None else check_int("torch_threads", torch_threads, 1)
        self._validate()
        self.group_env: GroupEnv | None = None
        self.num_trajectories = 0
        self.skipped_batches = 0
        """Batches not trained on because a reward or an advantage was not finite (also logged)."""
        self.skipped_updates = 0
        """Gradient steps not taken because the loss or the gradient norm was not finite (also logged)."""
        if env is not None:
            self.set_env(env, env_kwargs=env_kwargs)
        if auto:
            if self.group_env is None:
                raise ValueError(f"policy={AUTO_POLICY!r} chooses the policy from the env; pass env= or a policy class")
            self.policy_class = default_policy_class(self.group_env)
        if _init_setup_model:
            if self.group_env is None:
                raise ValueError("env is required to set up a new model (env=None is only for load())")
            self._setup_model()

    # ----------------------------------------------------------- arguments
    def _validate(self) -> None:
        self.group_size = check_int("group_size", self.group_size, 2)  # >= 2: group-relative advantages
        if self.n_groups is not None:
            self.n_groups = check_int("n_groups", self.n_groups, 1)
        self.ips_alpha = check_float("ips_alpha", self.ips_alpha, 0.0, 1.0)
        if self.ips_estimator is not None:
            self._resolve_defaults(self.ips_estimator)
        if self.ips_eps is not None:
            self.ips_eps = check_float("ips_eps", self.ips_eps, 0.0, 1.0, low_open=True)
        if self.advantage_norm is not None and self.advantage_norm not in ips.ADVANTAGE_NORMS:
            raise ValueError(f"advantage_norm must be one of {list(ips.ADVANTAGE_NORMS)}, got {self.advantage_norm!r}")
        self.clip_range = check_float("clip_range", self.clip_range, 0.0, low_open=True)
        self.n_epochs = check_int("n_epochs", self.n_epochs, 1)
        if self.minibatch_size is not None:
            self.minibatch_size = check_int("minibatch_size", self.minibatch_size, 1)
        self.ent_coef = check_float("ent_coef", self.ent_coef, 0.0)
        self.kl_coef = check_float("kl_coef", self.kl_coef, 0.0)
        if self.max_grad_norm is not None:
            self.max_grad_norm = check_float("max_grad_norm", self.max_grad_norm, 0.0, low_open=True)
        if callable(self.learning_rate):
            for progress in (1.0, 0.0):  # a schedule's start and end values
                check_float(f"learning_rate({progress})", self.learning_rate(progress), 0.0)
        else:
            self.learning_rate = check_float("learning_rate", self.learning_rate, 0.0)
        if self.tasks is not None and len(self.tasks) == 0:
            raise ValueError("tasks must be a non-empty list of task dicts or None")

    @staticmethod
    def _task_list(tasks: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
        if tasks is None:
            return None
        if isinstance(tasks, Mapping | str) or not isinstance(tasks, Sequence):
            raise ValueError(f"tasks must be a list of task dicts or None, got {type(tasks).__name__}: {tasks!r}")
        for i, t in enumerate(tasks):
            if not isinstance(t, Mapping):
                raise ValueError(f"tasks[{i}] must be a task dict, got {type(t).__name__}: {t!r}")
        return [dict(t) for t in tasks]

    def _check_tasks(self, group_env: GroupEnv) -> None:
        """Validate :attr:`tasks` against the env (so a bad task fails at construction, not in ``learn``)."""
        if self.tasks is None:
            return
        if group_env.kind not in ("ips", "sb3"):
            raise ValueError("a task list needs an ips_envs vector env or an SB3 VecEnv")
        if group_env.kind == "ips":
            kernel = group_env.env.unwrapped.kernel
            checked = []
            for i, t in enumerate(self.tasks):
                try:
                    checked.append(kernel.validate_task(t))
                except ValueError as e:
                    raise ValueError(f"tasks[{i}] is not a valid task: {e}") from None
            self.tasks = checked

    def set_env(self, env: Any, force_reset: bool = True, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Attach an env (id, Gymnasium env / vector env or SB3 VecEnv) for training."""
        if self.n_groups is None:
            n = getattr(env, "num_envs", None) if not isinstance(env, str | gym.Env) else None
            if n is not None and n % self.group_size:
                raise ValueError(f"num_envs={n} is not a multiple of group_size={self.group_size}")
            self.n_groups = n // self.group_size if n is not None else 4
        group_env = make_group_env(env, self.group_size * self.n_groups, env_kwargs)
        own_obs, own_act = getattr(self, "observation_space", None), getattr(self, "action_space", None)
        if own_obs is not None and group_env.observation_space != own_obs:
            raise ValueError(f"observation space {group_env.observation_space} != the model's {own_obs}")
        if own_act is not None and group_env.action_space != own_act:
            raise ValueError(f"action space {group_env.action_space} != the model's {own_act}")
        if self.ips_estimator is None:  # GRPO (ips_alpha = 0) keeps the count defaults: group-std advantages
            self._resolve_defaults("paths" if self.ips_alpha > 0 and group_env.path_counts else "count")
        self._check_estimator(group_env)
        self._check_tasks(group_env)
        self.group_env = group_env
        self.observation_space = group_env.observation_space
        self.action_space = group_env.action_space
        self.n_envs = group_env.num_envs

    def _resolve_defaults(self, estimator_name: str) -> None:
        """Fix the estimator and the settings that default per estimator (see the class docstring)."""
        estimator = ips.get_estimator(estimator_name)
        self.ips_estimator = estimator.name
        if self.ips_eps is None:
            self.ips_eps = DEFAULT_EPS[estimator.from_probabilities]
        if self.advantage_norm is None:
            self.advantage_norm = "none" if estimator.from_probabilities else "group"
        if getattr(self, "_default_lr", False):
            self.learning_rate = default_learning_rate(estimator.name) if self.ips_alpha > 0 else DEFAULT_LEARNING_RATE
            self._default_lr = False

    def _check_estimator(self, group_env: GroupEnv) -> None:
        """Refuse an estimator whose requirement the env does not meet (only when IPS is on)."""
        needs = ips.get_estimator(self.ips_estimator).requires
        if self.ips_alpha == 0 or needs is None:
            return
        if needs == "unique_paths" and not group_env.unique_paths:
            raise ValueError(
                "ips_estimator='exact' needs an env with unique_paths (one construction path per outcome, e.g. "
                "canonical_order=True); this env does not declare it: use ips_estimator='paths' where the env "
                "reports path counts, else 'count'"
            )
        if needs == "path_counts" and group_env.path_counts is False:
            raise ValueError(
                "ips_estimator='paths' needs the number of construction paths of each outcome "
                "(info['path_count'] at termination); this env does not report path counts: use "
                "ips_estimator='count' (or 'trajectory' where an outcome is its action sequence)"
            )

    # --------------------------------------------------------------- model
    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        if issubclass(self.policy_class, TokenPolicy) and self.policy_kwargs.get("layout") is None:
            layout = None if self.group_env is None else self.group_env.token_layout
            if layout is None:
                raise ValueError(f"{self.policy_class.__name__} needs a token layout and the env advertises none "
                                 "(env.unwrapped.token_layout); pass policy_kwargs={'layout': ...} or use MlpPolicy")
            self.policy_kwargs = {**self.policy_kwargs, "layout": layout.to_dict()}
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs
        ).to(self.device)
        self.ref_policy: MaskedActorPolicy | None = None
        if self.kl_coef > 0:
            self.ref_policy = copy.deepcopy(self.policy)
            self.ref_policy.requires_grad_(False)
            self.ref_policy.set_training_mode(False)

    def set_random_seed(self, seed: int | None = None) -> None:
        """Seed Python, numpy, torch, the action space and the task / reset-seed generator."""
        super().set_random_seed(seed)
        self._rng = np.random.default_rng(seed)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        names = ["policy", "policy.optimizer"]
        if self.kl_coef > 0:
            names.append("ref_policy")
        return names, []

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "group_env", "_rng"]

    def save(self, path: Any, exclude: Any = None, include: Any = None) -> None:  # type: ignore[override]
        """Save to a zip (SB3's format) with the class name and every random generator's state.

        Refuses an empty path or a directory (ValueError). As in SB3, a path without a suffix gets ``.zip``.
        """
        path = checkpoint.check_save_path(path)
        self.__dict__[checkpoint.ALGO_CLASS_KEY] = type(self).__name__
        self.__dict__[checkpoint.RANDOM_STATE_KEY] = checkpoint.random_state(self._rng)
        try:
            super().save(path, exclude=exclude, include=include)
        finally:
            self.__dict__.pop(checkpoint.ALGO_CLASS_KEY, None)
            self.__dict__.pop(checkpoint.RANDOM_STATE_KEY, None)

    @classmethod
    def load(cls, path: Any, env: Any = None, device: th.device | str = "auto", **kwargs: Any):  # type: ignore[override]
        """Load a saved model; ``env`` (optional) is attached for further training.

        The zip must have been saved by this class (``GRPO.load`` of an IPSGRPO zip raises
        :class:`~ips_agents.checkpoint.ModelClassMismatch`); a missing file raises FileNotFoundError naming it and
        a truncated or corrupt one ValueError. The random generators (task / reset-seed generator, torch, numpy,
        Python) are put back to their state at save time, so training continues exactly where it stopped.
        """
        path = checkpoint.resolve_load_path(path)
        checkpoint.check_algo_class(checkpoint.read_saved_data(path), cls, path)
        try:
            model = super().load(path, env=None, device=device, **kwargs)
        except (AssertionError, EOFError, KeyError, RuntimeError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
            raise ValueError(f"{str(path)!r} is not a readable model zip (truncated or corrupt?): "
                             f"{type(e).__name__}: {e}") from None
        model.__dict__.pop(checkpoint.ALGO_CLASS_KEY, None)
        saved_state = model.__dict__.pop(checkpoint.RANDOM_STATE_KEY, None)
        if not hasattr(model, "_rng"):
            model._rng = np.random.default_rng(model.seed)
        if saved_state is not None:
            checkpoint.restore_random_state(saved_state, model._rng)
        if env is not None:
            model.set_env(env)
        return model

    @property
    def budget_exhausted(self) -> bool:
        """True once the env reported an episode it could not score because its oracle budget was spent."""
        return bool(self.group_env is not None and self.group_env.budget_exhausted)

    def get_env(self) -> None:  # type: ignore[override]
        """IPS-GRPO keeps its env in :attr:`group_env` (a :class:`GroupEnv`), not as an SB3 VecEnv."""
        return None

    # ------------------------------------------------------------- predict
    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions for ``observation`` (single or batched), restricted to ``action_masks`` when given."""
        return self.policy.predict(observation, state, episode_start, deterministic, action_masks=action_masks)

    # ------------------------------------------------------------ learning
    def _init_callback(self, callback: MaybeCallback, progress_bar: bool = False) -> BaseCallback:
        if isinstance(callback, list):
            callback = CallbackList(callback)
        if not isinstance(callback, BaseCallback):
            callback = ConvertCallback(callback)
        if progress_bar:
            callback = CallbackList([callback, _GroupProgressBar()])
        callback.init_callback(self)
        return callback

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        self.start_time = time.time_ns()
        if self.ep_info_buffer is None or reset_num_timesteps:
            self.ep_info_buffer = deque(maxlen=self._stats_window_size)
            self.ep_success_buffer = deque(maxlen=self._stats_window_size)
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._episode_num = 0
            self.num_trajectories = 0
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        self._num_timesteps_at_start = self.num_timesteps
        if not self._custom_logger:
            self._logger = configure_logger(self.verbose, self.tensorboard_log, tb_log_name, reset_num_timesteps)
        return total_timesteps, self._init_callback(callback, progress_bar)

    def _draw_tasks(self) -> tuple[list[dict[str, Any]] | None, list[int]]:
        """One task (or reset seed) per group, repeated for its G members."""
        assert self.group_env is not None and self.n_groups is not None
        group_seeds = self._rng.integers(0, 2**31 - 1, self.n_groups)
        seeds = np.repeat(group_seeds, self.group_size).tolist()
        if self.tasks is not None:
            picks = self._rng.integers(0, len(self.tasks), self.n_groups)
            group_tasks = [self.tasks[i] for i in picks]
        else:
            group_tasks = self.group_env.sample_tasks(self._rng, self.n_groups)
        if group_tasks is None:
            return None, seeds
        return [t for t in group_tasks for _ in range(self.group_size)], seeds

    def collect_batch(self, callback: BaseCallback | None = None) -> GroupBatch | None:
        """Roll out one batch of ``n_groups`` groups (None if a callback asked to stop)."""
        if self.group_env is None:
            raise ValueError("no env attached: pass env= or call set_env()")
        if callback is not None:
            callback.on_rollout_start()  # before the task draw: a checkpoint taken here is a clean batch boundary
        tasks, seeds = self._draw_tasks()

        def on_step(n_active: int) -> bool:
            self.num_timesteps += n_active
            if callback is None:
                return True
            callback.update_locals({"n_active": n_active})
            return callback.on_step()

        batch = collect_groups(self.policy, self.group_env, self.group_size, tasks, seeds, on_step=on_step)
        if callback is not None:
            callback.update_locals({"batch": batch})
            callback.on_rollout_end()
        return batch

    def propensities(self, batch: GroupBatch) -> np.ndarray:
        """Estimated outcome probability of each trajectory under ``ips_estimator``."""
        counts = batch.path_counts
        if self.ips_estimator == "paths":
            missing = np.flatnonzero(counts < 0) if counts is not None else np.arange(batch.n_trajectories)
            if len(missing):
                raise ValueError(
                    f"ips_estimator='paths' needs info['path_count'] at termination, but trajectory "
                    f"{int(missing[0])} (outcome {batch.outcomes[missing[0]]!r}) ended without one: use an env "
                    "that reports path counts, or ips_estimator='count'"
                )
        return ips.propensities(self.ips_estimator, batch.outcomes, batch.groups, batch.traj_log_probs, counts)

    def advantages(self, batch: GroupBatch) -> np.ndarray:
        """Per-trajectory advantages: IPS scaling (unless ``ips_alpha == 0``) then group normalisation."""
        scaled = batch.rewards
        if self.ips_alpha > 0:
            scaled = ips.ips_rewards(batch.rewards, self.propensities(batch), self.ips_alpha, self.ips_eps)
        return ips.group_advantages(scaled, batch.groups, self.advantage_norm)

    def train_on_batch(self, batch: GroupBatch) -> dict[str, float]:
        """Clipped policy-gradient epochs on one batch; returns the logged statistics."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        with np.errstate(all="ignore"):
            adv_traj = self.advantages(batch)
        if not (np.isfinite(batch.rewards).all() and np.isfinite(adv_traj).all()):
            return self._skip_batch(batch, adv_traj)
        device = self.device
        obs_t = self.policy.batch_to_tensor(batch.obs)
        masks_t = th.as_tensor(batch.masks, device=device)
        actions_t = th.as_tensor(batch.actions, device=device)
        old_logp_t = th.as_tensor(batch.log_probs, dtype=th.float32, device=device)
        adv_t = th.as_tensor(adv_traj[batch.traj], dtype=th.float32, device=device)
        ref_logp_t = None
        if self.ref_policy is not None:
            with th.no_grad():
                ref_logp_t = self.ref_policy.evaluate_actions(obs_t, actions_t, masks_t)[0]
        n_traj = batch.n_trajectories
        mb = n_traj if self.minibatch_size is None else min(self.minibatch_size, n_traj)
        stats: dict[str, list[float]] = {k: [] for k in ("loss", "pg_loss", "entropy", "kl", "clip_fraction", "approx_kl")}
        for _ in range(self.n_epochs):
            order = self._rng.permutation(n_traj) if mb < n_traj else None
            for start in range(0, n_traj, mb):
                if order is None:  # the whole batch: no gathering
                    idx, n_mb = slice(None), n_traj
                    obs_mb, actions_mb, masks_mb = obs_t, actions_t, masks_t
                else:
                    chosen = np.zeros(n_traj, dtype=bool)
                    chosen[order[start : start + mb]] = True
                    idx = th.as_tensor(np.flatnonzero(chosen[batch.traj]), device=device)
                    n_mb = int(chosen.sum())
                    obs_mb, actions_mb, masks_mb = index_obs(obs_t, idx), actions_t[idx], masks_t[idx]
                logp, entropy = self.policy.evaluate_actions(obs_mb, actions_mb, masks_mb)
                log_ratio = logp - old_logp_t[idx]
                ratio = th.exp(log_ratio)
                adv = adv_t[idx]
                surrogate = th.min(ratio * adv, th.clamp(ratio, 1 - self.clip_range, 1 + self.clip_range) * adv)
                pg_loss = -surrogate.sum() / n_mb
                ent = entropy.sum() / n_mb
                loss = pg_loss - self.ent_coef * ent
                kl = th.zeros((), device=device)
                if ref_logp_t is not None:
                    diff = ref_logp_t[idx] - logp
                    kl = (th.exp(diff) - diff - 1).sum() / n_mb
                    loss = loss + self.kl_coef * kl
                if not self._gradient_step(loss):
                    continue
                with th.no_grad():
                    stats["loss"].append(loss.item())
                    stats["pg_loss"].append(pg_loss.item())
                    stats["entropy"].append(ent.item())
                    stats["kl"].append(kl.item())
                    stats["clip_fraction"].append(((ratio - 1).abs() > self.clip_range).float().mean().item())
                    stats["approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
        self._n_updates += self.n_epochs
        return {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}

    def _gradient_step(self, loss: th.Tensor) -> bool:
        """Back-propagate ``loss``, clip, and step, unless the loss or the gradient norm is not finite.

        A non-finite step is dropped (gradients cleared, :attr:`skipped_updates` counted, a RuntimeWarning), so
        it never reaches the parameters. Returns whether the optimizer stepped.
        """
        self.policy.optimizer.zero_grad()
        loss.backward()
        max_norm = th.inf if self.max_grad_norm is None else self.max_grad_norm
        grad_norm = th.nn.utils.clip_grad_norm_(self.policy.parameters(), max_norm)
        if not (th.isfinite(loss) and th.isfinite(grad_norm)):
            self.policy.optimizer.zero_grad()
            self.skipped_updates += 1
            warnings.warn(f"skipped a gradient step with a non-finite loss ({loss.item()}) or gradient norm "
                          f"({grad_norm.item()}); {self.skipped_updates} skipped so far", RuntimeWarning, stacklevel=3)
            return False
        self.policy.optimizer.step()
        return True

    def _skip_batch(self, batch: GroupBatch, targets: np.ndarray) -> dict[str, float]:
        """Count and report a batch whose rewards or training targets (advantages) are not finite.

        Called before any gradient step, so the parameters are not touched; returns NaN statistics.
        """
        self.skipped_batches += 1
        bad_r = int((~np.isfinite(batch.rewards)).sum())
        bad_t = int((~np.isfinite(targets)).sum())
        warnings.warn(
            f"skipped a batch with {bad_r} non-finite reward(s) and {bad_t} non-finite advantage(s) / target(s) (e.g. "
            f"a reward of inf / nan, or IPS scaling overflowing) before the update; {self.skipped_batches} skipped so "
            f"far", RuntimeWarning, stacklevel=3,
        )
        return {"loss": float("nan")}

    def _record(self, batch: GroupBatch, train_stats: Mapping[str, float], iteration: int) -> None:
        for r, length in zip(batch.rewards, batch.lengths, strict=True):
            self.ep_info_buffer.append({"r": float(r), "l": int(length)})  # type: ignore[union-attr]
        distinct = [len(set(batch.outcomes[batch.groups == g])) for g in range(int(batch.groups.max()) + 1)]
        elapsed = max((time.time_ns() - self.start_time) / 1e9, 1e-9)
        self.logger.record("rollout/reward_mean", float(batch.rewards.mean()))
        self.logger.record("rollout/valid_fraction", float(batch.valid.mean()))
        self.logger.record("rollout/distinct_outcomes_per_group", float(np.mean(distinct)))
        self.logger.record("rollout/ep_rew_mean", safe_mean([e["r"] for e in self.ep_info_buffer]))
        self.logger.record("rollout/ep_len_mean", safe_mean([e["l"] for e in self.ep_info_buffer]))
        for k, v in train_stats.items():
            self.logger.record(f"train/{k}", v)
        self.logger.record("train/skipped_batches", self.skipped_batches)
        self.logger.record("train/skipped_updates", self.skipped_updates)
        self.logger.record("train/n_updates", self._n_updates)
        self.logger.record("time/iterations", iteration)
        self.logger.record("time/trajectories", self.num_trajectories)
        self.logger.record("time/trajectories_per_s", (self.num_trajectories) / elapsed)
        self.logger.record("time/fps", int((self.num_timesteps - self._num_timesteps_at_start) / elapsed))
        self.logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")

    def learn(  # type: ignore[override]
        self: SelfIPSGRPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "IPSGRPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfIPSGRPO:
        """Train until ``total_timesteps`` recorded transitions (whole batches; the last may overshoot), with torch
        on ``torch_threads`` threads.

        ``total_timesteps`` is a positive integer (an integral float such as ``1e5`` is accepted, as in SB3).
        Training also stops, before updating on it, at the first batch with an episode the env could not score
        because its oracle budget was spent (``info["budget_exhausted"]``; see :attr:`budget_exhausted`).
        """
        if isinstance(total_timesteps, float) and total_timesteps.is_integer():
            total_timesteps = int(total_timesteps)
        total_timesteps = check_int("total_timesteps", total_timesteps, 1)
        with torch_threads(getattr(self, "torch_threads", None)):
            return self._learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)

    def _learn(self: SelfIPSGRPO, total_timesteps: int, callback: MaybeCallback, log_interval: int, tb_log_name: str,
               reset_num_timesteps: bool, progress_bar: bool) -> SelfIPSGRPO:
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        callback.on_training_start(locals(), globals())
        iteration = 0
        while self.num_timesteps < total_timesteps:
            batch = self.collect_batch(callback)
            if batch is None:
                break
            self.num_trajectories += batch.n_trajectories
            if self.budget_exhausted:
                self.logger.record("rollout/budget_exhausted", 1)
                self.logger.dump(step=self.num_timesteps)
                if self.verbose:
                    print(f"oracle budget spent: training stopped after {self.num_trajectories:,} trajectories")
                break
            iteration += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            stats = self.train_on_batch(batch)
            self._record(batch, stats, iteration)
            if log_interval and iteration % log_interval == 0:
                self.logger.dump(step=self.num_timesteps)
        callback.on_training_end()
        return self


class GRPO(IPSGRPO):
    """Plain GRPO: :class:`IPSGRPO` with ``ips_alpha=0`` (no inverse probability scaling)."""

    def __init__(self, policy: str | type[MaskedActorPolicy], env: Any, **kwargs: Any) -> None:
        if kwargs.get("ips_alpha", 0.0) != 0.0:
            raise ValueError(f"GRPO has ips_alpha=0; got ips_alpha={kwargs['ips_alpha']!r} (use IPSGRPO)")
        kwargs["ips_alpha"] = 0.0
        super().__init__(policy, env, **kwargs)
