"""Run under ``torchrun --nproc_per_node 2`` by tests/test_trl_distributed.py: IPSReward on two CPU processes.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/trl_two_process.py rewards OUT_DIR
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/trl_two_process.py train OUT_DIR

``rewards``: each process scores its slice of 12 completions in groups of 4 (6 per process, so the middle group
is split between the processes) and writes its scaled rewards to ``OUT_DIR/rank{r}.json``.
``train``: two GRPOTrainer steps with 2 completions per process and ``num_generations=4`` (every group split);
each process records every reward call (its prompts, completions, tasks and returned rewards).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import torch


def rewards_mode(out: str) -> None:
    from accelerate import PartialState

    from ips_agents.trl import IPSReward
    from tests.test_trl_reward import A1, A2, A3, JUNK, TASK_JSON, WRONG

    state = PartialState(cpu=True)
    assert state.num_processes == 2 and state.distributed_type.value == "MULTI_CPU", state
    completions = [A1, A1, A3, JUNK, A2, A2, A1, A3, WRONG, A3, A3, A3]
    prompts = ["p1"] * 4 + ["p2"] * 4 + ["p3"] * 4
    mine = slice(6 * state.process_index, 6 * state.process_index + 6)
    reward = IPSReward("IPS/CausalDAG-v0", num_generations=4)
    scaled = reward(prompts=prompts[mine], completions=completions[mine], task=[TASK_JSON] * 6)
    with open(os.path.join(out, f"rank{state.process_index}.json"), "w") as fh:
        json.dump({"scaled": scaled, "frequencies": reward.last["frequencies"].tolist(),
                   "distributed_type": state.distributed_type.value}, fh)


def train_mode(out: str) -> None:
    from trl import GRPOConfig, GRPOTrainer

    from ips_agents.integrations.tiny_lm import char_tokenizer, pretrain, prior_data, tiny_gpt2
    from ips_agents.trl import IPSReward, task_dataset
    from ips_envs.text import face

    f = face("IPS/BooleanExpr-v0")
    tasks = f.kernel.all_tasks()[:2]
    prompts, answers = prior_data(f, tasks, 512, seed=0, admissible_fraction=0.5)
    tok = char_tokenizer(prompts + answers)
    model = tiny_gpt2(tok, n_positions=96, n_embd=32, n_layer=1, n_head=2)
    pretrain(model, tok, prompts, answers, steps=100, batch_size=32, learning_rate=1e-2)
    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(output_dir=tmp, num_generations=4, per_device_train_batch_size=2, max_completion_length=24,
                          max_steps=2, learning_rate=1e-3, loss_type="dr_grpo", scale_rewards="group",
                          gradient_checkpointing=False, use_cpu=True, report_to="none", save_strategy="no",
                          logging_steps=1, disable_tqdm=True, seed=0)
        reward = IPSReward(f, args=args)
        calls = []

        def recorded(prompts=None, completions=None, **kwargs):
            scaled = reward(prompts=prompts, completions=completions, **kwargs)
            calls.append({"prompts": prompts, "completions": completions, "task": kwargs["task"], "scaled": scaled})
            return scaled

        recorded.__name__ = "ips"
        trainer = GRPOTrainer(model=model, reward_funcs=recorded, args=args, processing_class=tok,
                              train_dataset=task_dataset(f, tasks, compact=True, repeat=8))
        before = [p.detach().clone() for p in model.parameters()]
        trainer.train()
        rank = trainer.accelerator.process_index
        changed = any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
        with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
            json.dump({"calls": calls, "global_step": trainer.state.global_step, "changed": changed,
                       "num_processes": trainer.accelerator.num_processes,
                       "distributed_type": trainer.accelerator.distributed_type.value,
                       "logged": sorted({k for entry in trainer.state.log_history for k in entry})}, fh)


if __name__ == "__main__":
    torch.set_num_threads(1)
    mode, out_dir = sys.argv[1], sys.argv[2]
    {"rewards": rewards_mode, "train": train_mode}[mode](out_dir)
