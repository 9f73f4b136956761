"""Ablation (paper Section 5.4) on causal tasks: group size G x probability floor eps, and the exponent alpha.

Every configuration trains on the same tasks with the same number of trajectories per update
(``n_groups = 128 // G``) and the same total budget; reported: RR@|H|, RR@5|H| and exact TV to the
uniform distribution over the admissible set.

    python -m benchmarks.ablation [--quick] [--seeds 3] [--tasks 5] [--ray | --ray-address ADDR]
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.pertask import per_task_units, pick_tasks, summarise
from benchmarks import report
from benchmarks.report import table
from ips_agents.algorithms.ips_grpo import IPSGRPO
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import run_grouped

ENV = "IPS/CausalDAG-v0"
NET = {"net_arch": [256, 256]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True, ray=True)
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    tasks = pick_tasks(ENV, args.tasks or (1 if args.quick else 5), min_admissible=4)
    trajectories = args.trajectories or (512 if args.quick else 20_000)
    groups = [4, 16] if args.quick else [4, 8, 16, 32, 64]
    epss = [0.1] if args.quick else [0.01, 0.1, 0.2]
    # (sweep, G, eps, alpha) -> the runs of that configuration: every run of the table is one unit of work
    configs = [("G x eps", g, eps, 1.0) for g in groups for eps in epss]
    configs += [("alpha", 16, 0.2, alpha) for alpha in ([0.0, 1.0] if args.quick else [0.0, 0.5, 1.0])]
    plan = {(sweep, g, eps, alpha): per_task_units(f"{sweep.replace(' ', '')}-G={g}-eps={eps}-alpha={alpha}", IPSGRPO,
                                                   ENV, tasks, seeds, trajectories, group_size=g, n_groups=128 // g,
                                                   learning_rate=1e-3, policy_kwargs=NET, ips_eps=eps, ips_alpha=alpha,
                                                   ips_estimator="count")
            for sweep, g, eps, alpha in configs}
    results = run_grouped(plan, ray_options(args), label="ablation")
    rows = []
    for (sweep, g, eps, alpha), runs in results.items():
        res = summarise(runs)
        rows.append([sweep, g, eps, alpha, f"{res['rr'][1]:.3f}", f"{res['rr'][5]:.3f}", f"{res['tv']:.3f}"])
    header = ["sweep", "G", "eps", "alpha", "RR@|H|", "RR@5|H|", "exact TV to uniform"]
    body = table(header, rows) + (f"\n\n{len(tasks)} causal tasks (4 nodes, 3 observations, |H| >= 4), "
                                  f"{trajectories} trajectories per run, 128 trajectories per update.")
    title = "Ablation: group size, probability floor and exponent (causal tasks)"
    return report.finish(title, body, args.no_write, seeds, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
