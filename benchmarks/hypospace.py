"""HypoSpace domains (paper Section 5.2): recovery rate and exact TV, per task and train split -> test split.

Per task: a policy is trained on one task and evaluated on it. Split: one task-conditioned policy is
trained on the train half of the task family and evaluated on the held-out test half. Metrics per task:
RR@S = |distinct admissible outcomes in S samples| / |admissible| for S = |H| and 5|H| (sampled once), its
expectation E[RR@5|H|] computed from the policy's exact outcome distribution (no sampling noise), and the
exact TV distance between that distribution and the uniform distribution over the admissible set. A
"perfect sampler" row gives E[RR@5|H|] of the target itself: about 1 - e^-5 = 0.993 for large |H|.

    python -m benchmarks.hypospace [--quick] [--seeds 5] [--tasks 10] [--domains causal voxel boolean] [--ray]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.utils import LinearSchedule

from benchmarks.pertask import ceiling, per_task_units, pick_tasks, summarise, task_metrics
from benchmarks import report
from benchmarks.report import figures_dir, table
from ips_agents import plots
from ips_agents.evaluation import mean_recovery_curve
from ips_agents.ips_grpo import GRPO, IPSGRPO
from ips_agents.tb import TrajectoryBalance
from ips_agents.tracking import train_trajectories
from ips_agents.units import Unit, ray_options, run_grouped
from ips_envs.datasets import DOMAINS, family_tasks, split_tasks

NET = {"net_arch": [256, 256]}
CANONICAL = {"canonical_order": True}
# label -> (algorithm, its arguments, env arguments). The exact-propensity variant needs one construction path
# per outcome (canonical_order), which the causal and voxel envs offer and the Boolean env does not.
METHODS: dict[str, tuple[type, dict, dict]] = {
    "IPS-GRPO": (IPSGRPO, {"ips_estimator": "count"}, {}),  # the paper's estimator (no longer the default)
    "GRPO": (GRPO, {}, {}),
    "FlowRL": (TrajectoryBalance, {"objective": "flowrl", "beta": 1.0}, {}),
    "IPS-GRPO (exact p)": (IPSGRPO, {"ips_estimator": "exact", "ips_eps": 1e-6}, CANONICAL),
    # IPSGRPO's own defaults on the natural env (no canonical order): path-count propensities, G = 16 x 4 groups,
    # lr 3e-3 falling linearly to 0, no KL anchor (every key below overrides COMMON / DOMAIN_KWARGS)
    "IPS-GRPO (path counts, defaults)": (IPSGRPO, {"ips_estimator": "paths", "ips_eps": 1e-6, "advantage_norm": "none",
                                                   "group_size": 16, "n_groups": 4, "kl_coef": 0.0,
                                                   "learning_rate": LinearSchedule(3e-3, 0.0, 1.0)}, {}),
}
DEFAULT_METHODS = ["IPS-GRPO", "GRPO", "FlowRL"]
GRID = np.linspace(0.0, 5.0, 51)  # S / |H| for the recovery figures
CANONICAL_DOMAINS = {"causal", "voxel"}
# Per task: G = 64 with eps = 0.01 is the best cell of benchmarks/ablation.py; 2 groups keep 128 trajectories
# per update (ips_eps only matters for IPS-GRPO: GRPO and FlowRL do not reweight).
COMMON = dict(group_size=64, n_groups=2, ips_eps=0.01, learning_rate=LinearSchedule(1e-3, 1e-4, 1.0),
              policy_kwargs=NET)
# Train split -> test split: many tasks per update. G = 64 there gave test RR@5|H| 0.913 against 0.924-0.935.
SPLIT = dict(group_size=16, n_groups=16, learning_rate=3e-3, policy_kwargs=NET)
# Per-domain settings, applied to every method. Boolean: most expressions under a NOT root are invalid, so
# without a KL anchor to the initial policy the root NOT action dies out early and NOT(NOT(y))-type
# admissible outcomes are lost for good (RR@5|H| 0.93 and TV 0.09 at 40k trajectories instead of 1.00 and 0.04).
DOMAIN_KWARGS: dict[str, dict] = {"causal": {}, "voxel": {}, "boolean": {"kl_coef": 0.05}}


def per_task(domains: Sequence[str], n_tasks: int, seeds: int, trajectories: int, methods: Sequence[str]
             ) -> tuple[dict, dict]:
    """The per-task runs of every (domain, method) as units, and each domain's tasks."""
    plan, tasks_of = {}, {}
    for domain in domains:
        env_id = DOMAINS[domain]
        tasks_of[domain] = tasks = pick_tasks(env_id, n_tasks)
        for label in methods:
            algo, extra, env_kwargs = METHODS[label]
            if env_kwargs and domain not in CANONICAL_DOMAINS:
                continue
            plan[domain, label] = per_task_units(f"per-task/{domain}/{label}", algo, env_id, tasks, seeds, trajectories,
                                                 env_kwargs=env_kwargs, **{**COMMON, **DOMAIN_KWARGS[domain], **extra})
    return plan, tasks_of


def per_task_rows(results: dict, tasks_of: dict) -> tuple[list, dict]:
    rows, curves = [], {}
    for domain, tasks in tasks_of.items():
        for (d, label), runs in results.items():
            if d != domain:
                continue
            res = summarise(runs)
            curves.setdefault(domain, {})[label] = mean_recovery_curve(res["curves"], GRID)
            rows.append([domain, "per task", label, f"{res['rr'][1]:.3f}", f"{res['rr'][5]:.3f}",
                         f"{res['rr_exact'][5]:.3f}", f"{res['tv']:.3f}", res["runs"], f"{res['seconds']:.1f}"])
        top = ceiling(DOMAINS[domain], tasks, GRID)
        curves.setdefault(domain, {})["perfect sampler"] = top
        rows.append([domain, "per task", "perfect sampler (ceiling)", "—", "—", f"{top[-1]:.3f}", "0.000",
                     len(tasks), "—"])
    return rows, curves


def split_run(domain: str, label: str, seed: int, trajectories: int, max_test: int) -> dict[str, Any]:
    """One unit of the split: train one task-conditioned policy on the train half, evaluate on the test tasks."""
    env_id = DOMAINS[domain]
    train, test = split_tasks(family_tasks(env_id), seed=0)
    test = test[:max_test]
    algo, extra, env_kwargs = METHODS[label]
    model = algo("MlpPolicy", env_id, tasks=train, seed=seed, env_kwargs=env_kwargs,
                 **{**SPLIT, **DOMAIN_KWARGS[domain], **extra})
    seconds = train_trajectories(model, trajectories)
    env = gym.make(env_id, **env_kwargs)
    per = [task_metrics(model, env, task, (1, 5), seed + j) for j, task in enumerate(test)]
    return {"n_train": len(train), "n_test": len(test), "seconds": seconds, "rr1": [r["rr"][1] for r in per],
            "rr5": [r["rr"][5] for r in per], "rr5_exact": [r["rr_exact"][5] for r in per], "tv": [r["tv"] for r in per]}


def split(domains: Sequence[str], seeds: int, trajectories: int, max_test: int, methods: Sequence[str]) -> dict:
    """The split runs of every (domain, method) as units, one per seed."""
    plan = {}
    for domain in domains:
        for label in methods:
            if METHODS[label][2] and domain not in CANONICAL_DOMAINS:
                continue
            plan[domain, label] = [Unit(f"split/{domain}/{label}/seed={seed}", split_run,
                                        {"domain": domain, "label": label, "seed": seed, "trajectories": trajectories,
                                         "max_test": max_test}) for seed in range(seeds)]
    return plan


def split_rows(results: dict) -> list:
    rows = []
    for (domain, label), runs in results.items():
        def mean(key: str) -> float:
            return float(np.mean([v for r in runs for v in r[key]]))

        rows.append([domain, f"train {runs[0]['n_train']} -> test {runs[0]['n_test']}", label, f"{mean('rr1'):.3f}",
                     f"{mean('rr5'):.3f}", f"{mean('rr5_exact'):.3f}", f"{mean('tv'):.3f}", len(runs),
                     f"{np.mean([r['seconds'] for r in runs]):.1f}"])
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--split-trajectories", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None, help="test tasks evaluated per domain")
    parser.add_argument("--no-split", action="store_true")
    parser.add_argument("--no-per-task", action="store_true")
    parser.add_argument("--methods", nargs="*", default=DEFAULT_METHODS, choices=list(METHODS))
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 5)
    n_tasks = args.tasks or (1 if args.quick else 10)
    trajectories = args.trajectories or (256 if args.quick else 40_000)
    domains = args.domains if not args.quick or args.domains != list(DOMAINS) else ["causal"]
    per_plan, tasks_of = ({}, {}) if args.no_per_task else per_task(domains, n_tasks, seeds, trajectories, args.methods)
    split_plan = {} if args.no_split else split(domains, seeds, args.split_trajectories or (256 if args.quick else 600_000),
                                                args.max_test or (1 if args.quick else 10_000), args.methods)
    plan = {("per task", *k): v for k, v in per_plan.items()} | {("split", *k): v for k, v in split_plan.items()}
    results = run_grouped(plan, ray_options(args), label="hypospace")
    rows, curves = per_task_rows({k[1:]: v for k, v in results.items() if k[0] == "per task"}, tasks_of)
    rows += split_rows({k[1:]: v for k, v in results.items() if k[0] == "split"})
    # figures of a run with other than the default methods get their own names (they hold other curves)
    suffix = "" if args.methods == DEFAULT_METHODS else "_" + "_".join(
        "_".join("".join(c if c.isalnum() else " " for c in m.lower()).split()) for m in args.methods)
    for domain, by_label in curves.items():
        plots.plot_recovery(by_label, figures_dir() / f"hypospace_{domain}{suffix}_recovery.png",
                            f"{domain}: recovery rate vs samples (mean over tasks and seeds)", multiples=GRID)
    header = ["domain", "setting", "method", "RR@|H|", "RR@5|H|", "E[RR@5|H|] (exact)", "exact TV to uniform",
              "runs", "train s"]
    body = table(header, rows)
    body += "\n\nFigures: " + ", ".join(f"figures/hypospace_{d}{suffix}_recovery.png" for d in curves)
    title = "HypoSpace domains: recovery rate and exact TV"
    modes = [m for m, off in (("per task", args.no_per_task), ("train->test split", args.no_split)) if not off]
    setting = ", ".join([" + ".join(modes), *domains, *([] if args.methods == DEFAULT_METHODS else args.methods)])
    return report.finish(title, body, args.no_write, seeds, setting=setting, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
