"""What the single-env and vector-env faces of a kernel share: arguments, tasks, masks, errors."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ips_envs.core.kernel import INVALID_OUTCOME, PENDING_OUTCOME, Kernel, State, take
from ips_envs.core.validation import check_bool

RENDER_MODES = ["ansi", "rgb_array"]
RESET_OPTIONS = ("task", "tasks", "reset_mask")


def pending_info(n: int, flags: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The per-copy info fields of ``n`` copies whose episodes have not ended, with their values.

    This is the one place the info keys are listed: single envs report row 0 of these arrays and vector
    envs the arrays (with ``info["action_mask"]`` beside them), on reset and on every step. A new key is
    one entry here plus its value at termination in :meth:`KernelFace._end_episodes`. ``flags`` are a
    domain's own bool keys (:attr:`Kernel.outcome_flags <ips_envs.core.kernel.Kernel.outcome_flags>`, e.g.
    SMILES' ``budget_exhausted`` and ``too_large``), False until an episode ends with them.
    """
    return {
        "outcome": np.full(n, PENDING_OUTCOME, dtype=object),
        "valid": np.zeros(n, dtype=bool),
        "invalid_action": np.zeros(n, dtype=bool),
        "path_count": np.zeros(n, dtype=np.int64),
        **{flag: np.zeros(n, dtype=bool) for flag in flags},
    }


def row_info(fields: Mapping[str, np.ndarray], i: int) -> dict[str, Any]:
    """Row ``i`` of per-copy info arrays as plain Python values (str, bool, int, float)."""
    return {k: v[i].item() if isinstance(v[i], np.generic) else v[i] for k, v in fields.items()}


def vector_info(fields: Mapping[str, np.ndarray], present: np.ndarray) -> dict[str, Any]:
    """Gymnasium's vector info layout for per-copy arrays: ``info[k]`` and its bool mask ``info["_k"]``.

    Rows outside ``present`` hold what :class:`gymnasium.vector.SyncVectorEnv` leaves there (None in object
    arrays, 0 / False otherwise), so a vector env and a SyncVectorEnv of single envs give equal infos.
    """
    info: dict[str, Any] = {}
    absent = ~present
    for k, v in fields.items():
        v = v.copy()
        if absent.any():
            v[absent] = None if v.dtype == object else 0
        info[k] = v
        info[f"_{k}"] = present.copy()
    return info


class UnknownEnvArgument(TypeError, ValueError):
    """An env argument the domain does not take: a TypeError as Python raises for an unexpected keyword (so
    libraries that retry ``make`` without an optional argument keep working) and a ValueError (bad input)."""


def check_kernel_kwargs(kernel_class: type[Kernel], kwargs: Mapping[str, Any]) -> None:
    """Raise :class:`UnknownEnvArgument` naming env arguments the kernel does not take, and the accepted ones."""
    params = inspect.signature(kernel_class.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        more = f" (and {', '.join(repr(u) for u in unknown[1:])})" if len(unknown) > 1 else ""
        common = ["render_mode", "task", "strict"]
        raise UnknownEnvArgument(f"the {kernel_class.domain} env got an unexpected keyword argument {unknown[0]!r}"
                                 f"{more}; expected some of {sorted(known) + common}")


class KernelFace:
    """Mixin holding a kernel plus the arguments common to every construction env.

    Arguments accepted by every env (besides the domain's own, which go to the kernel):

    * ``render_mode``: ``None``, ``"ansi"`` or ``"rgb_array"``;
    * ``task``: a task dict that every reset uses unless ``reset(options={"task": ...})`` overrides it;
    * ``strict``: when True a masked-out action raises ValueError instead of ending the episode.
    """

    kernel_class: ClassVar[type[Kernel]]
    kernel: Kernel

    def _init_face(
        self, render_mode: str | None, task: Mapping[str, Any] | None, strict: bool, kwargs: dict[str, Any]
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be one of {RENDER_MODES} or None, got {render_mode!r}")
        check_kernel_kwargs(self.kernel_class, kwargs)
        self.kernel = self.kernel_class(**kwargs)
        self.render_mode = render_mode
        self.strict = check_bool("strict", strict)
        self.fixed_task = None if task is None else self.kernel.validate_task(task)

    def _check_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; expected some of {list(RESET_OPTIONS)}")
        return options

    def _choose_task(self, rng: np.random.Generator, override: Mapping[str, Any] | None) -> dict[str, Any]:
        if override is not None:
            return self.kernel.validate_task(override)
        if self.fixed_task is not None:
            return self.fixed_task
        return self.kernel.sample_task(rng)

    def _pending_info(self, n: int) -> dict[str, np.ndarray]:
        """:func:`pending_info` with this kernel's outcome flags."""
        return pending_info(n, self.kernel.outcome_flags)

    def _end_episodes(
        self, state: State, ended: np.ndarray, illegal: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rewards ``[N]`` and info fields of one step over ``N`` rows.

        Rows where ``ended`` (their state is terminal) get their outcome key, reward and validity; rows
        where ``illegal`` (a masked-out action) get :data:`INVALID_OUTCOME` and ``invalid_action``; the
        others keep the :func:`pending_info` values and reward 0.
        """
        rewards = np.zeros(len(ended), dtype=np.float64)
        info = self._pending_info(len(ended))
        finished = np.flatnonzero(ended)
        if len(finished):
            done = take(state, finished)
            keys, rew, ok, flags = self.kernel.outcomes_with_flags(done)
            info["outcome"][finished] = keys
            info["valid"][finished] = ok
            rewards[finished] = rew
            for flag, values in flags.items():
                info[flag][finished] = values
            if self.kernel.counts_paths:  # construction paths of each outcome (0 for invalid-action endings)
                counts = self.kernel.path_counts(done)
                if counts.dtype == object and max(counts) >= 2**63:  # beyond int64: exact Python ints
                    info["path_count"] = info["path_count"].astype(object)
                info["path_count"][finished] = counts
        bad = np.flatnonzero(illegal)
        info["outcome"][bad] = INVALID_OUTCOME
        info["invalid_action"][bad] = True
        return rewards, info

    def _illegal(self, action: int, mask: np.ndarray, where: str = "") -> ValueError:
        legal = np.flatnonzero(mask).tolist()
        return ValueError(f"action {action}{where} is masked out; legal actions are {legal}")

    @property
    def unique_paths(self) -> bool:
        """True when every outcome has exactly one construction path (``canonical_order=True``)."""
        return bool(self.kernel.unique_paths)

    @property
    def token_layout(self) -> Any:
        """The kernel's :class:`~ips_envs.core.tokens.TokenLayout` of one observation (None if it has none)."""
        return self.kernel.token_layout()

    def sample_task(self, rng: np.random.Generator | int | None = None) -> dict[str, Any]:
        """Draw a task from this env's task distribution (or return the fixed task)."""
        return self._choose_task(np.random.default_rng(rng), None)
