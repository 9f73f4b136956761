"""MaskablePPO (sb3-contrib) on an IPS env: the masks come from env.action_masks(), nothing to wrap.

Evaluate a MaskablePPO model with sb3-contrib's ``sb3_contrib.common.maskable.evaluation.evaluate_policy``,
not Stable-Baselines3's ``stable_baselines3.common.evaluation.evaluate_policy``: SB3's version calls
``model.predict`` without masks, so the model plays masked-out actions (on CausalDAG most episodes end on an
illegal action with reward 0, and nothing warns); the sb3-contrib version passes ``action_masks()``.

    python examples/maskable_ppo.py --quick   # seconds; too short to learn (the full run: about a minute)
"""

import argparse

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.evaluation import evaluate_policy  # the masked one (not SB3's)

import ips_envs  # registers the IPS/ ids
from ips_agents.evaluation import outcome_report

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
parser.add_argument("--timesteps", type=int, default=50_000)
args = parser.parse_args()
torch.set_num_threads(1)

env = gym.make("IPS/PathMultiplicity-v0")  # MaskablePPO finds action_masks() through Gymnasium's wrappers
model = MaskablePPO("MlpPolicy", env, n_steps=128 if args.quick else 1024, batch_size=64, seed=0, verbose=0)
timesteps = 512 if args.quick else args.timesteps
model.learn(timesteps)

mean_return, _ = evaluate_policy(model, env, n_eval_episodes=20, deterministic=False, warn=False)
print(f"mean return over 20 episodes (sb3-contrib's masked evaluate_policy): {mean_return:.3f}")

# Sample with masks, as during training.
obs, info = env.reset(seed=1)
terminated = False
while not terminated:
    action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=False)
    obs, reward, terminated, truncated, info = env.step(int(action))
print("one sampled outcome:", info["outcome"], "reward", reward)

# The exact outcome distribution of the trained policy against the reward-proportional target.
# Expected-return training concentrates on one outcome (mode collapse); compare examples/ips_grpo_causal.py.
def policy_probs(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Action probabilities of the masked policy for a batch of states (what the exact DP asks for)."""
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(obs), action_masks=masks)
    return dist.distribution.probs.numpy()


dist = ips_envs.exact_outcome_distribution(env.unwrapped, policy_probs)
target = env.unwrapped.target_distribution()
report = outcome_report(dist, target)
print("target (reward-proportional):", {k: round(v, 3) for k, v in target.items()})
print("trained policy (exact):      ", {k: round(v, 3) for k, v in dist.items() if v > 1e-3},
      f"TV to target {report['tv']:.3f}")
assert np.isclose(sum(dist.values()), 1.0)
if args.quick:
    print(f"--quick trained {timesteps} steps: too short to learn, so these numbers only show that the pipeline "
          f"runs (without --quick, {args.timesteps:,} steps: MaskablePPO ends on one outcome, far from the target)")
