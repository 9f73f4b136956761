"""A CleanRL-style masked PPO loop on gymnasium.vector.AsyncVectorEnv (spawned workers, standard wrappers).

Nothing IPS-specific beyond the id: each worker builds its env from "ips_envs:IPS/..." (Gymnasium imports
ips_envs in the worker), the masks come from info["action_mask"], and masked-out logits are set to a large
negative number, as in CleanRL's invalid-action-masking PPO.

    python examples/cleanrl_ppo.py --quick
"""

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

ENV_ID = "ips_envs:IPS/CausalDAG-v0"


def make_env() -> gym.Env:
    env = gym.make(ENV_ID)
    return gym.wrappers.RecordEpisodeStatistics(env)  # standard wrappers: masks still reach the vector env


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_act: int) -> None:
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, n_act))
        self.critic = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, 1))

    def act(self, obs: torch.Tensor, mask: torch.Tensor, action: torch.Tensor | None = None):
        logits = self.actor(obs).masked_fill(~mask, -1e8)  # never all -1e8: ended episodes keep one legal action
        dist = Categorical(logits=logits)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(obs).squeeze(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    parser.add_argument("--updates", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n_envs, n_steps, updates = (2, 32, 2) if args.quick else (4, 128, args.updates)

    # SAME_STEP autoreset: the observation after a done is the next episode's first one (CleanRL's convention).
    envs = gym.vector.AsyncVectorEnv([make_env] * n_envs, context="spawn", autoreset_mode="SameStep")
    n_obs, n_act = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    agent = Agent(n_obs, n_act)
    opt = torch.optim.Adam(agent.parameters(), lr=2.5e-4)

    obs_np, info = envs.reset(seed=0)
    obs, mask = torch.tensor(obs_np), torch.tensor(info["action_mask"])
    illegal = episodes = 0
    returns = []
    start = time.time()
    for update in range(updates):
        buf = {k: [] for k in ("obs", "mask", "act", "logp", "val", "rew", "done")}
        for _ in range(n_steps):
            with torch.no_grad():
                act, logp, _, val = agent.act(obs, mask)
            illegal += int((~mask.gather(1, act[:, None])).sum())
            obs_np, rew, term, trunc, info = envs.step(act.numpy())
            for k, v in zip(buf, (obs, mask, act, logp, val, torch.tensor(rew, dtype=torch.float32),
                                  torch.tensor(term | trunc, dtype=torch.float32)), strict=True):
                buf[k].append(v)
            if "final_info" in info:
                done = info["_final_info"]
                episodes += int(done.sum())
                illegal += int(info["final_info"]["invalid_action"][done].sum())
                returns += list(rew[done])
            obs, mask = torch.tensor(obs_np), torch.tensor(info["action_mask"])
        b = {k: torch.stack(v) for k, v in buf.items()}
        # GAE (gamma = 1: terminal rewards), bootstrapping from the value of the current observation.
        with torch.no_grad():
            next_val = agent.act(obs, mask)[3]
        adv = torch.zeros_like(b["rew"])
        last = torch.zeros(n_envs)
        for t in reversed(range(n_steps)):
            nv = next_val if t == n_steps - 1 else b["val"][t + 1]
            delta = b["rew"][t] + (1 - b["done"][t]) * nv - b["val"][t]
            last = delta + 0.95 * (1 - b["done"][t]) * last
            adv[t] = last
        ret = adv + b["val"]
        flat = {k: v.reshape(n_steps * n_envs, *v.shape[2:]) for k, v in b.items()}
        adv, ret = adv.reshape(-1), ret.reshape(-1)
        for _ in range(2):  # PPO epochs over the whole batch
            _, logp, ent, val = agent.act(flat["obs"], flat["mask"], flat["act"])
            ratio = (logp - flat["logp"]).exp()
            a = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg = -torch.min(ratio * a, ratio.clamp(0.8, 1.2) * a).mean()
            loss = pg + 0.5 * ((val - ret) ** 2).mean() - 0.01 * ent.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    envs.close()
    print(f"{updates} updates, {episodes} episodes, mean return {np.mean(returns) if returns else 0:.3f}, "
          f"illegal actions: {illegal}, {time.time() - start:.1f} s")
    assert illegal == 0
    if args.quick:
        print(f"--quick ran {updates} updates: too short to learn (the return above is a random policy's); "
              f"without --quick: {args.updates} updates")


if __name__ == "__main__":  # needed with spawned workers
    main()
