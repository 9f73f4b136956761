"""Dataset export and seeded train/test splits of the task families."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ips_envs.datasets import build_dataset, family_tasks, main, split_tasks


def test_causal_export_has_every_task_and_the_reference_histogram(tmp_path):
    out = tmp_path / "causal.json"
    assert main(["causal", "--n-nodes", "4", "--n-observations", "3", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["n_tasks"] == 392
    sizes = Counter(len(r["admissible"]) for r in data["tasks"])
    assert sizes == {1: 76, 2: 84, 3: 48, 4: 12, 5: 12, 8: 76, 9: 12, 12: 48, 16: 24}
    assert Counter(r["split"] for r in data["tasks"]) == {"train": 196, "test": 196}


@pytest.mark.parametrize("domain,n", [("voxel", 129), ("boolean", 78)])
def test_other_domains_export(tmp_path, domain, n):
    out = tmp_path / f"{domain}.json"
    assert main([domain, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["n_tasks"] == n and all(r["admissible"] for r in data["tasks"])


def test_split_is_seeded_disjoint_and_complete():
    tasks = family_tasks("IPS/CausalDAG-v0", n_nodes=3, n_observations=2)
    train, test = split_tasks(tasks, seed=1)
    again, _ = split_tasks(tasks, seed=1)
    other, _ = split_tasks(tasks, seed=2)
    key = lambda ts: sorted(json.dumps(t, sort_keys=True) for t in ts)  # noqa: E731
    assert key(train) == key(again) and key(train) != key(other)
    assert not set(key(train)) & set(key(test))
    assert sorted(key(train) + key(test)) == key(tasks)
    with pytest.raises(ValueError, match="train_fraction"):
        split_tasks(tasks, train_fraction=1.0)


def test_dataset_admissible_sets_match_the_env():
    import gymnasium as gym

    data = build_dataset("IPS/Voxel3D-v0", {"grid": 2, "height": 2, "max_blocks": 2})
    env = gym.make("IPS/Voxel3D-v0", grid=2, height=2, max_blocks=2).unwrapped
    for record in data["tasks"]:
        env.reset(options={"task": record["task"]})
        assert set(record["admissible"]) == env.admissible_outcomes()
