"""Guards of a gradient step: undo a step that leaves the policy non-finite, and say why.

:meth:`GroupAlgorithm._gradient_step <ips_agents.algorithms.base.GroupAlgorithm._gradient_step>` takes an
:func:`optimizer_snapshot` (copies of the parameters the optimizer steps and of their state) before
``optimizer.step()``; when :func:`optimizer_is_finite` is False afterwards, :func:`restore_snapshot` puts the
copies back and :class:`NonFiniteUpdate` is raised. The copies cost one pass over the parameters and the Adam
moments per step, small next to the forward and backward passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch as th

Snapshot = list[tuple[th.Tensor, th.Tensor, dict[str, Any] | None]]
"""(parameter, copy of its values, copy of its optimizer state or None before its first step) per parameter."""


class NonFiniteUpdate(ValueError):
    """A gradient step left (or would have left) the policy non-finite; the message names the learning rate.

    Raised by :meth:`GroupAlgorithm.learn` with the parameters and optimizer state as they were before the
    offending step (an overflowing step is undone). The usual cause is a learning rate that is far too large.
    """


def _parameters_and_state(optimizer: th.optim.Optimizer) -> Iterator[tuple[th.Tensor, dict[str, Any]]]:
    """Each parameter the optimizer steps, with its state (empty before the first step)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            yield p, optimizer.state.get(p, {})


def optimizer_snapshot(optimizer: th.optim.Optimizer) -> Snapshot:
    """Copies of the parameters the optimizer steps and of their optimizer state (to undo one step)."""
    return [(p, p.detach().clone(),
             {k: v.clone() if isinstance(v, th.Tensor) else v for k, v in state.items()} if state else None)
            for p, state in _parameters_and_state(optimizer)]


def restore_snapshot(optimizer: th.optim.Optimizer, snapshot: Snapshot) -> None:
    """Put back the parameters and optimizer state recorded by :func:`optimizer_snapshot`."""
    with th.no_grad():
        for p, saved, state in snapshot:
            p.copy_(saved)
            if state is None:
                optimizer.state.pop(p, None)
            else:
                optimizer.state[p] = state


def optimizer_is_finite(optimizer: th.optim.Optimizer) -> bool:
    """Whether every parameter the optimizer steps and every floating-point state tensor is finite."""
    checks = [th.isfinite(t).all() for p, state in _parameters_and_state(optimizer)
              for t in (p, *(v for v in state.values() if isinstance(v, th.Tensor) and v.is_floating_point()))]
    return bool(th.stack(checks).all()) if checks else True
