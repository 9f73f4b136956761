"""Env steps/s of ``gymnasium.make_vec`` (one batched kernel) against ``SyncVectorEnv`` over N single envs.

Both run the same uniformly random legal actions (drawn from the returned masks), side by side in one run.

    python -m benchmarks.env_throughput [--quick] [--ids IPS/HyperGrid-v0 ...] [--sizes 64 256 1024]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

import ips_envs
from benchmarks import report
from benchmarks.report import table

CONFIGS: dict[str, list[dict]] = {
    "IPS/CausalDAG-v0": [{"n_nodes": 4}, {"n_nodes": 6}],
}


def steps_per_second(envs: gym.vector.VectorEnv, seconds: float, seed: int = 0) -> float:
    """Random legal steps per second (counting every copy's step) over about ``seconds``."""
    rng = np.random.default_rng(seed)
    _, info = envs.reset(seed=seed)
    n = envs.num_envs
    steps, start = 0, time.perf_counter()
    while True:
        masks = np.asarray(info["action_mask"], dtype=bool)
        masks = np.where(masks.any(axis=1, keepdims=True), masks, True)  # finished copies: any action
        actions = (rng.random(masks.shape) * masks).argmax(axis=1)
        _, _, _, _, info = envs.step(actions)
        steps += n
        elapsed = time.perf_counter() - start
        if elapsed > seconds and steps >= 20 * n:
            return steps / elapsed


def run(ids: Sequence[str], sizes: Sequence[int], seconds: float) -> list[list[object]]:
    rows = []
    for env_id in ids:
        for kwargs in CONFIGS.get(env_id, [{}]):
            for n in sizes:
                batched = gym.make_vec(env_id, num_envs=n, **kwargs)
                sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", **kwargs)
                fast = steps_per_second(batched, seconds)
                slow = steps_per_second(sync, seconds)
                batched.close()
                sync.close()
                label = env_id + ("" if not kwargs else " " + ",".join(f"{k}={v}" for k, v in kwargs.items()))
                rows.append([label, n, f"{fast:,.0f}", f"{slow:,.0f}", f"{fast / slow:.1f}x"])
                print(" | ".join(str(v) for v in rows[-1]), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__)
    parser.add_argument("--ids", nargs="*", default=list(ips_envs.ENV_IDS))
    parser.add_argument("--sizes", nargs="*", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="timing window per measurement")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([64] if args.quick else [64, 256, 1024])
    seconds = args.seconds or (0.05 if args.quick else 2.0)
    header = ["env", "N", "make_vec steps/s", "SyncVectorEnv steps/s", "ratio"]
    rows = run(args.ids, sizes, seconds)
    body = table(header, rows)
    title = "Env throughput: make_vec (batched kernel) vs SyncVectorEnv"
    return report.finish(title, body, args.no_write, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
