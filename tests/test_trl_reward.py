"""IPSReward for TRL's GRPOTrainer: hand-computed scaled rewards, group checks, a few real trainer steps."""

from __future__ import annotations

import json
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch as th

from ips_agents.trl import IPSReward, task_dataset
from ips_envs.text import face
from tests.isolated_process import run_process

TASK = {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B", "D"]},
                                       {"perturb": "B", "descendants": []},
                                       {"perturb": "C", "descendants": []}]}
A1, A2, A3 = "Graph: A->B, A->D", "Graph: A->B, A->D, D->B", "Graph: A->D, D->B"   # the admissible DAGs
WRONG, JUNK = "Graph: A->B", "I am not sure."
TASK_JSON = json.dumps(TASK)


def call(reward, completions, prompts=None, tasks=None):
    n = len(completions)
    return reward(prompts=prompts or ["p"] * n, completions=completions, task=tasks or [TASK_JSON] * n)


def test_hand_computed_group():
    reward = IPSReward("IPS/CausalDAG-v0", num_generations=4)          # alpha 1, eps 0.1
    # group: A1 twice (p = 1/2), A3 once (p = 1/4), junk (reward 0)
    assert call(reward, [A1, A1, A3, JUNK]) == pytest.approx([2.0, 2.0, 4.0, 0.0])
    assert list(reward.last["frequencies"]) == pytest.approx([0.5, 0.5, 0.25, 0.25])
    assert list(reward.last["valid"]) == [True, True, True, False]
    # eps floors the probability: max(1/4, 0.3) = 0.3
    assert call(IPSReward("IPS/CausalDAG-v0", num_generations=4, eps=0.3), [A1, A1, A3, JUNK]) == pytest.approx(
        [2.0, 2.0, 1 / 0.3, 0.0])
    # alpha tempers the weight: r / p ** 0.5; alpha = 0 is the env's reward (plain GRPO)
    assert call(IPSReward("IPS/CausalDAG-v0", num_generations=4, alpha=0.5), [A1, A1, A3, JUNK]) == pytest.approx(
        [2 ** 0.5, 2 ** 0.5, 2.0, 0.0])
    assert call(IPSReward("IPS/CausalDAG-v0", num_generations=4, alpha=0.0), [A1, A1, A3, WRONG]) == [1, 1, 1, 0]


def test_two_groups_are_scored_apart():
    reward = IPSReward("IPS/CausalDAG-v0", num_generations=4)
    # the second group is one outcome four times (p = 1); a wrong graph gets 0 whatever its frequency
    out = call(reward, [A1, A2, A3, A3, A2, A2, A2, A2], prompts=["p1"] * 4 + ["p2"] * 4)
    assert out == pytest.approx([4.0, 4.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    out = call(reward, [WRONG, WRONG, A1, JUNK, A1, "Graph: D->B, A->D", A3, A2])
    assert out == pytest.approx([0.0, 0.0, 4.0, 0.0, 4.0, 2.0, 2.0, 4.0])   # edge order: one outcome


def test_trl_group_normalisation_cancels_ips_with_one_rewarded_outcome():
    """TRL's scale_rewards='group' advantage; IPS changes it only when a group holds several valid outcomes."""
    def advantages(r):
        r = np.asarray(r, dtype=np.float64)
        return (r - r.mean()) / (r.std(ddof=1) + 1e-4)

    ips = IPSReward("IPS/CausalDAG-v0", num_generations=4)
    grpo = IPSReward("IPS/CausalDAG-v0", num_generations=4, alpha=0.0)
    one = [A1, A1, WRONG, JUNK]
    assert advantages(call(ips, one)) == pytest.approx(advantages(call(grpo, one)), rel=1e-3)  # TRL's +1e-4
    two = [A1, A1, A3, JUNK]
    a_ips, a_grpo = advantages(call(ips, two)), advantages(call(grpo, two))
    assert a_grpo[0] == pytest.approx(a_grpo[2]) and a_ips[2] > a_ips[0] > a_ips[3]


def test_completion_forms():
    reward = IPSReward("IPS/CausalDAG-v0", num_generations=2)
    conversational = [[{"role": "assistant", "content": A1}], [{"role": "assistant", "content": [
        {"type": "text", "text": "Thinking...\n"}, {"type": "text", "text": A3}]}]]
    assert call(reward, conversational) == pytest.approx([2.0, 2.0])
    compact = face("IPS/CausalDAG-v0").prompt(TASK, compact=True)              # ends with "Graph:"
    assert call(reward, [" A->B, A->D", " A->B, A->D"], prompts=[compact] * 2) == pytest.approx([1.0, 1.0])
    fixed = IPSReward("IPS/CausalDAG-v0", num_generations=2, task=TASK)      # no task column: the env's task=
    assert fixed(prompts=["p", "p"], completions=[A1, WRONG]) == pytest.approx([2.0, 0.0])


def test_incomplete_or_misaligned_groups_are_refused():
    reward = IPSReward("IPS/CausalDAG-v0", num_generations=4)
    with pytest.raises(ValueError, match=r"6 completions over all processes, not a multiple of num_generations = 4"):
        call(reward, [A1] * 6)
    with pytest.raises(ValueError, match=r"completions 0..3 .* do not share one prompt and task.*RepeatSampler"):
        call(reward, [A1] * 8, prompts=["p1", "p1", "p2", "p2", "p2", "p2", "p3", "p3"])
    # 2 processes scoring 2 completions of a group of 4 each: whole groups over the generation batch, accepted
    split = SimpleNamespace(num_generations=4, per_device_train_batch_size=2, steps_per_generation=1, world_size=2)
    assert IPSReward("IPS/CausalDAG-v0", args=split).num_generations == 4
    # 3 processes x 2 completions = 6: no whole number of groups of 4
    odd = SimpleNamespace(num_generations=4, per_device_train_batch_size=2, steps_per_generation=1, world_size=3)
    with pytest.raises(ValueError, match=r"2 \* 1 \* 3 = 6 completions is not a multiple of num_generations = 4"):
        IPSReward("IPS/CausalDAG-v0", args=odd)


def test_chat_prompt_ending_with_the_label_warns_once():
    reward = IPSReward("IPS/CausalDAG-v0", num_generations=2)
    chat = [{"role": "user", "content": face("IPS/CausalDAG-v0").prompt(TASK, compact=True)}]   # ends "Graph:"
    with pytest.warns(UserWarning, match=r"ends with the answer label 'Graph:'"):
        call(reward, [[{"role": "assistant", "content": " A->B, A->D"}]] * 2, prompts=[chat] * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call(reward, [[{"role": "assistant", "content": A1}]] * 2, prompts=[chat] * 2)      # once only
        fine = [{"role": "user", "content": face("IPS/CausalDAG-v0").prompt(TASK)}]        # HypoSpace's prompt
        IPSReward("IPS/CausalDAG-v0", num_generations=2)(prompts=[fine] * 2, completions=[A1, A1],
                                                         task=[TASK_JSON] * 2)


def test_length_normalised_loss_warns():
    args = SimpleNamespace(num_generations=4, per_device_train_batch_size=4, steps_per_generation=1, loss_type="grpo")
    with pytest.warns(UserWarning, match="loss_type='dr_grpo'"):
        IPSReward("IPS/CausalDAG-v0", args=args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(), "pass num_generations"),
    (dict(num_generations=1), "num_generations must be an integer >= 2"),
    (dict(num_generations=4, alpha=2.0), "alpha"),
    (dict(num_generations=4, eps=0.0), "eps"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IPSReward("IPS/CausalDAG-v0", **kwargs)


def test_bad_env_and_missing_task():
    with pytest.raises(ValueError, match="no text face"):
        IPSReward("IPS/HyperGrid-v0", num_generations=4)
    with pytest.raises(ValueError, match="no 'task' column"):
        IPSReward("IPS/CausalDAG-v0", num_generations=2)(prompts=["p", "p"], completions=[A1, A1])


def test_task_dataset():
    f = face("IPS/CausalDAG-v0")
    ds = task_dataset(f, [TASK], compact=True, repeat=3)
    assert len(ds) == 3 and ds[0]["prompt"] == f.prompt(TASK, compact=True)
    assert json.loads(ds[2]["task"]) == f.task(TASK)


def test_core_package_does_not_import_trl():
    code = ("import sys, ips_agents, ips_agents.evaluation, ips_envs.text; "
            "assert not {'trl', 'transformers', 'datasets'} & set(sys.modules), sorted(sys.modules)")
    run_process([sys.executable, "-c", code], check=True, timeout=300)


def test_grpo_trainer_steps_end_to_end(tmp_path):
    """A tiny GPT-2 made here, pretrained on answers, then three GRPOTrainer steps with the IPS reward."""
    from trl import GRPOConfig, GRPOTrainer

    from ips_agents.integrations.tiny_lm import char_tokenizer, pretrain, prior_data, sample, tiny_gpt2

    f = face("IPS/BooleanExpr-v0")
    tasks = f.kernel.all_tasks()[:2]
    prompts, answers = prior_data(f, tasks, 512, seed=0, admissible_fraction=0.5)
    tok = char_tokenizer(prompts + answers)
    model = tiny_gpt2(tok, n_positions=96, n_embd=32, n_layer=1, n_head=2)
    losses = pretrain(model, tok, prompts, answers, steps=100, batch_size=32, learning_rate=1e-2)
    assert losses[-1] < losses[0]
    args = GRPOConfig(output_dir=str(tmp_path), num_generations=4, per_device_train_batch_size=8,
                      max_completion_length=24, max_steps=3, learning_rate=1e-3, loss_type="dr_grpo",
                      scale_rewards="group", gradient_checkpointing=False, use_cpu=True, report_to="none",
                      save_strategy="no", logging_steps=1, disable_tqdm=True, seed=0)
    reward = IPSReward(f, args=args)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tok,
                          train_dataset=task_dataset(f, tasks, compact=True, repeat=8))
    before = [p.detach().clone() for p in model.parameters()]
    trainer.train()
    assert trainer.state.global_step == 3
    assert len(reward.last["scaled"]) == 8
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert {"ips/valid_fraction", "ips/distinct_valid_per_group", "rewards/ips/mean"} <= logged
    assert any(not th.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    outs = sample(model, tok, f.prompt(tasks[0], compact=True), 4, max_new_tokens=24, seed=0)
    assert len(outs) == 4 and all(isinstance(o, str) for o in outs)
