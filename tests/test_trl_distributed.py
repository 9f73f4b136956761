"""IPSReward on two CPU processes (torchrun, accelerate MULTI_CPU over gloo): groups split between processes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

from ips_agents.trl import IPSReward  # noqa: E402
from tests.isolated_process import run_isolated  # noqa: E402
from tests.test_trl_reward import TASK_JSON  # noqa: E402

SCRIPT = Path(__file__).with_name("trl_two_process.py")


def torchrun(mode: str, out: Path, timeout: float = 240.0) -> list[dict]:
    """Run ``tests/trl_two_process.py MODE OUT`` on two processes (their own session, killed afterwards);
    return each rank's JSON report."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT), mode,
           str(out)]
    code, output = run_isolated(cmd, timeout)
    assert code is not None, f"torchrun {mode} did not finish in {timeout} s"
    assert code == 0, output[-4000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_scaled_rewards_equal_a_one_process_run(tmp_path):
    from tests.test_trl_reward import A1, A2, A3, JUNK, WRONG

    ranks = torchrun("rewards", tmp_path)
    assert {r["distributed_type"] for r in ranks} == {"MULTI_CPU"}
    completions = [A1, A1, A3, JUNK, A2, A2, A1, A3, WRONG, A3, A3, A3]
    one = IPSReward("IPS/CausalDAG-v0", num_generations=4)(prompts=["p1"] * 4 + ["p2"] * 4 + ["p3"] * 4,
                                                           completions=completions, task=[TASK_JSON] * 12)
    assert ranks[0]["scaled"] + ranks[1]["scaled"] == pytest.approx(one)
    # the split group p2: A2 twice (p = 1/2), A1 and A3 once each (p = 1/4)
    assert ranks[0]["scaled"][4:] + ranks[1]["scaled"][:2] == pytest.approx([2.0, 2.0, 4.0, 4.0])
    assert ranks[0]["frequencies"][4:] == pytest.approx([0.5, 0.5])


def test_grpo_trainer_trains_with_groups_split_across_processes(tmp_path):
    ranks = torchrun("train", tmp_path)
    for r in ranks:
        assert r["num_processes"] == 2 and r["distributed_type"] == "MULTI_CPU"
        assert r["global_step"] == 2 and r["changed"]
        assert {"ips/valid_fraction", "ips/distinct_valid_per_group", "rewards/ips/mean"} <= set(r["logged"])
    assert len(ranks[0]["calls"]) == len(ranks[1]["calls"]) >= 2
    one = IPSReward("IPS/BooleanExpr-v0", num_generations=4)
    for c0, c1 in zip(ranks[0]["calls"], ranks[1]["calls"], strict=True):
        assert len(c0["completions"]) == len(c1["completions"]) == 2         # half a group on each process
        expected = one(prompts=c0["prompts"] + c1["prompts"], completions=c0["completions"] + c1["completions"],
                       task=c0["task"] + c1["task"])
        assert c0["scaled"] + c1["scaled"] == pytest.approx(expected)
    assert any(s > 0 for r in ranks for c in r["calls"] for s in c["scaled"])    # some group was rewarded
