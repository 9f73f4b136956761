"""IPS-GRPO on your own env: the contract of ips_agents/sampling/group_env.py, on a ten-line example.

An env works with IPS-GRPO if it has
* ``Discrete`` actions and a bool legal-action mask from ``action_masks()`` or ``info["action_mask"]``;
* terminal rewards and ``info["outcome"]`` (a hashable key of what was built) when the episode ends;
* one task instance per group: here the env has a single task, so nothing to do (otherwise accept
  ``reset(options={"tasks": [...]})`` or draw the task from the reset seed).

Here: write a 3-letter word over {a, b, c}; the words with exactly one "a" earn reward 1 (12 of 27 words).

    python examples/ips_grpo_custom_env.py --quick
"""

import argparse
from collections import Counter

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from ips_agents import IPSGRPO
from ips_agents.evaluation import recovery_rate

LETTERS = "abc"


class Words(gym.Env):
    """Append one letter per step; after three letters the word is the outcome."""

    def __init__(self) -> None:
        self.action_space = spaces.Discrete(len(LETTERS))
        self.observation_space = spaces.Box(0.0, 1.0, (3 * len(LETTERS),), np.float32)  # one-hot letters
        self.word = ""

    def _obs(self) -> np.ndarray:
        obs = np.zeros((3, len(LETTERS)), np.float32)
        for i, ch in enumerate(self.word):
            obs[i, LETTERS.index(ch)] = 1.0
        return obs.ravel()

    def action_masks(self) -> np.ndarray:
        return np.ones(len(LETTERS), dtype=bool)  # every letter is always legal here

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.word = ""
        return self._obs(), {"action_mask": self.action_masks()}

    def step(self, action):
        self.word += LETTERS[int(action)]
        done = len(self.word) == 3
        reward = float(done and self.word.count("a") == 1)
        info = {"action_mask": self.action_masks()}
        if done:
            info["outcome"] = self.word  # the key IPS-GRPO counts outcomes by
        return self._obs(), reward, done, False, info


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
args = parser.parse_args()
torch.set_num_threads(1)

# A Gymnasium vector env of the custom env (SB3 VecEnvs work too).
envs = gym.vector.SyncVectorEnv([Words for _ in range(64)])
model = IPSGRPO("MlpPolicy", envs, group_size=16, n_groups=4, seed=0)
model.learn(2_000 if args.quick else 40_000)

admissible = {w for w in (a + b + c for a in LETTERS for b in LETTERS for c in LETTERS) if w.count("a") == 1}
env = Words()
samples = []
for episode in range(200):
    obs, info = env.reset(seed=episode)
    done = False
    while not done:
        action, _ = model.predict(obs, action_masks=env.action_masks())
        obs, reward, done, _, info = env.step(int(action))
    samples.append(info["outcome"])
print(f"{len(admissible)} admissible words; 200 samples hit {len(set(samples) & admissible)} of them "
      f"(recovery {recovery_rate(samples, admissible):.2f}); most common: {Counter(samples).most_common(3)}")
if args.quick:
    print("--quick trained 2,000 transitions: too short to learn much; on this small env an untrained policy "
          "already samples most admissible words (without --quick: 40,000)")
