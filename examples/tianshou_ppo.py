"""Tianshou 2.0: PPO and A2C on an IPS env with the masked actor of ips_agents.integrations.tianshou.

Tianshou's DQN reads obs.mask by itself (examples/tianshou_dqn.py); its actor-critic algorithms do not. The
masked actor runs its network on obs.obs and gives every masked-out action the lowest logit, so PPO and A2C
never sample an illegal action; the critic reads obs.obs only.

    pip install "ips-rl[interop]"
    python examples/tianshou_ppo.py --quick     # seconds; too short to learn
"""

import argparse
import sys

import gymnasium as gym
import numpy as np
import torch

try:
    from tianshou.algorithm import A2C, PPO
    from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv
    from tianshou.trainer import OnPolicyTrainerParams

    from ips_agents.integrations.tianshou import masked_actor_critic
except ImportError:
    print("tianshou is not installed (pip install 'ips-rl[interop]'): skipped")
    sys.exit(0)

from ips_envs.wrappers import ActionMaskObservation

ENV_ID = "ips_envs:IPS/HyperGrid-v0"


def make_env() -> gym.Env:
    return ActionMaskObservation(gym.make(ENV_ID), preset="tianshou")


def train(algorithm_class: type, steps: int) -> dict:
    """Train for ``steps`` env steps, then sample 20 episodes; returns their mean return and illegal actions."""
    torch.manual_seed(0)
    envs = DummyVectorEnv([make_env for _ in range(2)])
    probe = make_env()
    actor, critic = masked_actor_critic(probe, hidden_sizes=(64, 64))
    policy = DiscreteActorPolicy(actor=actor, action_space=probe.action_space)
    algorithm = algorithm_class(policy=policy, critic=critic, optim=AdamOptimizerFactory(lr=1e-3), gamma=1.0)
    collector = Collector(algorithm, envs, VectorReplayBuffer(2_000, len(envs)))
    collector.reset()
    algorithm.run_training(OnPolicyTrainerParams(
        training_collector=collector, max_epochs=1, epoch_num_steps=steps, collection_step_num_env_steps=128,
        batch_size=64, test_collector=None, show_progress=False, verbose=False,
    ))
    buffer = VectorReplayBuffer(2_000, len(envs))
    evaluation = Collector(algorithm, envs, buffer)
    evaluation.reset()
    stats = evaluation.collect(n_episode=20)
    envs.close()
    n = len(buffer)
    return {"return": float(np.mean(stats.returns)), "illegal": int(np.sum(buffer.info["invalid_action"][:n]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = 256 if args.quick else args.steps
    for algorithm_class in (PPO, A2C):
        result = train(algorithm_class, steps)
        print(f"{algorithm_class.__name__}: mean return {result['return']:.3f} over 20 episodes, "
              f"illegal actions: {result['illegal']}")
        assert result["illegal"] == 0
    if args.quick:
        print(f"--quick trained {steps} steps: too short to learn; the run shows that masked PPO and A2C never "
              f"take an illegal action (without --quick: {args.steps:,} steps)")


if __name__ == "__main__":
    main()
