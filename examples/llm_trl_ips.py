"""IPS in your own TRL GRPOTrainer: the reward function is the only change to a GRPO script.

A HypoSpace Boolean task (variables x, y; AND, OR, NOT; depth 2) has many admissible expressions. GRPO's
expected-return objective concentrates on a few of them; with ``IPSReward`` each reward is divided by its
outcome's frequency within the prompt's group, which keeps the policy spread over all of them. The model here is
a tiny GPT-2 made and pretrained on the spot (nothing is downloaded); with a real checkpoint you pass its
name to ``GRPOTrainer`` instead (see ``MODEL`` below) and use the full HypoSpace prompts.

    python examples/llm_trl_ips.py             # about two minutes on 2 CPU cores
    python examples/llm_trl_ips.py --quick     # seconds: a smoke run of the same pipeline
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
import tempfile

import torch

if importlib.util.find_spec("trl") is None:   # only a missing TRL skips; any other import error is raised
    print("TRL is not installed (pip install 'ips-rl[llm]'): skipped")
    sys.exit(0)

from transformers.trainer_callback import PrinterCallback
from trl import GRPOConfig, GRPOTrainer

from ips_agents.integrations.tiny_lm import (char_tokenizer, positions_needed, pretrain, prior_data, sample,
                                             tiny_gpt2)
from ips_agents.trl import IPSReward, task_dataset

from ips_agents.evaluation import hypospace_scores
from ips_envs.text import face

MAX_COMPLETION = 40
"""Tokens (characters) a completion may have, in training and in evaluation."""


def recovery(model, tok, f, task, multiple: int = 5, seed: int = 0) -> dict[str, float]:
    """HypoSpace's metrics of ``multiple * |H|`` sampled answers."""
    h = f.admissible_outcomes(task)
    prompt = f.prompt(task, compact=True)
    answers = sample(model, tok, prompt, multiple * len(h), max_new_tokens=MAX_COMPLETION, seed=seed)
    return hypospace_scores([f.parse(f.with_prompt(a, prompt), task) for a in answers], h)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    args_cli = parser.parse_args(argv)
    torch.set_num_threads(1)
    quick = args_cli.quick

    f = face("IPS/BooleanExpr-v0")
    tasks = f.kernel.all_tasks()
    task = next(t for t in tasks if len(f.admissible_outcomes(t)) == 5)

    # a stand-in for a pretrained checkpoint: answers in the task's format, about half of them admissible
    prompts, answers = prior_data(f, tasks, 512 if quick else 8192, seed=0, admissible_fraction=0.5)
    tok = char_tokenizer()
    # the window must hold the longest prompt + answer of the prior data and any prompt + a full completion
    positions = positions_needed(tok, prompts, answers, max_new_tokens=MAX_COMPLETION)
    model = tiny_gpt2(tok, n_positions=positions, n_embd=32 if quick else 64, n_layer=1 if quick else 2)
    pretrain(model, tok, prompts, answers, steps=40 if quick else 300, batch_size=32 if quick else 64,
             learning_rate=1e-2 if quick else 3e-3)
    prior = copy.deepcopy(model.state_dict())
    print(f"task: {f.prompt(task, compact=True).splitlines()[:-1]}, |H| = {len(f.admissible_outcomes(task))}")
    print(f"prior:       RR@5|H| = {recovery(model, tok, f, task)['recovery']:.2f}")

    for label, alpha in (("GRPO", 0.0), ("GRPO + IPS", 1.0)):
        model.load_state_dict(prior)
        with tempfile.TemporaryDirectory() as out:
            config = GRPOConfig(
                output_dir=out, num_generations=4 if quick else 32, per_device_train_batch_size=8 if quick else 32,
                max_completion_length=MAX_COMPLETION, max_steps=2 if quick else 15, learning_rate=1e-3,
                loss_type="dr_grpo", scale_rewards="group",   # the pairing ips_agents.trl documents
                gradient_checkpointing=False, use_cpu=True, report_to="none", save_strategy="no",
                disable_tqdm=True, logging_steps=100, seed=0)
            # --- the IPS part: one reward function (alpha=0 is the env's plain reward) ---
            reward = IPSReward(f, args=config, alpha=alpha, eps=0.05)
            # With a real checkpoint: model="Qwen/Qwen2.5-0.5B-Instruct" (its name goes here), no processing_class
            # (TRL loads the checkpoint's tokenizer) and HypoSpace's full prompts: task_dataset(f, tasks).
            trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, processing_class=tok,
                                  train_dataset=task_dataset(f, [task], compact=True, repeat=64))
            trainer.remove_callback(PrinterCallback)   # keep the output to the comparison below
            trainer.train()
        s = recovery(model, tok, f, task)
        print(f"{label:11s}: RR@5|H| = {s['recovery']:.2f}, validity {s['validity']:.2f}, "
              f"distinct valid answers {s['valid_unique'] * 5 * len(f.admissible_outcomes(task)):.0f}")
    if quick:
        print("--quick ran 2 GRPO steps per arm: too short to learn, so GRPO and GRPO + IPS can print the same "
              "numbers (without --quick: 15 steps each; python -m benchmarks.llm_hypospace compares them per task)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
