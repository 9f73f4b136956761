"""HypoSpace domains (paper Section 5.2): recovery rate and exact TV, one policy per task.

A policy is trained on one task and evaluated on it (one task-conditioned policy for held-out tasks, train
split -> test split, is benchmarks/generalisation.py). Metrics per task:
RR@S = |distinct admissible outcomes in S samples| / |admissible| for S = |H| and 5|H| (sampled once), its
expectation E[RR@5|H|] computed from the policy's exact outcome distribution (no sampling noise), and the
exact TV distance between that distribution and the uniform distribution over the admissible set. A
"perfect sampler" row gives E[RR@5|H|] of the target itself: about 1 - e^-5 = 0.993 for large |H|.

    python -m benchmarks.hypospace [--quick] [--seeds 5] [--tasks 10] [--domains causal voxel boolean] [--ray]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stable_baselines3.common.utils import LinearSchedule

from benchmarks.pertask import ceiling, per_task_units, pick_tasks, summarise
from benchmarks import report
from benchmarks.report import figures_dir, table
from ips_agents import plots
from ips_agents.evaluation import mean_recovery_curve
from ips_agents.algorithms.ips_grpo import GRPO, IPSGRPO
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import run_grouped
from ips_envs.datasets import DOMAINS

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
# Per-domain settings, applied to every method. Boolean: most expressions under a NOT root are invalid, so
# without a KL anchor to the initial policy the root NOT action dies out early and NOT(NOT(y))-type
# admissible outcomes are lost for good (RR@5|H| 0.93 and TV 0.09 at 40k trajectories instead of 1.00 and 0.04).
DOMAIN_KWARGS: dict[str, dict] = {"causal": {}, "voxel": {}, "boolean": {"kl_coef": 0.05}}
IPS_ONLY = ("ips_eps", "kl_coef")
"""Settings only IPS-GRPO / GRPO have (trajectory balance has no probability floor and no KL anchor)."""


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
            kwargs = {**COMMON, **DOMAIN_KWARGS[domain], **extra}
            if not issubclass(algo, IPSGRPO):  # the IPS floor and the KL anchor are IPS-GRPO / GRPO settings
                kwargs = {k: v for k, v in kwargs.items() if k not in IPS_ONLY}
            plan[domain, label] = per_task_units(f"per-task/{domain}/{label}", algo, env_id, tasks, seeds, trajectories,
                                                 env_kwargs=env_kwargs, **kwargs)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--methods", nargs="*", default=DEFAULT_METHODS, choices=list(METHODS))
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 5)
    n_tasks = args.tasks or (1 if args.quick else 10)
    trajectories = args.trajectories or (256 if args.quick else 40_000)
    domains = args.domains if not args.quick or args.domains != list(DOMAINS) else ["causal"]
    plan, tasks_of = per_task(domains, n_tasks, seeds, trajectories, args.methods)
    results = run_grouped(plan, ray_options(args), label="hypospace")
    rows, curves = per_task_rows(results, tasks_of)
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
    setting = ", ".join(["per task", *domains, *([] if args.methods == DEFAULT_METHODS else args.methods)])
    return report.finish(title, body, args.no_write, seeds, setting=setting, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
