"""IPS-GRPO on molecules (IPS/SMILES-v0) under an oracle budget, starting from the packaged SMILES prior.

The budgeted Oracle caches by canonical SMILES and charges only new valid molecules (PMO accounting);
training stops when the budget is spent. Metrics come from the oracle's history.

    python examples/molecules_budget.py --quick       # budget 64 calls, seconds
    python examples/molecules_budget.py --budget 2000 --oracle qed
"""

import argparse

import torch

from ips_agents import IPSGRPO
from ips_agents.molecules import SmilesPriorPolicy, metrics
from ips_envs.smiles.oracle import Oracle, OracleBudgetExhausted

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
parser.add_argument("--budget", type=int, default=1_000, help="oracle calls (new valid molecules)")
parser.add_argument("--oracle", default="drug_mpo", help="a name from ips_envs.smiles.scoring.ORACLES")
args = parser.parse_args()
torch.set_num_threads(1)
budget = 64 if args.quick else args.budget

oracle = Oracle(args.oracle, budget=budget)
model = IPSGRPO(SmilesPriorPolicy, "IPS/SMILES-v0", env_kwargs={"oracle": oracle, "max_length": 60},
                group_size=8, n_groups=2 if args.quick else 8, kl_coef=0.01, seed=0)
updates = 0
while not oracle.exhausted:
    try:
        model.learn(1, reset_num_timesteps=False)  # one batch of groups and one update per call
    except OracleBudgetExhausted:  # the budget ran out inside a batch: stop there
        break
    updates += 1
print(f"{updates} updates, {oracle.calls} oracle calls of {budget}")
best = sorted(oracle.history, key=lambda row: row.reward, reverse=True)[:3]
print("best molecules:", [(row.smiles, round(row.reward, 3)) for row in best])
print({k: v for k, v in metrics.summary(oracle.history, thresholds=(0.5,), budget=budget).items()
       if k in ("oracle_calls", "yield@0.5", "avg_top10", "internal_diversity")})
if args.quick:
    print(f"--quick spent {budget} oracle calls: too short to learn, these are the prior's molecules "
          f"(without --quick: {args.budget:,} calls)")
