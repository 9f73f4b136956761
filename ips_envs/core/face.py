"""What the single-env and vector-env faces of a kernel share: arguments, tasks, masks, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ips_envs.core.kernel import Kernel

RENDER_MODES = ["ansi", "rgb_array"]
RESET_OPTIONS = ("task", "tasks", "reset_mask")


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
        self.kernel = self.kernel_class(**kwargs)
        self.render_mode = render_mode
        self.strict = bool(strict)
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

    def _illegal(self, action: int, mask: np.ndarray, where: str = "") -> ValueError:
        legal = np.flatnonzero(mask).tolist()
        return ValueError(f"action {action}{where} is masked out; legal actions are {legal}")

    @property
    def unique_paths(self) -> bool:
        """True when every outcome has exactly one construction path (``canonical_order=True``)."""
        return bool(self.kernel.unique_paths)

    def sample_task(self, rng: np.random.Generator | int | None = None) -> dict[str, Any]:
        """Draw a task from this env's task distribution (or return the fixed task)."""
        return self._choose_task(np.random.default_rng(rng), None)
