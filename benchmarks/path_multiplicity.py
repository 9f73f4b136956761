"""Path multiplicity (paper Section 6): A (35 paths) and B (7 paths), equal reward; target 50/50.

For GRPO and IPS-GRPO (count and path-count propensities): the fraction of A and of B among each update's
sampled trajectories over training (the paper's Figure 3c), and the final exact P(A), P(B) of the learned
policy, over several seeds, with both observation forms: ``"state"`` (the walker's position; walks that
meet share a state) and ``"history"`` (the moves so far: a tree MDP, like an autoregressive language model).

    python -m benchmarks.path_multiplicity [--quick] [--seeds 5] [--trajectories 30000] [--ray | --ray-address ADDR]
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from stable_baselines3.common.logger import Logger

from benchmarks import report
from benchmarks.report import figures_dir, table
from ips_agents import plots
from ips_agents.evaluation import exact_outcome_distribution
from ips_agents.algorithms.ips_grpo import GRPO, IPSGRPO
from ips_agents.integrations.ray_tune import ray_options
from ips_agents.runs.units import Unit, run_grouped

ENV = "IPS/PathMultiplicity-v0"


def train(algo: type, seed: int, trajectories: int, observation: str = "state",
          **kwargs) -> tuple[list[int], list[float], list[float], dict]:
    model = algo("MlpPolicy", ENV, group_size=16, n_groups=8, seed=seed, policy_kwargs={"net_arch": [128, 128]},
                 env_kwargs={"observation": observation}, **kwargs)
    model.set_logger(Logger(folder=None, output_formats=[]))
    xs, frac_a, frac_b = [], [], []
    while model.num_trajectories < trajectories:
        model._update_current_progress_remaining(model.num_trajectories, trajectories)
        batch = model.collect_batch()
        model.num_trajectories += batch.n_trajectories
        model.train_on_batch(batch)
        xs.append(model.num_trajectories)
        frac_a.append(float(np.mean(batch.outcomes == "A")))
        frac_b.append(float(np.mean(batch.outcomes == "B")))
    env = gym.make(ENV, observation=observation)
    env.reset(seed=seed)
    return xs, frac_a, frac_b, exact_outcome_distribution(model, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, ray=True)
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 5)
    trajectories = args.trajectories or (512 if args.quick else 30_000)
    rows, curves = [], {}
    methods = {"IPS-GRPO (count)": (IPSGRPO, {"ips_estimator": "count"}),
               "IPS-GRPO (path counts, the default)": (IPSGRPO, {}),
               "GRPO": (GRPO, {}), "GRPO + entropy 0.01": (GRPO, {"ent_coef": 0.01})}
    plan = {(observation, label): [Unit(f"{observation}/{label}/seed={seed}", train,
                                        {"algo": algo, "seed": seed, "trajectories": trajectories,
                                         "observation": observation, **kwargs}) for seed in range(seeds)]
            for observation in ("state", "history") for label, (algo, kwargs) in methods.items()}
    for (observation, label), runs in run_grouped(plan, ray_options(args), label="path_multiplicity").items():
        finals = [(dist.get("A", 0.0), dist.get("B", 0.0)) for _, _, _, dist in runs]
        if observation == "state":
            xs, fa, fb, _ = runs[0]
            curves[f"{label}: A"] = (xs, fa)
            curves[f"{label}: B"] = (xs, fb)
        pa = np.array([f[0] for f in finals])
        pb = np.array([f[1] for f in finals])
        onto_a = int(np.sum(pa >= 0.95))
        onto_b = int(np.sum(pb >= 0.95))
        rows.append([observation, label, f"{pa.mean():.3f} ± {pa.std():.3f}", f"{pb.mean():.3f} ± {pb.std():.3f}",
                     " / ".join(f"{a:.2f}:{b:.2f}" for a, b in finals), f"{onto_a}/{seeds}", f"{onto_b}/{seeds}"])
    plots.plot_curves(curves, figures_dir() / "path_multiplicity.png", "trajectories",
                      "fraction of the update's samples", "PathMultiplicity: A (35 paths) vs B (7 paths)")
    header = ["observation", "method", "exact P(A)", "exact P(B)", "per seed P(A):P(B)", "seeds with P(A) >= 0.95",
              "seeds with P(B) >= 0.95"]
    body = table(header, rows) + (f"\n\n{trajectories} trajectories per run, 16 x 8 per update, MLP 128x128. "
                                  "Figure (state observation): figures/path_multiplicity.png")
    title = "Path multiplicity: A (35 paths) vs B (7 paths), equal reward, state and history observations"
    return report.finish(title, body, args.no_write, seeds, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
