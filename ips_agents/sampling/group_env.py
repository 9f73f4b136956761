"""Lock-step group rollouts over any supported env: the env side of IPS-GRPO's sampler.

The contract a user's own env must meet (single Gymnasium env, Gymnasium vector env or SB3 VecEnv):

* ``Discrete`` actions and legal-action masks, from ``action_masks()`` (sb3-contrib convention) or
  ``info["action_mask"]``;
* terminal rewards, with ``info["outcome"]`` (a hashable key, e.g. str) at termination (in
  ``info["final_info"]`` for Gymnasium vector envs in ``AutoresetMode.SAME_STEP``); only the masks of copies
  whose episode is running are used, so a finished copy's mask may be anything;
* for ``ips_estimator="paths"`` only: ``info["path_count"]`` (int, the number of construction paths that end
  in the outcome) at termination, or ``unique_paths`` (then every count is 1);
* optionally ``info["budget_exhausted"]`` (bool) at termination when the episode could not be scored because
  a budgeted reward (an oracle) was spent: IPS-GRPO then stops training before updating on that batch;
* a way to give each group one task instance: either ``reset(options={"tasks": [...]})`` (ips_envs vector
  envs) / ``VecEnv.set_options`` with ``{"task": ...}``, or an env that draws its task from the reset
  seed, in which case every member of a group is reset with the same seed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from ips_envs.core.vector_env import ConstructionVectorEnv

Obs = np.ndarray | dict[str, np.ndarray]
ENV_CONTRACT = ("Discrete actions, legal-action masks (info['action_mask'] or action_masks()), info['outcome'] at "
                "termination and one reset seed (or task) per copy (see ips_agents.sampling.group_env)")
"""The IPS env contract in one line, for the errors that name what an env lacks."""


def contract_error(env: Any, problem: str) -> ValueError:
    """ValueError saying that ``env`` (named by its spec id) does not meet the IPS env contract: ``problem``."""
    spec = getattr(env, "spec", None)
    name = repr(spec.id) if spec is not None else type(env).__name__
    return ValueError(f"env {name} is not an IPS env ({problem}): an IPS env has {ENV_CONTRACT}")


def index_obs(obs: Obs, idx: np.ndarray) -> Obs:
    """Rows ``idx`` of an array or a dict of arrays."""
    if isinstance(obs, dict):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]


def concat_obs(parts: Sequence[Obs]) -> Obs:
    """Concatenate arrays (or dicts of arrays) along the batch dimension."""
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}  # type: ignore[index]
    return np.concatenate(parts)  # type: ignore[arg-type]


def _outcome_error(i: int) -> ValueError:
    return ValueError(
        f"env {i} terminated without info['outcome']; IPS-GRPO needs the outcome key of every finished "
        "episode (see ips_agents.sampling.group_env for the env contract)"
    )


class GroupEnv:
    """Adapter with one interface over ips_envs vector envs, other Gymnasium vector envs and SB3 VecEnvs.

    ``reset(tasks, seeds)`` starts ``num_envs`` episodes; ``step(actions)`` returns
    ``obs, masks, rewards, terminated, outcomes, valid`` for every copy (values of copies that were
    already finished are meaningless and must be ignored by the caller).
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        if isinstance(env, VecEnv):
            self.kind = "sb3"
            self.observation_space = env.observation_space
            self.action_space = env.action_space
        elif isinstance(env, gym.vector.VectorEnv):
            self.kind = "ips" if isinstance(env.unwrapped, ConstructionVectorEnv) else "gym"
            self.observation_space = env.single_observation_space
            self.action_space = env.single_action_space
        else:
            raise TypeError(f"expected a Gymnasium VectorEnv or an SB3 VecEnv, got {type(env).__name__}")
        if not isinstance(self.action_space, spaces.Discrete):
            raise ValueError(f"IPS-GRPO needs a Discrete action space, got {self.action_space}")
        self.num_envs = int(env.num_envs)
        mode = getattr(env, "metadata", {}).get("autoreset_mode") if self.kind != "sb3" else None
        self._manual_reset = mode == gym.vector.AutoresetMode.DISABLED
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self.budget_exhausted = False
        """Set (and kept) once a finished episode reports ``info["budget_exhausted"]``: its oracle was spent."""
        # an ips_envs vector env used as is (no wrapper, its own step): step_active steps only the running copies
        self._direct = (self.kind == "ips" and env is env.unwrapped
                        and type(env).step is ConstructionVectorEnv.step)
        self._last_masks: np.ndarray | None = None

    # -------------------------------------------------------------- queries
    @property
    def unique_paths(self) -> bool:
        """Whether the env declares one construction path per outcome."""
        try:
            if self.kind == "ips":
                return bool(self.env.unwrapped.unique_paths)
            return bool(all(self.env.get_attr("unique_paths")))  # SB3 VecEnv and Gymnasium VectorEnv alike
        except (AttributeError, TypeError):
            return False

    @property
    def path_counts(self) -> bool | None:
        """Whether the env reports path counts: True / False for ips_envs envs and envs with ``unique_paths``,
        None for other envs (known only once an episode ends with or without ``info["path_count"]``)."""
        if self.kind == "ips":
            return bool(self.env.unwrapped.kernel.counts_paths)
        if self.unique_paths:
            return True
        try:  # copies of ips_envs single envs inside an SB3 VecEnv or a Gymnasium SyncVectorEnv
            kernels = self.env.get_attr("kernel")
        except (AttributeError, TypeError):
            return None
        counts = [getattr(k, "counts_paths", None) for k in kernels]
        return bool(all(counts)) if all(c is not None for c in counts) else None

    @property
    def token_layout(self) -> Any:
        """The env's :class:`~ips_envs.core.tokens.TokenLayout` (``token_layout`` attribute), or None."""
        try:
            if self.kind == "ips":
                return self.env.unwrapped.token_layout
            return self.env.get_attr("token_layout")[0]
        except (AttributeError, TypeError, IndexError):
            return None

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]] | None:
        """``n`` tasks from the env's task distribution, or None when the env cannot sample tasks."""
        if self.kind != "ips":
            return None
        base = self.env.unwrapped
        return [base.sample_task(rng) for _ in range(n)]

    def _masks(self, info: Mapping[str, Any] | None) -> np.ndarray:
        if self.kind == "sb3":
            return np.stack(self.env.env_method("action_masks")).astype(bool)
        if self.kind == "ips":
            return self.env.unwrapped.action_masks()
        if info is not None and "action_mask" in info:
            return np.asarray(info["action_mask"], dtype=bool)
        try:
            return np.stack(self.env.call("action_masks")).astype(bool)
        except AttributeError:
            raise contract_error(self.env, "it reports no legal-action masks") from None

    # ---------------------------------------------------------------- reset
    def reset(
        self, tasks: Sequence[Mapping[str, Any]] | None = None, seeds: Sequence[int] | None = None
    ) -> tuple[Obs, np.ndarray]:
        """Start every copy: copy ``i`` gets ``tasks[i]`` (when given) and ``seeds[i]``."""
        if self.kind == "sb3":
            if tasks is not None:
                self.env.set_options([{"task": t} for t in tasks])
            if seeds is not None:
                self.env.seed(None)
                self.env._seeds = [int(s) for s in seeds]  # per-copy seeds (SB3 only broadcasts one)
            obs = self.env.reset()
            self._last_masks = self._masks(None)
            return obs, self._last_masks
        options = None
        if tasks is not None:
            if self.kind != "ips":
                raise ValueError("per-copy tasks need an ips_envs vector env (or an SB3 VecEnv)")
            options = {"tasks": list(tasks)}
            seeds = None  # the task is given: ips_envs only use the seed to sample tasks
        try:
            obs, info = self.env.reset(seed=None if seeds is None else [int(s) for s in seeds], options=options)
        except (gym.error.Error, TypeError) as e:
            if self.kind == "ips":
                raise
            raise contract_error(self.env, f"its reset(seed=[one seed per copy]) failed: {e}") from None
        if not self._direct:  # a vector env may hand out its own buffer (Gymnasium's copy=False)
            obs = {k: np.array(v) for k, v in obs.items()} if isinstance(obs, dict) else np.array(obs)
        self._ended[:] = False
        self._last_masks = self._masks(info)
        return obs, self._last_masks

    # ----------------------------------------------------------------- step
    def step(self, actions: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray]:
        """Step every copy; return ``obs, masks, rewards, terminated, outcomes, valid, path_counts``.

        ``path_counts`` (float64, so counts beyond int64 fit) holds ``info["path_count"]`` on terminated copies
        that report it, 1 on terminated copies of envs with ``unique_paths`` that do not, and -1 elsewhere.
        """
        n = self.num_envs
        outcomes = np.full(n, "", dtype=object)
        valid = np.zeros(n, dtype=bool)
        counts = np.full(n, -1.0)
        if self.kind == "sb3":
            obs, rewards, dones, infos = self.env.step(actions)
            for i in np.flatnonzero(dones):
                if "outcome" not in infos[i]:
                    raise _outcome_error(int(i))
                outcomes[i] = infos[i]["outcome"]
                valid[i] = bool(infos[i].get("valid", rewards[i] > 0))
                self.budget_exhausted |= bool(infos[i].get("budget_exhausted", False))
                if "path_count" in infos[i]:
                    counts[i] = float(infos[i]["path_count"])
            dones = np.asarray(dones, bool)
            self._unit_counts(counts, dones)
            self._last_masks = self._masks(None)
            return obs, self._last_masks, np.asarray(rewards, np.float64), dones, outcomes, valid, counts
        if self._manual_reset and self._ended.any():  # AutoresetMode.DISABLED: finished copies must be reset
            self.env.reset(options={"reset_mask": self._ended.copy()})
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        self._ended = done.copy()
        masks = self._last_masks = self._masks(info)
        if "final_info" in info:  # AutoresetMode.SAME_STEP: finished copies already report their next episode
            info = info["final_info"]
        if done.any():
            if "outcome" not in info:
                raise _outcome_error(int(np.flatnonzero(done)[0]))
            has = np.asarray(info.get("_outcome", done), bool)
            missing = np.flatnonzero(done & ~has)
            if len(missing):
                raise _outcome_error(int(missing[0]))
            outcomes[done] = np.asarray(info["outcome"], dtype=object)[done]
            if "valid" in info:
                valid[done] = np.asarray(info["valid"], bool)[done]
            else:
                valid[done] = np.asarray(rewards)[done] > 0
            if "budget_exhausted" in info:
                self.budget_exhausted |= bool(np.asarray(info["budget_exhausted"], bool)[done].any())
            if "path_count" in info:
                has = done & np.asarray(info.get("_path_count", done), bool)
                counts[has] = np.asarray(np.asarray(info["path_count"])[has], dtype=np.float64)
            self._unit_counts(counts, done)
        return obs, masks, np.asarray(rewards, np.float64), done, outcomes, valid, counts

    def step_active(self, idx: np.ndarray, actions: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray, np.ndarray, np.ndarray]:
        """Step the running copies ``idx`` (strictly increasing) with ``actions`` (one per copy in ``idx``).

        Returns what :meth:`step` returns, but only for the copies ``idx`` (row ``j`` is copy ``idx[j]``). An
        ips_envs vector env (unwrapped) steps, observes and masks only those copies
        (:meth:`~ips_envs.core.vector_env.ConstructionVectorEnv.step_rows`); any other env steps every copy
        (finished ones with a legal dummy action) and the rows are picked from the result. Both give the same
        values for the copies ``idx``.
        """
        idx = np.asarray(idx, dtype=np.intp)
        if not self._direct:
            if self._last_masks is None:
                raise RuntimeError("call reset() before step_active()")
            full = self._last_masks.argmax(axis=1)  # finished copies: any action (ignored or starting a new episode)
            full[idx] = actions
            obs, masks, rewards, done, outcomes, valid, counts = self.step(full)
            return (index_obs(obs, idx), masks[idx], rewards[idx], done[idx], outcomes[idx], valid[idx],
                    counts[idx])
        obs, masks, rewards, done, fields = self.env.step_rows(idx, actions)
        self._ended[idx] = done
        m = len(idx)
        outcomes = np.full(m, "", dtype=object)
        valid = np.zeros(m, dtype=bool)
        counts = np.full(m, -1.0)
        if done.any():
            outcomes[done] = fields["outcome"][done]
            valid[done] = fields["valid"][done]
            if "budget_exhausted" in fields:
                self.budget_exhausted |= bool(fields["budget_exhausted"][done].any())
            counts[done] = np.asarray(fields["path_count"][done], dtype=np.float64)
            self._unit_counts(counts, done)
        return obs, masks, rewards, done, outcomes, valid, counts

    def _unit_counts(self, counts: np.ndarray, done: np.ndarray) -> None:
        """Fill missing path counts of finished copies with 1 when the env declares ``unique_paths``."""
        missing = done & (counts < 0)
        if missing.any() and self.unique_paths:
            counts[missing] = 1


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
