"""Training throughput, side by side in one run: IPS-GRPO vs GRPO (IPS overhead) vs MaskablePPO vs TB.

All methods use the same policy network (MLP 256x256; MaskablePPO adds its value head) and about the same
number of transitions per update. Every method trains in short alternating slices (``--rounds`` of them,
``--seconds`` in total per method), so a change in the machine's load hits all of them alike. Reported:

* trajectories per second of training (sampling + update), seconds per update and ratios to IPS-GRPO;
* where the time goes (env step / policy forward / update / bookkeeping, ms per update) for IPS-GRPO and
  MaskablePPO, measured by timing wrappers around the env step, the policy forward and the update;
* IPS-GRPO and MaskablePPO with 1 and 2 torch threads (``--threads``), interleaved the same way;
* the IPS arithmetic's own cost on identical batches.

    python -m benchmarks.training_throughput [--quick] [--seconds 8] [--ids IPS/CausalDAG-v0 IPS/HyperGrid-v0]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger

from benchmarks import report
from benchmarks.report import load_line, table
from ips_agents.algorithms.ips_grpo import GRPO, IPSGRPO
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance

NET = [256, 256]
G, B = 16, 8
PPO_ENVS = 16
PHASES = ("env step", "policy forward", "update", "bookkeeping")


@dataclass
class Meter:
    """Trajectories, updates and seconds accumulated over a method's slices, plus its time split."""

    trajectories: int = 0
    updates: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))

    @property
    def per_second(self) -> float:
        return self.trajectories / self.seconds

    @property
    def per_update(self) -> float:
        return self.seconds / self.updates

    def split(self) -> dict[str, float]:
        """Milliseconds per update in each phase (bookkeeping = everything not in the other three)."""
        ms = {k: 1e3 * v / self.updates for k, v in self.phases.items() if k != "bookkeeping"}
        ms["bookkeeping"] = 1e3 * self.per_update - sum(ms.values())
        return ms


def _timed(fn: Callable[..., Any], meter: Meter, phase: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            meter.phases[phase] += time.perf_counter() - t0

    return wrapper


class Runner:
    """One method: :meth:`step` does one rollout + update and returns the trajectories it finished."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.meter = Meter()

    def step(self) -> int:
        raise NotImplementedError

    def run_for(self, seconds: float, min_updates: int = 1) -> None:
        start, updates = time.perf_counter(), 0
        while time.perf_counter() - start < seconds or updates < min_updates:
            t0 = time.perf_counter()
            n = self.step()
            self.meter.seconds += time.perf_counter() - t0
            self.meter.trajectories += n
            self.meter.updates += 1
            updates += 1


class GroupRunner(Runner):
    """IPS-GRPO, GRPO or TB: ``collect_batch`` + ``train_on_batch`` of ``groups`` x G trajectories."""

    def __init__(self, label: str, algo: type, env_id: str, groups: int = B) -> None:
        super().__init__(label)
        self.model = algo("MlpPolicy", env_id, group_size=G, n_groups=groups, policy_kwargs={"net_arch": NET},
                          seed=0)
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self.model.learn(groups * G * 2)  # warm-up
        self.steps_per_update = self.model.collect_batch().n_steps  # transitions per update, for MaskablePPO
        env, policy = self.model.group_env, self.model.policy
        env.step_active = _timed(env.step_active, self.meter, "env step")  # the rollout's step
        env.reset = _timed(env.reset, self.meter, "env step")
        policy.forward = _timed(policy.forward, self.meter, "policy forward")
        self._update = _timed(self.model.train_on_batch, self.meter, "update")

    def step(self) -> int:
        batch = self.model.collect_batch()
        self._update(batch)
        self.steps_per_update = batch.n_steps
        return batch.n_trajectories


class _Episodes(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.episodes = 0

    def _on_step(self) -> bool:
        self.episodes += int(np.sum(self.locals["dones"]))
        return True


class PPORunner(Runner):
    """MaskablePPO with 16 envs and the same number of transitions per update, 1 epoch, one minibatch."""

    def __init__(self, env_id: str, steps_per_update: int) -> None:
        super().__init__("MaskablePPO")
        n_steps = max(8, steps_per_update // PPO_ENVS)
        self.chunk = n_steps * PPO_ENVS
        env = make_vec_env(env_id, n_envs=PPO_ENVS)
        self.model = MaskablePPO("MlpPolicy", env, n_steps=n_steps, batch_size=self.chunk, n_epochs=1,
                                 policy_kwargs={"net_arch": NET}, seed=0)
        self.model.learn(self.chunk)  # warm-up
        self.episodes = _Episodes()
        env.step = _timed(env.step, self.meter, "env step")
        env.env_method = _timed(env.env_method, self.meter, "env step")  # action masks
        policy = self.model.policy
        policy.forward = _timed(policy.forward, self.meter, "policy forward")
        policy.predict_values = _timed(policy.predict_values, self.meter, "policy forward")
        self.model.train = _timed(self.model.train, self.meter, "update")

    def step(self) -> int:
        before = self.episodes.episodes
        self.model.learn(self.chunk, callback=self.episodes, reset_num_timesteps=False)
        return self.episodes.episodes - before


def interleaved(runners: Sequence[Runner], seconds: float, rounds: int,
                threads: Sequence[int | None] | None = None) -> None:
    """Run every runner for ``seconds`` in total, in ``rounds`` alternating slices (optionally each with its
    own torch thread count; the previous count is restored afterwards)."""
    before = th.get_num_threads()
    try:
        for _ in range(rounds):
            for i, runner in enumerate(runners):
                if threads is not None and threads[i] is not None:
                    th.set_num_threads(int(threads[i]))
                runner.run_for(seconds / rounds)
    finally:
        th.set_num_threads(before)


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__)
    parser.add_argument("--ids", nargs="*", default=["IPS/CausalDAG-v0", "IPS/HyperGrid-v0"])
    parser.add_argument("--seconds", type=float, default=None, help="training seconds per method (all slices)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating slices per method")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="torch thread counts to compare")
    parser.add_argument("--tag", default="", help="a setting named in the section title (e.g. to keep a baseline apart)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.3 if args.quick else 8.0)
    rounds = args.rounds or (1 if args.quick else 4)
    ids = args.ids[:1] if args.quick else args.ids
    groups = 2 if args.quick else B
    loads = [load_line()]
    rows, splits, thread_rows, over = [], [], [], []
    for env_id in ids:
        gym.make(env_id)  # fail fast on a bad id
        group = [GroupRunner("IPS-GRPO", IPSGRPO, env_id, groups), GroupRunner("GRPO", GRPO, env_id, groups),
                 GroupRunner("TB", TrajectoryBalance, env_id, groups)]
        ppo = PPORunner(env_id, group[0].steps_per_update)
        runners: list[Runner] = [*group, ppo]
        interleaved(runners, seconds, rounds)
        ips = runners[0].meter
        for r in runners:
            m = r.meter
            rows.append([env_id, r.label, f"{m.per_second:,.0f}", f"{m.per_update * 1000:.1f}",
                         f"{ips.per_second / m.per_second:.2f}x", f"{(ips.per_update / m.per_update - 1) * 100:+.1f}%"])
            print(" | ".join(rows[-1]), flush=True)
        for r in (runners[0], ppo):
            ms = r.meter.split()
            total = sum(ms.values())
            splits.append([env_id, r.label, *(f"{ms[k]:.1f} ({100 * ms[k] / total:.0f}%)" for k in PHASES),
                           f"{total:.1f}", f"{1e3 * r.meter.per_update / (r.meter.trajectories / r.meter.updates):.3f}"])
        # thread counts, interleaved: IPS-GRPO and MaskablePPO each at every count
        by_threads = [(GroupRunner(f"IPS-GRPO, {k} thread(s)", IPSGRPO, env_id, groups), k) for k in args.threads]
        by_threads += [(PPORunner(env_id, group[0].steps_per_update), k) for k in args.threads]
        interleaved([r for r, _ in by_threads], seconds, rounds, threads=[k for _, k in by_threads])
        for r, k in by_threads:
            label = "IPS-GRPO" if isinstance(r, GroupRunner) else "MaskablePPO"
            thread_rows.append([env_id, label, k, f"{r.meter.per_second:,.0f}"])
        c, i, g = ips_overhead(env_id, 3 if args.quick else 30)
        over.append([env_id, f"{c * 1000:.1f}", f"{i * 1000:.2f}", f"{g * 1000:.2f}",
                     f"{(i - g) / (c + g) * 100:+.2f}%"])
        loads.append(load_line())
    header = ["env", "method", "trajectories/s", "ms per update", "IPS-GRPO speed ratio",
              "IPS-GRPO time per update vs this"]
    body = table(header, rows)
    body += ("\n\nWhere the time goes (ms per update, share of the update's wall time; bookkeeping = everything "
             "outside the env step, the policy forward and the update):\n\n"
             + table(["env", "method", *PHASES, "total ms", "ms per trajectory"], splits))
    body += ("\n\nTorch threads (trajectories/s, interleaved slices):\n\n"
             + table(["env", "method", "threads", "trajectories/s"], thread_rows))
    body += ("\n\nIPS overhead on identical batches (median over updates; same weights, same batch):\n\n"
             + table(["env", "collect ms", "IPS-GRPO update ms", "GRPO update ms", "IPS overhead per update"], over))
    body += (f"\n\nGroups: {groups} x {G} trajectories per update; MaskablePPO: {PPO_ENVS} envs, the same number of "
             f"transitions per update, 1 epoch, one minibatch. {seconds:g} s of training per method in {rounds} "
             f"alternating slices. Machine load: {'; '.join(loads)}.")
    title = "Training throughput: IPS-GRPO vs GRPO vs TB vs MaskablePPO"
    return report.finish(title, body, args.no_write, setting=args.tag or None, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
