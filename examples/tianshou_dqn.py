"""Tianshou 2.0: masked DQN on an IPS env through DummyVectorEnv and SubprocVectorEnv.

ActionMaskObservation(preset="tianshou") gives observations {"obs": ..., "mask": ...}: Tianshou's DQN feeds
obs.obs to the network and never picks (nor explores) an action outside obs.mask. The info dict has the
same keys on every step, so Tianshou's buffer stores them without gaps.

    pip install "ips-rl[interop]"
    python examples/tianshou_dqn.py --quick
"""

import argparse
import sys

import gymnasium as gym
import numpy as np
import torch

try:
    from tianshou.algorithm import DQN
    from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv, SubprocVectorEnv
    from tianshou.trainer import OffPolicyTrainerParams
    from tianshou.utils.net.common import Net
except ImportError:
    print("tianshou is not installed (pip install 'ips-rl[interop]'): skipped")
    sys.exit(0)

from ips_envs.wrappers import ActionMaskObservation

ENV_ID = "ips_envs:IPS/CausalDAG-v0"


def make_env() -> gym.Env:
    return ActionMaskObservation(gym.make(ENV_ID), preset="tianshou")


def train(venv_class: type, steps: int) -> dict:
    """A few hundred DQN steps; returns the counts read back from the replay buffer."""
    torch.manual_seed(0)
    envs = venv_class([make_env for _ in range(2)])
    probe = make_env()
    net = Net(state_shape=probe.observation_space["obs"].shape, action_shape=int(probe.action_space.n),
              hidden_sizes=[64, 64])
    policy = DiscreteQLearningPolicy(model=net, action_space=probe.action_space, eps_training=0.3, eps_inference=0.0)
    algo = DQN(policy=policy, optim=AdamOptimizerFactory(lr=1e-3), gamma=1.0, target_update_freq=20)
    buffer = VectorReplayBuffer(steps + 100, len(envs))
    collector = Collector(algo, envs, buffer, exploration_noise=True)
    collector.reset()
    collector.collect(n_step=64)  # warm-up before the first update
    algo.run_training(OffPolicyTrainerParams(
        training_collector=collector, max_epochs=1, epoch_num_steps=steps, collection_step_num_env_steps=16,
        batch_size=32, update_step_num_gradient_steps_per_sample=0.25, test_collector=None,
        show_progress=False, verbose=False,
    ))
    n = len(buffer)
    info = buffer.info
    envs.close()
    return {"transitions": n, "illegal": int(np.sum(info["invalid_action"][:n])),
            "episodes": int(np.sum(info["outcome"][:n] != "<pending>"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    parser.add_argument("--steps", type=int, default=5_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = 200 if args.quick else args.steps
    for venv_class in (DummyVectorEnv, SubprocVectorEnv):
        result = train(venv_class, steps)
        print(f"{venv_class.__name__}: {result['transitions']} transitions, {result['episodes']} episodes, "
              f"illegal actions: {result['illegal']}")
        assert result["illegal"] == 0 and result["episodes"] > 0
    if args.quick:
        print(f"--quick trained {steps} steps: too short to learn; the run shows masked DQN never taking an illegal "
              f"action (without --quick: {args.steps:,} steps; PPO / A2C: examples/tianshou_ppo.py)")


if __name__ == "__main__":
    main()
