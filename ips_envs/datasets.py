"""Task families as datasets: every task of a configuration with its admissible set, and seeded splits.

The export is HypoSpace-compatible in spirit (one record per observation set with its exactly enumerated
admissible set), so other solvers can be evaluated on the same tasks::

    python -m ips_envs.datasets causal --n-nodes 4 --n-observations 3 --out causal4.json
    python -m ips_envs.datasets voxel --grid 3 --height 3 --max-blocks 3 --out voxel.json
    python -m ips_envs.datasets boolean --operators AND OR NOT --max-depth 2 --out boolean.json

Each file holds ``{"env_id", "env_kwargs", "n_tasks", "split_seed", "tasks": [{"id", "split", "task",
"admissible": [...]}, ...]}`` with a 50/50 train/test split (as in the paper) drawn with ``split_seed``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import ips_envs  # noqa: F401  (registers the ids)
from ips_envs.core.enumeration import admissible_outcomes

DOMAINS = {"causal": "IPS/CausalDAG-v0", "voxel": "IPS/Voxel3D-v0", "boolean": "IPS/BooleanExpr-v0"}


def family_tasks(env_id: str, **env_kwargs: Any) -> list[dict[str, Any]]:
    """Every task of the family an env samples from (its kernel's ``all_tasks()``), in a fixed order."""
    kernel = gym.make(env_id, **env_kwargs).unwrapped.kernel
    if not hasattr(kernel, "all_tasks"):
        raise ValueError(f"{env_id} cannot list its tasks (no all_tasks())")
    return kernel.all_tasks()


def split_tasks(tasks: Sequence[Mapping[str, Any]], seed: int = 0, train_fraction: float = 0.5
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A seeded random train/test split of ``tasks`` (train gets ``round(train_fraction * n)`` tasks)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    order = np.random.default_rng(seed).permutation(len(tasks))
    n_train = int(round(train_fraction * len(tasks)))
    return [dict(tasks[i]) for i in order[:n_train]], [dict(tasks[i]) for i in order[n_train:]]


def build_dataset(env_id: str, env_kwargs: Mapping[str, Any], split_seed: int = 0) -> dict[str, Any]:
    """Every task of the configuration, its admissible set and its split, as a JSON-able dict."""
    kernel = gym.make(env_id, **env_kwargs).unwrapped.kernel
    tasks = family_tasks(env_id, **env_kwargs)
    train, _ = split_tasks(tasks, split_seed)
    train_keys = {json.dumps(t, sort_keys=True) for t in train}
    records = []
    for i, task in enumerate(tasks):
        records.append({
            "id": f"{env_id.split('/')[1].split('-')[0].lower()}_{i:05d}",
            "split": "train" if json.dumps(task, sort_keys=True) in train_keys else "test",
            "task": task,
            "admissible": sorted(admissible_outcomes(kernel, task)),
        })
    return {"env_id": env_id, "env_kwargs": dict(env_kwargs), "n_tasks": len(records), "split_seed": split_seed,
            "tasks": records}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ips_envs.datasets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="domain", required=True)
    causal = sub.add_parser("causal")
    causal.add_argument("--n-nodes", type=int, default=4)
    causal.add_argument("--n-observations", type=int, default=3)
    causal.add_argument("--max-edges", type=int, default=None)
    voxel = sub.add_parser("voxel")
    voxel.add_argument("--grid", type=int, default=3)
    voxel.add_argument("--height", type=int, default=3)
    voxel.add_argument("--max-blocks", type=int, default=3)
    boolean = sub.add_parser("boolean")
    boolean.add_argument("--variables", nargs="*", default=["x", "y"])
    boolean.add_argument("--operators", nargs="*", default=["AND", "OR", "NOT"])
    boolean.add_argument("--max-depth", type=int, default=2)
    for p in (causal, voxel, boolean):
        p.add_argument("--split-seed", type=int, default=0)
        p.add_argument("--out", required=True, help="output JSON file")
    return parser


def check_out(out: str) -> Path:
    """The output file ``out``, checked before any work: a non-empty path in an existing, writable folder."""
    path = Path(out)
    if not out.strip():
        raise ValueError(f"--out is empty ({out!r}): give a file name such as 'tasks.json'")
    if path.is_dir():
        raise ValueError(f"--out {out!r} is a folder: give a file name such as {str(path / 'tasks.json')!r}")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"--out {out!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--out {out!r} is not writable (permission denied)")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Build one dataset and write it; a bad value or an unwritable ``--out`` is one line on stderr, status 2."""
    parser = _parser()
    args = vars(parser.parse_args(argv))
    domain, out, split_seed = args.pop("domain"), args.pop("out"), args.pop("split_seed")
    env_kwargs = {k: v for k, v in args.items() if v is not None}
    try:
        path = check_out(out)
        data = build_dataset(DOMAINS[domain], env_kwargs, split_seed)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
    except (OSError, ValueError) as e:
        print(f"{parser.prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    sizes = [len(r["admissible"]) for r in data["tasks"]]
    print(f"wrote {data['n_tasks']} tasks to {out} (|admissible| median {int(np.median(sizes))}, "
          f"max {max(sizes)}; {sum(r['split'] == 'train' for r in data['tasks'])} train)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
