"""Env steps/s of ``gymnasium.make_vec`` (one batched kernel) against ``SyncVectorEnv`` over N single envs.

Both run the same uniformly random legal actions (drawn from the returned masks), side by side in one run, in
alternating time slices (so a change in the shared machine's load hits both alike).

    python -m benchmarks.env_throughput [--quick] [--ids IPS/HyperGrid-v0 ...] [--sizes 64 256 1024] [--seconds 4]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

import ips_envs
from benchmarks import report
from benchmarks.report import load_line, table

CONFIGS: dict[str, list[dict]] = {
    "IPS/CausalDAG-v0": [{"n_nodes": 4}, {"n_nodes": 6}],
}


class RandomStepper:
    """Steps a vector env with uniformly random legal actions (drawn from the returned masks), timing itself."""

    def __init__(self, envs: gym.vector.VectorEnv, seed: int = 0) -> None:
        self.envs, self.rng = envs, np.random.default_rng(seed)
        _, self.info = envs.reset(seed=seed)
        self.steps, self.seconds = 0, 0.0

    def run_for(self, seconds: float, min_steps: int = 5) -> None:
        n = self.envs.num_envs
        start, done = time.perf_counter(), 0
        while True:
            masks = np.asarray(self.info["action_mask"], dtype=bool)
            masks = np.where(masks.any(axis=1, keepdims=True), masks, True)  # finished copies: any action
            actions = (self.rng.random(masks.shape) * masks).argmax(axis=1)
            _, _, _, _, self.info = self.envs.step(actions)
            done += 1
            elapsed = time.perf_counter() - start
            if elapsed > seconds and done >= min_steps:
                break
        self.steps += done * n
        self.seconds += elapsed

    @property
    def per_second(self) -> float:
        return self.steps / self.seconds


def run(ids: Sequence[str], sizes: Sequence[int], seconds: float, rounds: int) -> list[list[object]]:
    """make_vec and SyncVectorEnv in ``rounds`` alternating slices of ``seconds / rounds`` each."""
    rows = []
    for env_id in ids:
        for kwargs in CONFIGS.get(env_id, [{}]):
            for n in sizes:
                batched = RandomStepper(gym.make_vec(env_id, num_envs=n, **kwargs))
                sync = RandomStepper(gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", **kwargs))
                for _ in range(rounds):
                    batched.run_for(seconds / rounds)
                    sync.run_for(seconds / rounds)
                batched.envs.close()
                sync.envs.close()
                fast, slow = batched.per_second, sync.per_second
                label = env_id + ("" if not kwargs else " " + ",".join(f"{k}={v}" for k, v in kwargs.items()))
                rows.append([label, n, f"{fast:,.0f}", f"{slow:,.0f}", f"{fast / slow:.1f}x"])
                print(" | ".join(str(v) for v in rows[-1]), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__)
    parser.add_argument("--ids", nargs="*", default=list(ips_envs.ENV_IDS))
    parser.add_argument("--sizes", nargs="*", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="timing window per env and size, each side")
    parser.add_argument("--rounds", type=int, default=None, help="alternating slices per measurement")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([64] if args.quick else [64, 256, 1024])
    seconds = args.seconds or (0.05 if args.quick else 4.0)
    rounds = args.rounds or (1 if args.quick else 4)
    header = ["env", "N", "make_vec steps/s", "SyncVectorEnv steps/s", "ratio"]
    loads = [load_line()]
    rows = run(args.ids, sizes, seconds, rounds)
    loads.append(load_line())
    body = table(header, rows) + (f"\n\n{seconds:g} s per side and size in {rounds} alternating slices. Machine load: "
                                  f"{'; '.join(loads)}.")
    title = "Env throughput: make_vec (batched kernel) vs SyncVectorEnv"
    return report.finish(title, body, args.no_write, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
