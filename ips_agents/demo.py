"""``ips-rl demo``: random masked rollouts of the envs against their exact target distributions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np

import ips_envs


def _random_outcomes(env_id: str, n: int, seed: int, **kwargs) -> Counter:
    envs = gym.make_vec(env_id, num_envs=n, **kwargs)
    rng = np.random.default_rng(seed)
    _, info = envs.reset(seed=seed)
    done = np.zeros(n, dtype=bool)
    outcomes = np.full(n, "", dtype=object)
    while not done.all():
        masks = np.where(done[:, None], True, info["action_mask"])
        actions = (rng.random(masks.shape) * masks).argmax(axis=1)
        _, _, term, _, info = envs.step(actions)
        outcomes[term & ~done] = info["outcome"][term & ~done]
        done |= term
    return Counter(outcomes.tolist())


def run_demo(out: str = "demo_out", samples: int = 20_000, seed: int = 0) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Path(out).mkdir(parents=True, exist_ok=True)
    for env_id in ("IPS/PathMultiplicity-v0", "IPS/HyperGrid-v0"):
        env = gym.make(env_id).unwrapped
        env.reset(seed=seed)
        target = env.target_distribution()
        uniform = ips_envs.exact_outcome_distribution(env, lambda o, m: m / m.sum(1, keepdims=True))
        counts = _random_outcomes(env_id, samples, seed)
        keys = sorted(target, key=lambda k: -target[k])[:20]
        print(f"\n{env_id}: {len(target)} outcomes; uniform random policy vs reward-proportional target")
        print(f"{'outcome':>10} {'target':>8} {'exact':>8} {'sampled':>8}")
        for k in keys:
            print(f"{k:>10} {target[k]:8.4f} {uniform.get(k, 0):8.4f} {counts.get(k, 0) / samples:8.4f}")
        l1 = sum(abs(uniform.get(k, 0) - target.get(k, 0)) for k in set(uniform) | set(target))
        print(f"exact L1(uniform policy, target) = {l1:.4f}")
        fig, ax = plt.subplots(figsize=(8, 3.5))
        xs = np.arange(len(keys))
        ax.bar(xs - 0.2, [target[k] for k in keys], 0.4, label="target r/sum r")
        ax.bar(xs + 0.2, [counts.get(k, 0) / samples for k in keys], 0.4, label="random policy (sampled)")
        ax.set_xticks(xs, keys, rotation=60, fontsize=7)
        ax.set_title(env_id)
        ax.legend()
        fig.tight_layout()
        path = Path(out) / f"{env_id.split('/')[1].split('-')[0].lower()}_outcomes.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(f"wrote {path}")
    return 0
