"""IPS for verl: the batch reward function by hand, then verl's own reward managers and compute_advantage.

The second part runs tests/verl_cpu_check.py with the verl interpreter (``make verl-venv``: .venv-verl, verl
0.6.1 beside the CPU torch); without it those tests are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ips_agents.integrations.verl import compute_score, dataset_rows, group_ids, ips_batch_scores
from tests.isolated_process import ROOT, run_isolated
from tests.test_trl_reward import A1, A2, A3, JUNK, TASK, TASK_JSON, WRONG

VERL_PYTHON = ROOT / ".venv-verl" / "bin" / "python"
ENV = "IPS/CausalDAG-v0"


def scores(responses, infos, **kwargs):
    n = len(responses)
    return ips_batch_scores([ENV] * n, responses, [TASK_JSON] * n, infos, **kwargs)


def test_batch_scores_by_hand():
    group = [{"index": 0}] * 4 + [{"index": 1}] * 4
    out = scores([A1, A1, A3, JUNK, A2, WRONG, A3, A3], group)
    assert [o["score"] for o in out] == pytest.approx([2.0, 2.0, 4.0, 0.0, 4.0, 0.0, 2.0, 2.0])
    assert [o["frequency"] for o in out] == pytest.approx([0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.5, 0.5])
    assert [o["reward"] for o in out] == [1, 1, 1, 0, 1, 0, 1, 1]
    assert out[3]["outcome"] == "" and out[0]["outcome"] == out[1]["outcome"] != out[2]["outcome"]
    # uid takes precedence over index: two copies of one row with different uids are different groups
    uids = [{"index": 0, "uid": "a"}] * 2 + [{"index": 0, "uid": "b"}] * 2
    assert [o["score"] for o in scores([A1, A3, A1, A1], uids)] == pytest.approx([2.0, 2.0, 1.0, 1.0])
    # alpha = 0 is the env's reward; eps floors p
    assert [o["score"] for o in scores([A1, A1, A3, JUNK], group[:4], alpha=0.0)] == [1, 1, 1, 0]
    assert [o["score"] for o in scores([A1, A1, A3, JUNK], group[:4], eps=0.5)] == pytest.approx([2, 2, 2, 0])
    # what verl's custom_reward_function receives (reward_kwargs merged in, unknown keywords ignored)
    out = compute_score(data_sources=[ENV] * 2, solution_strs=[A1, A3], ground_truths=[TASK_JSON] * 2,
                        extra_infos=[{"index": 3}] * 2, alpha=1.0, eps=0.1, reward_router_address=None)
    assert [o["score"] for o in out] == pytest.approx([2.0, 2.0])


def test_bad_batches_name_the_fix():
    with pytest.raises(ValueError, match="neither 'uid' nor 'index'.*ips_batch"):
        group_ids([{"index": 0}, {}])
    with pytest.raises(ValueError, match="one entry per response"):
        ips_batch_scores([ENV], [A1, A1], [TASK_JSON] * 2, [{"index": 0}] * 2)
    with pytest.raises(ValueError, match="data_source must be an env id"):
        ips_batch_scores([None], [A1], [TASK_JSON], [{"index": 0}])
    with pytest.raises(ValueError, match="at least one task"):
        dataset_rows(ENV, [])


def test_dataset_rows():
    rows = dataset_rows(ENV, [TASK, TASK], env_kwargs={"n_nodes": 4})
    assert [r["extra_info"]["index"] for r in rows] == [0, 1]
    assert rows[0]["data_source"] == ENV and json.loads(rows[0]["reward_model"]["ground_truth"])["n_nodes"] == 4
    assert rows[0]["prompt"][0]["role"] == "user" and not rows[0]["prompt"][0]["content"].rstrip().endswith(":")


def test_data_files_for_verl(tmp_path, capsys):
    import pandas as pd

    from ips_agents.integrations.verl import main

    assert main(["--env", ENV, "--env-kwargs", '{"n_nodes": 3}', "--out", str(tmp_path)]) == 0
    train, test = pd.read_parquet(tmp_path / "train.parquet"), pd.read_parquet(tmp_path / "test.parquet")
    assert len(train) and len(test) and set(train.columns) == {"data_source", "prompt", "ability", "reward_model",
                                                               "extra_info"}
    assert not {r["ground_truth"] for r in train["reward_model"]} & {r["ground_truth"] for r in test["reward_model"]}
    assert "train.parquet" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ verl's own code (.venv-verl)
@pytest.fixture(scope="module")
def verl_report(tmp_path_factory):
    if not VERL_PYTHON.exists():
        pytest.skip("no verl interpreter (.venv-verl): run `make verl-venv` (make test builds it)")
    out = tmp_path_factory.mktemp("verl") / "report.json"
    code, output = run_isolated([str(VERL_PYTHON), str(ROOT / "tests" / "verl_cpu_check.py"), str(out)], 300)
    assert code is not None, "tests/verl_cpu_check.py did not finish in 300 s"
    assert code == 0, output[-4000:]
    return json.loads(out.read_text())


# the hand-made batch of tests/verl_cpu_check.py: prompt 0 = A1, A1, A3, junk; prompt 1 = A2, wrong, A3, A3
IPS = np.array([2.0, 2.0, 4.0, 0.0, 4.0, 0.0, 2.0, 2.0])


@pytest.mark.parametrize("manager", ["batch", "ips_batch"])
def test_verl_reward_managers_put_ips_rewards_on_the_last_token(verl_report, manager):
    r = verl_report[manager]
    assert r["scores"] == pytest.approx(IPS)
    nonzero = IPS > 0
    assert np.array_equal(np.array(r["last_token"])[nonzero], np.array(r["lengths"])[nonzero] - 1)
    assert r["extra"]["frequency"] == pytest.approx([0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.5, 0.5])
    assert r["extra"]["reward"] == [1, 1, 1, 0, 1, 0, 1, 1]


@pytest.mark.parametrize("norm", [True, False])
def test_verl_grpo_advantages_match_the_closed_form(verl_report, norm):
    """verl's GRPO: (s - mean_uid) / (std_uid + 1e-6) (unbiased std), or s - mean_uid, on every response token."""
    r = verl_report["ips_batch"]
    groups = IPS.reshape(2, 4)
    adv = groups - groups.mean(1, keepdims=True)
    if norm:
        adv = adv / (groups.std(1, ddof=1, keepdims=True) + 1e-6)
    expected = adv.reshape(-1)[:, None] * np.array(r["response_mask"])
    assert np.array(r[f"advantages_norm_{norm}"]) == pytest.approx(expected, abs=1e-5)
    assert verl_report["verl"] == "0.6.1" and verl_report["numpy"].startswith("1.")
    assert verl_report["example_config"] == {
        "n_overrides": 37, "reward_manager": "ips_batch", "adv_estimator": "grpo", "rollout_n": 16,
        "loss_agg_mode": "seq-mean-token-sum-norm",
        "custom_reward_function": {"path": "/reward.py", "name": "compute_score", "reward_kwargs": {"alpha": 1.0,
                                                                                                   "eps": 0.1}}}
    assert verl_report["managers"] == ["ips_batch: IPSBatchRewardManager", "batch: BatchRewardManager"]
