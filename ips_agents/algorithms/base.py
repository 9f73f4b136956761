"""``GroupAlgorithm``: the on-policy group loop every algorithm of ips-rl shares, on SB3's ``BaseAlgorithm``.

An algorithm here is a loss on batches of *groups*: ``n_groups`` task instances, ``group_size`` complete
trajectories each, rolled out in lock step (one policy forward and one batched env step per step). The base
class owns everything that is not the loss: env attachment (:meth:`GroupAlgorithm.set_env`), the task draw,
batch collection, the learn loop with SB3 callbacks and progress bar, logging, non-finite guards, save / load
with every random generator's state, and torch's thread count. A subclass states its own arguments and
implements :meth:`GroupAlgorithm.train_on_batch` (and, where defaults depend on the env,
:meth:`GroupAlgorithm._configure`); :class:`~ips_agents.algorithms.ips_grpo.IPSGRPO` and
:class:`~ips_agents.algorithms.trajectory_balance.TrajectoryBalance` are the two.

It subclasses ``BaseAlgorithm`` rather than ``OnPolicyAlgorithm``: the on-policy base needs a value head and a
fixed-length time-major buffer, while groups of complete episodes of unequal length need neither.
``num_timesteps`` counts recorded transitions (steps of trajectories that had not yet ended).
"""

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
from stable_baselines3.common.utils import configure_logger, safe_mean

from ips_agents.algorithms import model_files
from ips_agents.algorithms.finite import (NonFiniteUpdate, non_finite_tensors, optimizer_is_finite, optimizer_snapshot,
                                         restore_snapshot)
from ips_agents.algorithms.settings import CONSTANT_LEARNING_RATE, DEFAULT_N_GROUPS, SETTINGS, check_value
from ips_agents.algorithms.settings import MAX_ENV_COPIES, MAX_SEED, check_device
from ips_agents.policies import MaskedActorPolicy, MultiInputMaskedActorPolicy, TokenPolicy
from ips_agents.sampling import GroupBatch, GroupEnv, collect_groups, make_group_env
from ips_envs.core.validation import check_int

SelfGroupAlgorithm = TypeVar("SelfGroupAlgorithm", bound="GroupAlgorithm")

AUTO_POLICY = "auto"
"""Policy name that picks the best policy class the env supports (see :func:`default_policy_class`)."""


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


class GroupAlgorithm(BaseAlgorithm):
    """Base of the group algorithms: rollouts, the learn loop, logging and model files; the loss is the subclass's.

    Args:
        policy: ``"MlpPolicy"``, ``"MultiInputPolicy"`` (``Dict`` observations), ``"TokenPolicy"`` (shared weights
            over the env's entities, see :mod:`ips_agents.policies.token`), ``"auto"`` (``TokenPolicy`` when the
            env advertises a token layout, else the MLP; :func:`default_policy_class`) or a
            :class:`~ips_agents.policies.MaskedActorPolicy` subclass.
        env: an env id, a Gymnasium env (made from a registered id), a Gymnasium vector env or an SB3 VecEnv with
            ``group_size * n_groups`` copies, or None (only to load a model). The env contract is documented in
            :mod:`ips_agents.sampling.group_env`.
        group_size: G, trajectories per task instance (>= 2).
        n_groups: B, task instances per update (default 4, or ``num_envs // group_size`` for a vector env).
        n_epochs: gradient passes over each batch.
        learning_rate: Adam learning rate (float or SB3 schedule; None: the subclass's default for the env).
        max_grad_norm: gradient-norm clip (None disables).
        tasks: optional list of task dicts to train on (a train split); each group draws one of them.
            Default: tasks from the env's task distribution.
        env_kwargs: arguments for the env when ``env`` is an id.
        torch_threads: torch CPU threads while :meth:`learn` runs (default 1; None keeps torch's own setting).
            The previous count is restored when ``learn`` returns. One thread is the faster setting for these
            small networks (benchmarks/training_throughput.py).
        policy_kwargs, tensorboard_log, verbose, seed, device, stats_window_size: as in SB3.
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
        group_size: int = SETTINGS["group_size"].default,
        n_groups: int | None = SETTINGS["n_groups"].default,
        n_epochs: int = SETTINGS["n_epochs"].default,
        learning_rate: float | Schedule | None = SETTINGS["learning_rate"].default,
        max_grad_norm: float | None = SETTINGS["max_grad_norm"].default,
        tasks: Sequence[Mapping[str, Any]] | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        torch_threads: int | None = SETTINGS["torch_threads"].default,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        check_device(device)
        auto = isinstance(policy, str) and policy == AUTO_POLICY
        super().__init__(
            "MlpPolicy" if auto else policy,
            None,
            CONSTANT_LEARNING_RATE if learning_rate is None else learning_rate,
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
        self.n_epochs = n_epochs
        self._default_lr = learning_rate is None
        self.max_grad_norm = max_grad_norm
        self.tasks = self._task_list(tasks)
        self.torch_threads = torch_threads
        self._validate()
        self.group_env: GroupEnv | None = None
        self.num_trajectories = 0
        self._iterations = 0
        """Updates logged so far (``time/iterations``); saved in the zip, so it continues across resumes."""
        self.skipped_batches = 0
        """Batches not trained on because a reward or a training target was not finite (also logged)."""
        self.skipped_updates = 0
        """Gradient steps not taken (always 0 since a non-finite step raises :class:`NonFiniteUpdate`; still
        logged so the columns of ``progress.csv`` stay the same)."""
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
        """Check the constructor's arguments (ValueError naming the bad one); subclasses add theirs."""
        self.group_size = check_value(SETTINGS["group_size"], self.group_size)
        self.n_groups = check_value(SETTINGS["n_groups"], self.n_groups)
        self.n_epochs = check_value(SETTINGS["n_epochs"], self.n_epochs)
        self.max_grad_norm = check_value(SETTINGS["max_grad_norm"], self.max_grad_norm)
        self.torch_threads = check_value(SETTINGS["torch_threads"], self.torch_threads)
        if self.seed is not None:
            self.seed = check_int("seed", self.seed, 0, MAX_SEED)
        if callable(self.learning_rate):
            for progress in (1.0, 0.0):  # a schedule's start and end values
                check_value(SETTINGS["learning_rate"], self.learning_rate(progress))
        else:
            self.learning_rate = check_value(SETTINGS["learning_rate"], self.learning_rate)

    @staticmethod
    def _task_list(tasks: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
        if tasks is None:
            return None
        if isinstance(tasks, Mapping | str) or not isinstance(tasks, Sequence):
            raise ValueError(f"tasks must be a list of task dicts or None, got {type(tasks).__name__}: {tasks!r}")
        if len(tasks) == 0:
            raise ValueError("tasks must be a non-empty list of task dicts or None")
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

    def _configure(self, group_env: GroupEnv) -> None:
        """Resolve the settings that depend on the env and refuse an env the algorithm cannot train on.

        Called by :meth:`set_env` before the env is attached; the base class has nothing to resolve.
        """

    def default_learning_rate(self) -> float | Schedule:
        """The learning rate used when none was given (called once, after :meth:`_configure`)."""
        return CONSTANT_LEARNING_RATE

    def set_env(self, env: Any, force_reset: bool = True, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Attach an env (id, Gymnasium env / vector env or SB3 VecEnv) for training."""
        if self.n_groups is None:
            n = getattr(env, "num_envs", None) if not isinstance(env, str | gym.Env) else None
            if n is not None and n % self.group_size:
                raise ValueError(f"num_envs={n} is not a multiple of group_size={self.group_size}")
            self.n_groups = n // self.group_size if n is not None else DEFAULT_N_GROUPS
        if self.group_size * self.n_groups > MAX_ENV_COPIES:
            raise ValueError(f"group_size * n_groups = {self.group_size * self.n_groups:,} env copies; at most "
                             f"{MAX_ENV_COPIES:,} are stepped together: lower group_size or n_groups")
        group_env = make_group_env(env, self.group_size * self.n_groups, env_kwargs)
        own_obs, own_act = getattr(self, "observation_space", None), getattr(self, "action_space", None)
        if own_obs is not None and group_env.observation_space != own_obs:
            raise ValueError(f"observation space {group_env.observation_space} != the model's {own_obs}")
        if own_act is not None and group_env.action_space != own_act:
            raise ValueError(f"action space {group_env.action_space} != the model's {own_act}")
        self._configure(group_env)
        if getattr(self, "_default_lr", False):
            self.learning_rate = self.default_learning_rate()
            self._default_lr = False
        self._check_tasks(group_env)
        self.group_env = group_env
        self.observation_space = group_env.observation_space
        self.action_space = group_env.action_space
        self.n_envs = group_env.num_envs

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

    def set_random_seed(self, seed: int | None = None) -> None:
        """Seed Python, numpy, torch, the action space and the task / reset-seed generator."""
        super().set_random_seed(seed)
        self._rng = np.random.default_rng(seed)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "group_env", "_rng"]

    def save(self, path: Any, exclude: Any = None, include: Any = None) -> None:  # type: ignore[override]
        """Save to a zip (SB3's format) with the class name and every random generator's state.

        Refuses an empty path or a directory, and a model whose parameters are not all finite (ValueError). As
        in SB3, a path without a suffix gets ``.zip``.
        """
        path = model_files.check_save_path(path)
        self._check_finite("save")
        self.__dict__[model_files.ALGO_CLASS_KEY] = type(self).__name__
        self.__dict__[model_files.RANDOM_STATE_KEY] = model_files.random_state(self._rng)
        try:
            super().save(path, exclude=exclude, include=include)
        finally:
            self.__dict__.pop(model_files.ALGO_CLASS_KEY, None)
            self.__dict__.pop(model_files.RANDOM_STATE_KEY, None)

    @classmethod
    def load(cls, path: Any, env: Any = None, device: th.device | str = "auto",
             custom_objects: dict[str, Any] | None = None, **kwargs: Any):  # type: ignore[override]
        """Load a saved model without running code from the file; ``env`` (optional) is attached for training.

        The zip must have been saved by this class (``GRPO.load`` of an IPSGRPO zip raises
        :class:`~ips_agents.algorithms.model_files.ModelClassMismatch`); a missing file raises FileNotFoundError
        naming it, a truncated, corrupt or hand-edited one ValueError naming the bad field, one whose pickled
        fields name anything outside the allow-list :class:`~ips_agents.algorithms.model_files.UnsafeModelFile`
        (see :mod:`~ips_agents.algorithms.model_files` for the trust rule; ``custom_objects`` replaces fields you
        trust), and one whose parameters are not all finite ValueError. The random generators (task / reset-seed
        generator, torch, numpy, Python) are put back to their state at save time, so training continues exactly
        where it stopped.
        """
        path = model_files.resolve_load_path(path)
        data = model_files.read_saved_data(path)
        model_files.check_data_shape(data, path)
        model_files.check_algo_class(data, cls, path)
        safe_objects = model_files.deserialize_fields(data, path, custom_objects)
        try:
            model = super().load(path, env=None, device=device, custom_objects=safe_objects, **kwargs)
        except (AssertionError, EOFError, KeyError, RuntimeError, TypeError, zipfile.BadZipFile,
                pickle.UnpicklingError) as e:
            raise ValueError(f"{str(path)!r} is not a readable model zip (truncated or corrupt?): "
                             f"{type(e).__name__}: {e}") from None
        model.__dict__.pop(model_files.ALGO_CLASS_KEY, None)
        saved_state = model.__dict__.pop(model_files.RANDOM_STATE_KEY, None)
        if not hasattr(model, "_rng"):
            model._rng = np.random.default_rng(model.seed)
        if saved_state is not None:
            try:
                model_files.restore_random_state(saved_state, model._rng)
            except ValueError as e:
                raise ValueError(f"{str(path)!r}: {e}") from None
        model._check_finite(f"load {str(path)!r}")
        if env is not None:
            model.set_env(env)
        return model

    def non_finite_parameters(self) -> list[str]:
        """Names of the policy's parameters and optimizer state tensors that hold a NaN or an infinity."""
        return non_finite_tensors(self.policy)

    def _check_finite(self, action: str) -> None:
        """ValueError when a parameter or optimizer state tensor is not finite (``action`` names what is refused)."""
        bad = self.non_finite_parameters()
        if bad:
            raise ValueError(f"refusing to {action}: the model holds non-finite parameters ({', '.join(bad[:3])}"
                             f"{', ...' if len(bad) > 3 else ''}); train it again with a lower learning rate")

    @property
    def budget_exhausted(self) -> bool:
        """True once the env reported an episode it could not score because its oracle budget was spent."""
        return bool(self.group_env is not None and self.group_env.budget_exhausted)

    def get_env(self) -> None:  # type: ignore[override]
        """The group algorithms keep their env in :attr:`group_env` (a :class:`GroupEnv`), not as an SB3 VecEnv."""
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
        """Actions for ``observation`` (single or batched), restricted to ``action_masks`` when given.

        A model whose parameters are not all finite is refused (ValueError) rather than answering from NaNs.
        """
        self._check_finite("predict")
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
            self._iterations = 0
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

        batch = collect_groups(self.policy, self.group_env, self.group_size, tasks, seeds, on_step=on_step,
                               **self._rollout_kwargs())
        if callback is not None:
            callback.update_locals({"batch": batch})
            callback.on_rollout_end()
        return batch

    def _rollout_kwargs(self) -> dict[str, Any]:
        """Extra arguments of :func:`~ips_agents.sampling.collect_groups` (a subclass's sampling options)."""
        return {}

    def train_on_batch(self, batch: GroupBatch) -> dict[str, float]:
        """Gradient steps on one batch; returns the statistics to log under ``train/``. The subclass's loss."""
        raise NotImplementedError

    def _gradient_step(self, loss: th.Tensor) -> bool:
        """Back-propagate ``loss``, clip, and step; a step that leaves the policy non-finite is undone and reported.

        Called only on batches whose rewards and targets are finite (others go to :meth:`_skip_batch`), so a
        non-finite loss or gradient norm means the policy itself has diverged, and a parameter or optimizer
        state tensor that is not finite after the step means the step overflowed. Both raise
        :class:`NonFiniteUpdate` naming the learning rate; in the second case the parameters and optimizer
        state are first restored to their values before the step. Returns True (the optimizer stepped).
        """
        optimizer = self.policy.optimizer
        optimizer.zero_grad()
        loss.backward()
        max_norm = th.inf if self.max_grad_norm is None else self.max_grad_norm
        grad_norm = th.nn.utils.clip_grad_norm_(self.policy.parameters(), max_norm)
        if not (th.isfinite(loss) and th.isfinite(grad_norm)):
            optimizer.zero_grad()
            raise self._non_finite_update(f"the loss ({loss.item()}) or gradient norm ({grad_norm.item()}) is not "
                                          "finite on a batch with finite rewards and advantages: the policy diverged")
        snapshot = optimizer_snapshot(optimizer)
        optimizer.step()
        if not optimizer_is_finite(optimizer):
            restore_snapshot(optimizer, snapshot)
            optimizer.zero_grad()
            raise self._non_finite_update("a gradient step made parameters or optimizer state non-finite; the step "
                                          "was undone (parameters and optimizer state restored)")
        return True

    def _non_finite_update(self, what: str) -> NonFiniteUpdate:
        """:class:`NonFiniteUpdate` saying ``what`` happened, naming the learning rate in use and the remedy."""
        return NonFiniteUpdate.at(what, self.policy.optimizer, self._n_updates + 1)

    def _skip_batch(self, batch: GroupBatch, targets: np.ndarray) -> dict[str, float]:
        """Count and report a batch whose rewards or training targets (advantages) are not finite.

        Called before any gradient step, so the parameters are not touched; returns NaN statistics. When the
        rewards are finite but the policy's own log-probabilities are not, the policy has diverged (e.g. an
        earlier step with a huge learning rate): that raises :class:`NonFiniteUpdate` instead, since every later
        batch would be skipped too.
        """
        if np.isfinite(batch.rewards).all() and not np.isfinite(batch.log_probs).all():
            raise self._non_finite_update("the policy's log-probabilities are not finite on a batch with finite "
                                          "rewards: the policy diverged")
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
        self: SelfGroupAlgorithm,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfGroupAlgorithm:
        """Train until ``total_timesteps`` recorded transitions (whole batches; the last may overshoot), with torch
        on ``torch_threads`` threads.

        ``total_timesteps`` is a positive integer (an integral float such as ``1e5`` is accepted, as in SB3).
        Training also stops, before updating on it, at the first batch with an episode the env could not score
        because its oracle budget was spent (``info["budget_exhausted"]``; see :attr:`budget_exhausted`).
        ``tb_log_name`` defaults to the class name.
        """
        if isinstance(total_timesteps, float) and total_timesteps.is_integer():
            total_timesteps = int(total_timesteps)
        total_timesteps = check_int("total_timesteps", total_timesteps, 1)
        name = type(self).__name__ if tb_log_name is None else tb_log_name
        with torch_threads(getattr(self, "torch_threads", None)):
            return self._learn(total_timesteps, callback, log_interval, name, reset_num_timesteps, progress_bar)

    def _learn(self: SelfGroupAlgorithm, total_timesteps: int, callback: MaybeCallback, log_interval: int,
               tb_log_name: str, reset_num_timesteps: bool, progress_bar: bool) -> SelfGroupAlgorithm:
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
            self._iterations += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            stats = self.train_on_batch(batch)
            self._record(batch, stats, self._iterations)
            if log_interval and iteration % log_interval == 0:
                self.logger.dump(step=self.num_timesteps)
        callback.on_training_end()
        return self


def frozen_copy(policy: MaskedActorPolicy) -> MaskedActorPolicy:
    """A copy of ``policy`` with no gradients, in evaluation mode (a KL reference)."""
    ref = copy.deepcopy(policy)
    ref.requires_grad_(False)
    ref.set_training_mode(False)
    return ref
