"""HypoSpace domains (paper Section 5.2): recovery rate and exact TV, per task and train split -> test split.

Per task: a policy is trained on one task and evaluated on it. Split: one task-conditioned policy is
trained on the train half of the task family and evaluated on the held-out test half. Metrics per task:
RR@S = |distinct admissible outcomes in S samples| / |admissible| for S = |H| and 5|H|, and the exact TV
distance between the policy's outcome distribution and the uniform distribution over the admissible set.

    python -m benchmarks.hypospace [--quick] [--seeds 5] [--tasks 10] [--domains causal voxel boolean]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from benchmarks.report import FIGURES, append_section, table
from ips_agents import plots
from ips_agents.evaluation import exact_outcome_distribution, outcome_report, recovery_curve, sample_outcomes
from ips_agents.ips_grpo import GRPO, IPSGRPO
from ips_agents.tb import TrajectoryBalance
from ips_agents.tracking import train_tracked
from ips_envs.datasets import DOMAINS, family_tasks, split_tasks

NET = {"net_arch": [256, 256]}
METHODS = {
    "IPS-GRPO": (IPSGRPO, {}),
    "GRPO": (GRPO, {}),
    "FlowRL": (TrajectoryBalance, {"objective": "flowrl", "beta": 1.0}),
}
COMMON = dict(group_size=16, n_groups=8, learning_rate=1e-3, policy_kwargs=NET)


def _rr(model, env, task, admissible, seed: int) -> tuple[np.ndarray, float, float]:
    samples = sample_outcomes(model, env, 5 * len(admissible), task=task, seed=seed)
    curve = recovery_curve(samples, admissible)
    return curve, float(curve[len(admissible) - 1]), float(curve[-1])


def per_task(domains: Sequence[str], n_tasks: int, seeds: int, trajectories: int) -> tuple[list, dict]:
    rows, curves = [], {}
    for domain in domains:
        env_id = DOMAINS[domain]
        tasks = [t for t in family_tasks(env_id) if len(gym.make(env_id, task=t).unwrapped.kernel.outcome_rewards(t)) > 1]
        picks = np.random.default_rng(0).choice(len(tasks), size=min(n_tasks, len(tasks)), replace=False)
        for label, (algo, extra) in METHODS.items():
            rr1, rr5, tvs, secs = [], [], [], []
            for seed in range(seeds):
                for i in picks:
                    task = tasks[i]
                    run = train_tracked(label, algo, env_id, trajectories, evals=1, task=task, seed=seed,
                                        **COMMON, **extra)
                    env = gym.make(env_id, task=task)
                    env.reset(seed=seed)
                    admissible = env.unwrapped.admissible_outcomes()
                    curve, a, b = _rr(run.model, env, task, admissible, seed)
                    rr1.append(a)
                    rr5.append(b)
                    tvs.append(run.final.report["tv"])
                    secs.append(run.final.seconds)
                    if seed == 0 and i == picks[0]:
                        curves.setdefault(domain, {})[label] = curve
            rows.append([domain, "per task", label, f"{np.mean(rr1):.3f}", f"{np.mean(rr5):.3f}",
                         f"{np.mean(tvs):.3f}", len(picks) * seeds, f"{np.mean(secs):.1f}"])
            print(" | ".join(map(str, rows[-1])), flush=True)
    return rows, curves


def split(domains: Sequence[str], seeds: int, trajectories: int, max_test: int) -> list:
    rows = []
    for domain in domains:
        env_id = DOMAINS[domain]
        train, test = split_tasks(family_tasks(env_id), seed=0)
        test = test[:max_test]
        for label, (algo, extra) in METHODS.items():
            rr1, rr5, tvs, secs = [], [], [], []
            for seed in range(seeds):
                t0 = time.perf_counter()
                model = algo("MlpPolicy", env_id, tasks=train, seed=seed, **{**COMMON, "n_groups": 16}, **extra)
                while model.num_trajectories < trajectories:
                    model.learn(20_000, reset_num_timesteps=False)
                secs.append(time.perf_counter() - t0)
                env = gym.make(env_id)
                for j, task in enumerate(test):
                    env.reset(options={"task": task})
                    admissible = env.unwrapped.admissible_outcomes()
                    _, a, b = _rr(model, env, task, admissible, seed + j)
                    rr1.append(a)
                    rr5.append(b)
                    dist = exact_outcome_distribution(model, env, task)
                    tvs.append(outcome_report(dist, env.unwrapped.target_distribution())["tv"])
            rows.append([domain, f"train {len(train)} -> test {len(test)}", label, f"{np.mean(rr1):.3f}",
                         f"{np.mean(rr5):.3f}", f"{np.mean(tvs):.3f}", seeds, f"{np.mean(secs):.1f}"])
            print(" | ".join(map(str, rows[-1])), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None, help="tasks per domain (per-task training)")
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--trajectories", type=int, default=None, help="per-task training budget")
    parser.add_argument("--split-trajectories", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None, help="test tasks evaluated per domain")
    parser.add_argument("--no-split", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 5)
    n_tasks = args.tasks or (1 if args.quick else 10)
    trajectories = args.trajectories or (1_000 if args.quick else 20_000)
    rows, curves = per_task(args.domains, n_tasks, seeds, trajectories)
    if not args.no_split:
        rows += split(args.domains, seeds, args.split_trajectories or (1_000 if args.quick else 200_000),
                      args.max_test or (3 if args.quick else 10_000))
    FIGURES.mkdir(parents=True, exist_ok=True)
    for domain, by_label in curves.items():
        plots.plot_recovery(by_label, FIGURES / f"hypospace_{domain}_recovery.png",
                            f"{domain}: recovery rate vs samples (one task, seed 0)")
    header = ["domain", "setting", "method", "RR@|H|", "RR@5|H|", "exact TV to uniform", "runs", "train s"]
    body = table(header, rows)
    body += "\n\nFigures: " + ", ".join(f"figures/hypospace_{d}_recovery.png" for d in curves)
    print(body)
    if not args.no_write:
        append_section("HypoSpace domains: recovery rate and exact TV", body, seeds=f"0..{seeds - 1}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
