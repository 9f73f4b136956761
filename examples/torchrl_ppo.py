"""TorchRL: masked PPO on an IPS env, and the batched vector env in DISABLED and SAME_STEP modes.

ips_agents.integrations.torchrl.make_torchrl_env builds the TorchRL env with an "action_mask" entry (bool) and
TorchRL's ActionMask transform, the key MaskedOneHotCategorical reads: for a single env or a vector env in
DISABLED mode through ActionMaskObservation(preset="torchrl"), for a vector env in SAME_STEP mode from
info["action_mask"], leaving out the string info["outcome"] that TorchRL cannot stack into a tensor.

    pip install "ips-rl[interop]"       # torchrl, tianshou
    python examples/torchrl_ppo.py --quick
"""

import argparse
import sys

import gymnasium as gym
import torch

try:
    from tensordict.nn import TensorDictModule
    from torchrl.collectors import Collector
    from torchrl.envs import TransformedEnv
    from torchrl.envs.utils import check_env_specs
    from torchrl.modules import MLP, MaskedOneHotCategorical, ProbabilisticActor, ValueOperator
    from torchrl.objectives import ClipPPOLoss
    from torchrl.objectives.value import GAE

    from ips_agents.integrations.torchrl import make_torchrl_env
except ImportError:
    print("torchrl is not installed (pip install 'ips-rl[interop]'): skipped")
    sys.exit(0)

ENV_ID = "ips_envs:IPS/CausalDAG-v0"  # the "module:id" form imports ips_envs wherever the env is made


def make_env() -> TransformedEnv:
    return make_torchrl_env(gym.make(ENV_ID))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    env = make_env()
    check_env_specs(env, seed=0)  # random masked steps across episode ends: the ended mask keeps one action
    n_obs, n_act = env.observation_spec["observation"].shape[-1], env.action_spec.shape[-1]
    actor = ProbabilisticActor(
        TensorDictModule(MLP(in_features=n_obs, out_features=n_act, num_cells=[64, 64]),
                         in_keys=["observation"], out_keys=["logits"]),
        in_keys={"logits": "logits", "mask": "action_mask"},
        distribution_class=MaskedOneHotCategorical, spec=env.action_spec, return_log_prob=True,
    )
    critic = ValueOperator(MLP(in_features=n_obs, out_features=1, num_cells=[64, 64]), in_keys=["observation"])
    loss_fn = ClipPPOLoss(actor, critic)
    advantage = GAE(gamma=1.0, lmbda=0.95, value_network=critic)
    opt = torch.optim.Adam(loss_fn.parameters(), lr=3e-4)

    batches = 3 if args.quick else args.batches
    collector = Collector(make_env, actor, frames_per_batch=128, total_frames=128 * batches)
    illegal = 0
    for i, td in enumerate(collector):
        illegal += int((td["action"].bool() & ~td["action_mask"]).any(-1).sum())  # sampled outside the mask
        advantage(td)
        for _ in range(4):
            out = loss_fn(td)
            loss = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"batch {i}: reward {float(td['next', 'reward'].sum()):.1f}, loss {float(loss.detach()):.3f}")
    collector.shutdown()

    # The batched vector env: DISABLED (TorchRL resets finished copies itself) and SAME_STEP (Gymnasium resets
    # them in the step and TorchRL swaps the final observation in).
    for mode in ("Disabled", "SameStep"):
        venv = make_torchrl_env(gym.make_vec(ENV_ID, num_envs=4, autoreset_mode=mode))
        check_env_specs(venv, seed=0)
        td = venv.rollout(40, actor, break_when_any_done=False)
        illegal += int((td["action"].bool() & ~td["action_mask"]).any(-1).sum())
        print(f"vector rollout ({mode}) {tuple(td.shape)}, {int(td['next', 'done'].sum())} episode ends; "
              f"illegal actions: {illegal}")
    assert illegal == 0
    if args.quick:
        print(f"--quick trained {batches} batches: too short to learn; the run shows masked sampling "
              f"(without --quick: {args.batches} batches)")


if __name__ == "__main__":
    main()
