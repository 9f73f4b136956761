"""HypoSpace with a language model: TRL's GRPOTrainer with and without IPS, from the same pretrained prior.

For each setting (Boolean x, y with AND/OR/NOT at depth 2; causal graphs on 3 nodes with 1..3 observations;
causal graphs on 4 nodes with 3 observations, the paper's):

1. tasks: ``--tasks`` (30) drawn as HypoSpace draws them (``random.seed(33550336); random.sample(tasks, n)``)
   from the tasks with at least two admissible answers (a single-answer task says nothing about coverage);
2. the prior: a GPT-2 of two layers (width 64, a character tokenizer, both made here) pretrained on the
   HypoSpace answer format: for a random task's prompt, an answer drawn uniformly from that task's admissible
   set half of the time and uniformly from the whole hypothesis space otherwise (a broad, partly competent
   model, as a pretrained LLM is); prompts are the faces' compact ones (observations, then the answer label);
3. per task and seed, ``GRPOTrainer`` from that prior, once with the env's binary reward (GRPO) and once with
   :class:`ips_agents.trl.IPSReward` (GRPO + IPS), every other setting equal (``TRAIN``);
4. evaluation: ``5 |H|`` completions sampled from the fine-tuned model; HypoSpace's metrics with
   ``N = |H|`` queries (the first ``|H|`` samples: validity VR, uniqueness NR, recovery RR, and our
   valid-and-unique rate) and RR@5|H| over all of them. Samples are independent draws, so unlike HypoSpace's
   sequential queries they cannot avoid repeating themselves: even an exact sampler of the uniform
   distribution over ``H`` reaches only about 0.63-0.75 at ``N = |H|`` and 0.99 at ``5|H|``.

Means +- std are over tasks x seeds. Torch runs on one thread per worker process (``--workers``).

    python -m benchmarks.llm_hypospace [--quick] [--seeds 3] [--tasks 30] [--settings boolean causal3 causal4]
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from benchmarks import report
from benchmarks.report import table
from ips_agents.evaluation import hypospace_scores
from ips_envs.text import face

HYPOSPACE_SEED = 33550336
"""The seed of HypoSpace's README runs (``--seed 33550336``)."""


@dataclass(frozen=True)
class Setting:
    """One HypoSpace configuration: the env, its arguments and which observation counts its tasks have."""

    label: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    observations: tuple[int, ...] | None = None  # causal only: observation counts in the family

    def tasks(self) -> list[dict[str, Any]]:
        kernel = face(self.env_id, **self.env_kwargs).kernel
        if self.observations is None:
            return kernel.all_tasks()
        return [t for k in self.observations for t in kernel.all_tasks(k)]


SETTINGS = {
    "boolean": Setting("Boolean x,y, AND/OR/NOT, depth 2", "IPS/BooleanExpr-v0"),
    "causal3": Setting("causal, 3 nodes, 1-3 observations", "IPS/CausalDAG-v0", {"n_nodes": 3}, (1, 2, 3)),
    "causal4": Setting("causal, 4 nodes, 3 observations", "IPS/CausalDAG-v0", {"n_nodes": 4}, (3,)),
}
PRIOR = dict(pairs=20_000, steps=400, batch_size=64, learning_rate=3e-3, admissible_fraction=0.5, n_embd=64,
             n_layer=2, n_head=4, n_positions=160)
QUICK_PRIOR = dict(PRIOR, pairs=512, steps=40, batch_size=32, learning_rate=1e-2, n_embd=32, n_layer=1, n_head=2)
# one setting for both methods; only the reward differs (alpha = 0 is the env's reward)
TRAIN = dict(num_generations=32, steps=15, learning_rate=1e-3, eps=0.05, scale_rewards="group", loss_type="dr_grpo",
             max_completion_length=40)
QUICK_TRAIN = dict(TRAIN, num_generations=4, steps=2)
METHODS = {"GRPO": 0.0, "GRPO + IPS": 1.0}


def pick(tasks: Sequence[dict[str, Any]], f: Any, n: int) -> list[dict[str, Any]]:
    """HypoSpace's task draw, among tasks with at least two admissible answers."""
    eligible = [t for t in tasks if len(f.admissible_outcomes(t)) >= 2]
    random.seed(HYPOSPACE_SEED)
    return random.sample(eligible, min(n, len(eligible)))


def build_prior(setting: Setting, cfg: dict[str, Any], path: str) -> float:
    """Pretrain the setting's prior and save its weights to ``path``; returns the seconds it took."""
    from ips_agents.integrations.tiny_lm import char_tokenizer, pretrain, prior_data, tiny_gpt2

    start = time.perf_counter()
    f = face(setting.env_id, **setting.env_kwargs)
    prompts, answers = prior_data(f, setting.tasks(), cfg["pairs"], seed=0,
                                  admissible_fraction=cfg["admissible_fraction"])
    tok = char_tokenizer()
    model = tiny_gpt2(tok, n_positions=cfg["n_positions"], n_embd=cfg["n_embd"], n_layer=cfg["n_layer"],
                      n_head=cfg["n_head"])
    pretrain(model, tok, prompts, answers, steps=cfg["steps"], batch_size=cfg["batch_size"],
             learning_rate=cfg["learning_rate"])
    torch.save(model.state_dict(), path)
    return time.perf_counter() - start


_CACHE: dict[str, Any] = {}


def _worker_init() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _model(setting: Setting, cfg: dict[str, Any], path: str) -> tuple[Any, Any, Any]:
    """(face, tokenizer, model with the prior's weights), cached per worker."""
    from ips_agents.integrations.tiny_lm import char_tokenizer, tiny_gpt2

    if _CACHE.get("path") != path:
        tok = char_tokenizer()
        model = tiny_gpt2(tok, n_positions=cfg["n_positions"], n_embd=cfg["n_embd"], n_layer=cfg["n_layer"],
                          n_head=cfg["n_head"])
        _CACHE.update(path=path, face=face(setting.env_id, **setting.env_kwargs), tok=tok, model=model,
                      prior=torch.load(path))
    _CACHE["model"].load_state_dict(_CACHE["prior"])
    return _CACHE["face"], _CACHE["tok"], _CACHE["model"]


def evaluate(model: Any, tok: Any, f: Any, task: dict[str, Any], seed: int, max_new_tokens: int) -> dict[str, float]:
    """HypoSpace's metrics at N = |H| and RR@5|H| of ``5 |H|`` sampled completions."""
    from ips_agents.integrations.tiny_lm import sample

    h = f.admissible_outcomes(task)
    prompt = f.prompt(task, compact=True)
    results = [f.parse(f.with_prompt(c, prompt), task)
               for c in sample(model, tok, prompt, 5 * len(h), max_new_tokens=max_new_tokens, seed=seed)]
    at_h = hypospace_scores(results[: len(h)], h)
    return {**{k: at_h[k] for k in ("validity", "uniqueness", "recovery", "valid_unique")},
            "rr5": hypospace_scores(results, h)["recovery"], "n_admissible": len(h)}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Fine-tune the prior on one task with one method and seed (or only evaluate it); its metrics."""
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from ips_agents.trl import IPSReward, task_dataset

    setting, cfg, train = job["setting"], job["prior_cfg"], job["train"]
    f, tok, model = _model(setting, cfg, job["prior_path"])
    torch.manual_seed(job["seed"])
    seconds = 0.0
    if job["method"] != "prior":
        g = train["num_generations"]
        with tempfile.TemporaryDirectory() as out:
            args = GRPOConfig(output_dir=out, num_generations=g, per_device_train_batch_size=g,
                              max_completion_length=train["max_completion_length"], max_steps=train["steps"],
                              learning_rate=train["learning_rate"], lr_scheduler_type="constant",
                              scale_rewards=train["scale_rewards"], loss_type=train["loss_type"],
                              gradient_checkpointing=False, use_cpu=True, report_to="none", save_strategy="no",
                              logging_steps=10_000, disable_tqdm=True, seed=job["seed"])
            reward = IPSReward(f, args=args, alpha=METHODS[job["method"]], eps=train["eps"])
            trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tok,
                                  train_dataset=task_dataset(f, [job["task"]], compact=True, repeat=train["steps"]))
            trainer.remove_callback(PrinterCallback)  # no metrics dict printed per run
            start = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - start
    metrics = evaluate(model, tok, f, job["task"], seed=1000 + job["seed"],
                       max_new_tokens=train["max_completion_length"])
    return {**{k: job[k] for k in ("label", "method", "seed")}, **metrics, "seconds": seconds}


def mean_std(values: Sequence[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--workers", type=int, default=None, help="processes (default 2; 1 with --quick)")
    parser.add_argument("--steps", type=int, default=None, help="GRPOTrainer steps per task")
    args = parser.parse_args(argv)
    quick = args.quick
    seeds = args.seeds or (1 if quick else 3)
    n_tasks = args.tasks or (1 if quick else 30)
    settings = args.settings if not quick or args.settings != list(SETTINGS) else ["boolean"]
    prior_cfg = QUICK_PRIOR if quick else PRIOR
    train = dict(QUICK_TRAIN if quick else TRAIN)
    if args.steps:
        train["steps"] = args.steps
    workers = args.workers or (1 if quick else 2)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        jobs, prior_seconds = [], {}
        for name in settings:
            setting = SETTINGS[name]
            path = os.path.join(tmp, f"{name}.pt")
            prior_seconds[name] = build_prior(setting, prior_cfg, path)
            f = face(setting.env_id, **setting.env_kwargs)
            for task in pick(setting.tasks(), f, n_tasks):
                for seed in range(seeds):
                    for method in ("prior", *METHODS):
                        jobs.append(dict(setting=setting, label=name, prior_cfg=prior_cfg, prior_path=path,
                                         train=train, task=task, seed=seed, method=method))
        if workers == 1:
            results = [run_job(job) for job in tqdm(jobs, desc="llm_hypospace", disable=quick)]
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
                results = list(tqdm(pool.map(run_job, jobs, chunksize=1), total=len(jobs), desc="llm_hypospace"))
    for name in settings:
        by_method = {m: [r for r in results if r["label"] == name and r["method"] == m]
                     for m in ("prior", *METHODS)}
        for method, res in by_method.items():
            rows.append([SETTINGS[name].label, "prior (no training)" if method == "prior" else method,
                         mean_std([r["validity"] for r in res]), mean_std([r["uniqueness"] for r in res]),
                         mean_std([r["recovery"] for r in res]), mean_std([r["valid_unique"] for r in res]),
                         mean_std([r["rr5"] for r in res]), len(res),
                         f"{np.mean([r['seconds'] for r in res]):.1f}"])
        ips = np.mean([r["rr5"] for r in by_method["GRPO + IPS"]])
        grpo = np.mean([r["rr5"] for r in by_method["GRPO"]])
        notes.append(f"{SETTINGS[name].label}: RR@5\\|H\\| GRPO + IPS / GRPO = {ips:.3f} / {grpo:.3f} = "
                     f"{ips / max(grpo, 1e-9):.2f}x; mean \\|H\\| {np.mean([r['n_admissible'] for r in by_method['GRPO']]):.1f}"
                     f"; prior pretraining {prior_seconds[name]:.0f} s")
    header = ["setting", "method", "VR (N=\\|H\\|)", "NR (N=\\|H\\|)", "RR (N=\\|H\\|)", "valid & unique (N=\\|H\\|)",
              "RR@5\\|H\\|", "runs", "train s/run"]
    body = table(header, rows)
    body += "\n\n" + "\n".join(f"* {n}" for n in notes)
    body += (f"\n* GRPOTrainer per task: num_generations={train['num_generations']}, {train['steps']} steps, "
             f"lr {train['learning_rate']}, scale_rewards={train['scale_rewards']}, loss_type={train['loss_type']}, "
             f"IPS eps={train['eps']}; prior: {prior_cfg['steps']} steps on {prior_cfg['pairs']} pairs, "
             f"width {prior_cfg['n_embd']}, {prior_cfg['n_layer']} layers; {workers} worker process(es); "
             f"total wall time {time.perf_counter() - start:.0f} s")
    title = "HypoSpace with a language model (TRL GRPOTrainer, tiny GPT-2 made here): GRPO vs GRPO + IPS per task"
    return report.finish(title, body, args.no_write, seeds, setting=", ".join(settings), quick=quick)


if __name__ == "__main__":
    raise SystemExit(main())
