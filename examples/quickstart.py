"""Quickstart: make an IPS env, step it with its legal-action mask, and get exact outcome distributions.

    python examples/quickstart.py            # (--quick: the same, it already takes about a second)
"""

import argparse

import gymnasium as gym
import numpy as np

import ips_envs  # registers the IPS/ ids (or use the id "ips_envs:IPS/CausalDAG-v0" without this import)

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
args = parser.parse_args()

# One env. Every IPS env has Discrete actions, a bool legal-action mask and terminal rewards.
env = gym.make("IPS/CausalDAG-v0")
obs, info = env.reset(seed=0)
print("task:", env.unwrapped.task)
print("admissible DAGs:", sorted(env.unwrapped.admissible_outcomes()))

# Step with random legal actions. The info dict has the same keys on every step: before the end
# `outcome` is ips_envs.PENDING_OUTCOME; at the end it is the canonical key of what was built.
rng = np.random.default_rng(0)
terminated = False
while not terminated:
    mask = info["action_mask"]  # == env.unwrapped.action_masks()
    action = int(rng.choice(np.flatnonzero(mask)))
    obs, reward, terminated, truncated, info = env.step(action)
    assert info["outcome"] == ips_envs.PENDING_OUTCOME or terminated
print(f"built {info['outcome']!r}: reward {reward}, valid {info['valid']}")
# After the end the mask allows exactly one dummy action (never an all-False mask): call reset() next.
assert np.flatnonzero(info["action_mask"]).tolist() == [ips_envs.ENDED_ACTION]

# The exact outcome distribution of any policy, by dynamic programming over the state graph. Here: the
# uniform-over-legal-actions policy, compared with the reward-proportional target an IPS learner aims at.
def uniform(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    return masks / masks.sum(axis=1, keepdims=True)


dist = ips_envs.exact_outcome_distribution(env.unwrapped, uniform)
target = env.unwrapped.target_distribution()
on_target = sum(dist.get(k, 0.0) for k in target)
print(f"uniform policy: {len(dist)} reachable outcomes, P(admissible) = {on_target:.3f}")

# Many copies at once: one batched kernel behind gym.make_vec (a standard Gymnasium vector env).
envs = gym.make_vec("IPS/CausalDAG-v0", num_envs=256)
obs, info = envs.reset(seed=0)
ended = np.zeros(envs.num_envs, dtype=bool)
while not ended.all():
    masks = info["action_mask"]
    actions = (rng.random(masks.shape) * masks).argmax(axis=1)  # a random legal action per copy
    obs, rewards, terms, truncs, info = envs.step(actions)
    ended |= terms
print(f"256 parallel episodes finished; autoreset mode {envs.autoreset_mode.name}")
