"""Training throughput, side by side in one run: IPS-GRPO vs GRPO (IPS overhead) vs MaskablePPO vs TB.

All methods use the same policy network (MLP 256x256; MaskablePPO adds its value head) and about the same
number of transitions per update. Reported: trajectories per second of training (sampling + update) and
seconds per update; ratios against IPS-GRPO.

    python -m benchmarks.training_throughput [--quick] [--ids IPS/CausalDAG-v0 IPS/HyperGrid-v0]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger

from benchmarks import report
from benchmarks.report import table
from ips_agents.ips_grpo import GRPO, IPSGRPO
from ips_agents.tb import TrajectoryBalance

NET = [256, 256]
G, B = 16, 8


def _group_method(algo: type, env_id: str, seconds: float, groups: int = B) -> tuple[float, float, int]:
    model = algo("MlpPolicy", env_id, group_size=G, n_groups=groups, policy_kwargs={"net_arch": NET}, seed=0)
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(groups * G * 2)  # warm-up
    start, updates, trajectories, steps = time.perf_counter(), 0, 0, 0
    while time.perf_counter() - start < seconds or updates < 3:
        batch = model.collect_batch()
        model.train_on_batch(batch)
        updates += 1
        trajectories += batch.n_trajectories
        steps += batch.n_steps
    elapsed = time.perf_counter() - start
    return trajectories / elapsed, elapsed / updates, steps // updates


def ips_overhead(env_id: str, repeats: int) -> tuple[float, float, float]:
    """Seconds to collect one batch, and to update on that same batch with IPS-GRPO and with GRPO.

    Both models start from the same weights and update on identical batches, so the difference is the
    IPS arithmetic alone (episode lengths, which change as policies learn, cannot confound it).
    """
    kwargs = dict(group_size=G, n_groups=B, policy_kwargs={"net_arch": NET}, seed=0)
    ips_model, grpo_model = IPSGRPO("MlpPolicy", env_id, **kwargs), GRPO("MlpPolicy", env_id, **kwargs)
    grpo_model.policy.load_state_dict(ips_model.policy.state_dict())
    for m in (ips_model, grpo_model):
        m.set_logger(Logger(folder=None, output_formats=[]))
    collect, ips_t, grpo_t = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        batch = ips_model.collect_batch()
        t1 = time.perf_counter()
        ips_model.train_on_batch(batch)
        t2 = time.perf_counter()
        grpo_model.train_on_batch(batch)
        t3 = time.perf_counter()
        collect.append(t1 - t0)
        ips_t.append(t2 - t1)
        grpo_t.append(t3 - t2)
    return float(np.median(collect)), float(np.median(ips_t)), float(np.median(grpo_t))


class _Episodes(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.episodes = 0

    def _on_step(self) -> bool:
        self.episodes += int(np.sum(self.locals["dones"]))
        return True


def _maskable_ppo(env_id: str, seconds: float, steps_per_update: int) -> tuple[float, float]:
    n_envs = 16
    n_steps = max(8, steps_per_update // n_envs)
    env = make_vec_env(env_id, n_envs=n_envs)
    model = MaskablePPO("MlpPolicy", env, n_steps=n_steps, batch_size=n_steps * n_envs, n_epochs=1,
                        policy_kwargs={"net_arch": NET}, seed=0)
    model.learn(n_steps * n_envs)  # warm-up
    cb = _Episodes()
    total = n_steps * n_envs * 2
    start = time.perf_counter()
    model.learn(total, callback=cb, reset_num_timesteps=False)
    while time.perf_counter() - start < seconds:
        model.learn(total, callback=cb, reset_num_timesteps=False)
    elapsed = time.perf_counter() - start
    updates = (model.num_timesteps - n_steps * n_envs) / (n_steps * n_envs)
    return cb.episodes / elapsed, elapsed / updates


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__)
    parser.add_argument("--ids", nargs="*", default=["IPS/CausalDAG-v0", "IPS/HyperGrid-v0"])
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.3 if args.quick else 10.0)
    rows = []
    for env_id in (args.ids[:1] if args.quick else args.ids):
        gym.make(env_id)  # fail fast on a bad id
        groups = 2 if args.quick else B
        ips_tps, ips_upd, steps = _group_method(IPSGRPO, env_id, seconds, groups)
        grpo_tps, grpo_upd, _ = _group_method(GRPO, env_id, seconds, groups)
        tb_tps, tb_upd, _ = _group_method(TrajectoryBalance, env_id, seconds, groups)
        ppo_tps, ppo_upd = _maskable_ppo(env_id, seconds, steps)
        for label, tps, upd in (("IPS-GRPO", ips_tps, ips_upd), ("GRPO", grpo_tps, grpo_upd),
                                ("TB", tb_tps, tb_upd), ("MaskablePPO", ppo_tps, ppo_upd)):
            rows.append([env_id, label, f"{tps:,.0f}", f"{upd * 1000:.1f}", f"{ips_tps / tps:.2f}x",
                         f"{(ips_upd / upd - 1) * 100:+.1f}%"])
            print(" | ".join(rows[-1]), flush=True)
    header = ["env", "method", "trajectories/s", "ms per update", "IPS-GRPO speed ratio",
              "IPS-GRPO time per update vs this"]
    body = table(header, rows)
    over = []
    for env_id in (args.ids[:1] if args.quick else args.ids):
        c, i, g = ips_overhead(env_id, 3 if args.quick else 30)
        over.append([env_id, f"{c * 1000:.1f}", f"{i * 1000:.2f}", f"{g * 1000:.2f}",
                     f"{(i - g) / (c + g) * 100:+.2f}%"])
    body += ("\n\nIPS overhead on identical batches (median over updates; same weights, same batch):\n\n"
             + table(["env", "collect ms", "IPS-GRPO update ms", "GRPO update ms", "IPS overhead per update"],
                     over)) + (f"\n\nGroups: {B} x {G} trajectories per update; MaskablePPO: 16 envs, the same "
                                  "number of transitions per update, 1 epoch, one minibatch.")
    title = "Training throughput: IPS-GRPO vs GRPO vs TB vs MaskablePPO"
    return report.finish(title, body, args.no_write, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
