"""Shared helpers for the test suite."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

import ips_envs
from tests.isolated_process import Children

torch.set_num_threads(1)


@pytest.fixture
def children():
    """Start processes that cannot outlive the test: ``children.start(cmd, **popen_kwargs)`` returns the ``Popen``.
    Each child runs in a session of its own with the default SIGINT / SIGTERM dispositions (so a suite started
    with SIGINT ignored can still interrupt it), and every session is killed (SIGKILL) when the test ends, whatever
    happened. (A child run to its end: ``tests.isolated_process.run_process``, ``subprocess.run``'s arguments.)"""
    started = Children()
    try:
        yield started
    finally:
        started.kill_all()


def random_legal(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly random legal action per row of a bool mask matrix (vectorised)."""
    scores = rng.random(masks.shape) * masks
    return scores.argmax(axis=1)


def uniform_probs(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Uniform-over-legal-actions policy, in the exact DP's calling convention."""
    m = masks.astype(np.float64)
    return m / m.sum(axis=1, keepdims=True)


def rollout_outcomes(env_id: str, n: int, seed: int, **kwargs) -> tuple[list[str], np.ndarray, int]:
    """Run ``n`` uniform random legal episodes in one vector env; return outcomes, rewards, max length."""
    import gymnasium as gym

    envs = gym.make_vec(env_id, num_envs=n, **kwargs)
    rng = np.random.default_rng(seed)
    _, info = envs.reset(seed=seed)
    masks = info["action_mask"]
    done = np.zeros(n, dtype=bool)
    outcomes = np.full(n, "", dtype=object)
    rewards = np.zeros(n)
    steps = 0
    while not done.all():
        steps += 1
        actions = random_legal(rng, np.where(done[:, None], True, masks))
        _, rew, term, trunc, info = envs.step(actions)
        newly = term & ~done
        outcomes[newly] = info["outcome"][newly]
        rewards[newly] = rew[newly]
        done |= term
        masks = info["action_mask"]
    envs.close()
    return list(outcomes), rewards, steps


def count_paths(kernel, task: dict | None = None, states: dict | None = None) -> dict[str, int]:
    """Number of distinct legal action sequences ending in each outcome (brute-force DFS over a kernel).

    When ``states`` is a dict, one terminal state (N = 1) per outcome key is stored in it.
    """
    counts: dict[str, int] = {}

    def walk(state):
        for a in np.flatnonzero(kernel.legal_actions(state)[0]):
            child = {k: v.copy() for k, v in state.items()}
            if kernel.apply(child, np.array([a]))[0]:
                key = kernel.outcomes(child)[0][0]
                counts[key] = counts.get(key, 0) + 1
                if states is not None:
                    states.setdefault(key, child)
            else:
                walk(child)

    walk(kernel.initial_state([{} if task is None else task]))
    return counts


@pytest.fixture(params=ips_envs.ENV_IDS)
def env_id(request) -> str:
    return request.param
