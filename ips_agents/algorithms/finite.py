"""Guards of a gradient step: undo a step that leaves the policy non-finite, and say why.

:meth:`GroupAlgorithm._gradient_step <ips_agents.algorithms.base.GroupAlgorithm._gradient_step>` takes an
:func:`optimizer_snapshot` (copies of the parameters the optimizer steps and of their state) before
``optimizer.step()``; when :func:`optimizer_is_finite` is False afterwards, :func:`restore_snapshot` puts the
copies back and :class:`NonFiniteUpdate` is raised. The copy and the check cost one pass over the parameters
and the Adam moments per step (about 0.15 ms for the 256 x 256 MLP on one CPU thread, a few percent of an
update; :func:`all_finite` sums instead of comparing element by element).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch as th

Snapshot = list[tuple[th.Tensor, th.Tensor, dict[str, Any] | None]]
"""(parameter, copy of its values, copy of its optimizer state or None before its first step) per parameter."""


class NonFiniteUpdate(ValueError):
    """A gradient step left (or would have left) the policy non-finite; the message names the learning rate.

    Raised by :meth:`GroupAlgorithm.learn` with the parameters and optimizer state as they were before the
    offending step (an overflowing step is undone). The usual cause is a learning rate that is far too large.
    """

    @classmethod
    def at(cls, what: str, optimizer: th.optim.Optimizer, update: int) -> NonFiniteUpdate:
        """The error saying ``what`` happened at ``update``, naming the optimizer's learning rate and the remedy."""
        lr = optimizer.param_groups[0]["lr"]
        return cls(f"{what} (learning_rate={lr:g}, update {update}): lower the learning rate (learning_rate= / "
                   f"--learning-rate; the usual values are 1e-4 to 3e-3)")


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


def all_finite(tensors: Iterable[th.Tensor]) -> bool:
    """Whether every element of the floating-point ``tensors`` is finite.

    Fast path: a sum is finite only when every summand is, so one sum per tensor decides in the usual case (about
    ten times faster than ``isfinite`` on CPU); only when the total is not finite (a NaN or an infinity, or huge
    finite values that overflow it) is every tensor checked element by element.
    """
    floats = [t.detach() for t in tensors if t.is_floating_point()]
    if not floats or bool(th.isfinite(sum(t.sum() for t in floats))):
        return True
    return all(bool(th.isfinite(t).all()) for t in floats)


def optimizer_is_finite(optimizer: th.optim.Optimizer) -> bool:
    """Whether every parameter the optimizer steps and every floating-point state tensor is finite."""
    return all_finite(t for p, state in _parameters_and_state(optimizer)
                      for t in (p, *(v for v in state.values() if isinstance(v, th.Tensor))))


def non_finite_tensors(policy: th.nn.Module) -> list[str]:
    """Names of ``policy``'s parameters and of its optimizer's state tensors that hold a NaN or an infinity."""
    optimizer = getattr(policy, "optimizer", None)
    states = list(optimizer.state.values()) if optimizer is not None else []
    if all_finite([*policy.parameters(), *(v for state in states for v in state.values() if isinstance(v, th.Tensor))]):
        return []
    bad = [name for name, p in policy.named_parameters() if not bool(th.isfinite(p).all())]
    for i, state in enumerate(states):
        bad += [f"optimizer state {i}.{k}" for k, v in state.items()
                if isinstance(v, th.Tensor) and v.is_floating_point() and not bool(th.isfinite(v).all())]
    return bad
