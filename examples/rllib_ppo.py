"""RLlib (new API stack): PPO with an action-masking RLModule on an IPS env, sampled by a remote env runner.

ActionMaskObservation(preset="rllib") gives {"observations": ..., "action_mask": float32}, the layout of
RLlib's ActionMaskingTorchRLModule. Plain "IPS/..." ids work in the remote runner too: ips-rl's start-up hook
(ips_rl_gymnasium.pth, installed by the wheel, by `make rllib-venv` and by `python -m ips_envs_plugin install`)
registers them in every process that imports Gymnasium, Ray workers included. The "ips_envs:IPS/..." form used
below also works where the hook is not installed: Gymnasium imports ips_envs before making the env.

RLlib 2.60 pins gymnasium 1.2.2, so it lives in its own venv: `make rllib-venv`, then
    .venv-rllib/bin/python examples/rllib_ppo.py --quick
"""

import argparse
import sys

import gymnasium as gym

try:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.callbacks.callbacks import RLlibCallback
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule
    from ray.tune.registry import register_env
except ImportError:
    print("ray[rllib] is not installed here (make rllib-venv; .venv-rllib/bin/python examples/rllib_ppo.py): skipped")
    sys.exit(0)

from ips_envs.wrappers import ActionMaskObservation

ENV_ID = "ips_envs:IPS/CausalDAG-v0"


def make_env(config: dict) -> gym.Env:
    return ActionMaskObservation(gym.make(ENV_ID, **config), preset="rllib")


class CountIllegal(RLlibCallback):
    """Logs, per episode, whether it ended on a masked-out action (info["invalid_action"])."""

    def on_episode_end(self, *, episode, metrics_logger, **kwargs) -> None:
        metrics_logger.log_value("illegal_actions", float(episode.get_infos(-1)["invalid_action"]), reduce="sum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    iterations = 2 if args.quick else args.iterations

    # address="local": always start a private Ray instance (never attach to a cluster already running here)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    register_env("ips-causal-masked", make_env)
    config = (
        PPOConfig()
        .environment("ips-causal-masked")
        .env_runners(num_env_runners=1, num_envs_per_env_runner=1)  # one remote runner
        .training(train_batch_size_per_learner=256, minibatch_size=64, num_epochs=2, lr=3e-4)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=ActionMaskingTorchRLModule,
                                               model_config={"head_fcnet_hiddens": [64, 64]}))
        .callbacks(CountIllegal)
    )
    algo = config.build_algo()
    illegal = episodes = 0
    for i in range(iterations):
        result = algo.train()
        runners = result["env_runners"]
        illegal += runners.get("illegal_actions", 0.0)
        episodes += runners.get("num_episodes", 0)
        print(f"iteration {i}: {episodes} episodes, mean return {runners.get('episode_return_mean', float('nan')):.3f}")
    algo.stop()
    ray.shutdown()
    print(f"illegal actions: {int(illegal)}")
    assert illegal == 0 and episodes > 0
    if args.quick:
        print(f"--quick ran {iterations} iterations: too short to learn; the run shows a remote env runner "
              f"sampling only legal actions (without --quick: {args.iterations} iterations)")


if __name__ == "__main__":
    main()
