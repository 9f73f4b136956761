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

``--split`` adds the generalisation experiment: a prior pretrained on the train half of the task family only
(ips_envs.datasets.split_tasks, seed 0), one policy per seed and method trained by ``GRPOTrainer`` over the
train tasks (``SPLIT``), evaluated the same way on ``--tasks`` held-out test tasks.

Means +- std are over tasks x seeds. Torch runs on one thread per worker process (``--workers``); the report
gives the wall time and the CPU time of all workers (the machine is shared: the CPU time divided by the
number of cores is what a dedicated machine would take).

    python -m benchmarks.llm_hypospace [--quick] [--seeds 3] [--tasks 30] [--settings boolean causal3 causal4]
                                       [--split] [--workers 2] [--prior-cache DIR] [--write]

RESULTS.md gets a section only for the full configuration (the defaults above, with or without ``--split``) or
with ``--write``; a trial run (fewer tasks, seeds, settings or steps, ``--quick``) only prints its table.
"""

from __future__ import annotations

import hashlib
import json
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
from ips_envs.datasets import split_tasks
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

    def face(self) -> Any:
        return face(self.env_id, **self.env_kwargs)

    def tasks(self) -> list[dict[str, Any]]:
        kernel = self.face().kernel
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
QUICK_PRIOR = dict(PRIOR, pairs=512, steps=20, batch_size=32, learning_rate=1e-2, n_embd=32, n_layer=1, n_head=2)
# one setting for both methods; only the reward differs (alpha = 0 is the env's reward)
TRAIN = dict(num_generations=32, prompts_per_step=1, steps=15, learning_rate=1e-3, eps=0.05, scale_rewards="group",
             loss_type="dr_grpo", max_completion_length=40)
QUICK_TRAIN = dict(TRAIN, num_generations=4, steps=2)
SPLIT = dict(TRAIN, num_generations=16, prompts_per_step=8, steps=100)
QUICK_SPLIT = dict(SPLIT, num_generations=4, prompts_per_step=2, steps=2)
METHODS = {"GRPO": 0.0, "GRPO + IPS": 1.0}


def pick(tasks: Sequence[dict[str, Any]], f: Any, n: int) -> list[dict[str, Any]]:
    """HypoSpace's task draw, among tasks with at least two admissible answers."""
    eligible = [t for t in tasks if len(f.admissible_outcomes(t)) >= 2]
    random.seed(HYPOSPACE_SEED)
    return random.sample(eligible, min(n, len(eligible)))


# ------------------------------------------------------------------------------------------- worker side
_CACHE: dict[str, Any] = {}


def _worker_init() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _fresh_model(cfg: dict[str, Any]) -> tuple[Any, Any]:
    from ips_agents.integrations.tiny_lm import char_tokenizer, tiny_gpt2

    tok = char_tokenizer()
    return tok, tiny_gpt2(tok, n_positions=cfg["n_positions"], n_embd=cfg["n_embd"], n_layer=cfg["n_layer"],
                          n_head=cfg["n_head"])


def prior_job(job: dict[str, Any]) -> dict[str, Any]:
    """Pretrain a prior on ``job["tasks"]`` and save its weights to ``job["path"]`` (kept if already there)."""
    from ips_agents.integrations.tiny_lm import pretrain, prior_data

    cpu, start = time.process_time(), time.perf_counter()
    if not os.path.exists(job["path"]):
        cfg = job["prior_cfg"]
        f = job["setting"].face()
        prompts, answers = prior_data(f, job["tasks"], cfg["pairs"], seed=0,
                                      admissible_fraction=cfg["admissible_fraction"])
        tok, model = _fresh_model(cfg)
        pretrain(model, tok, prompts, answers, steps=cfg["steps"], batch_size=cfg["batch_size"],
                 learning_rate=cfg["learning_rate"])
        tmp = job["path"] + ".tmp"
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, job["path"])
    return {"path": job["path"], "cpu": time.process_time() - cpu, "seconds": time.perf_counter() - start}


def _model(setting: Setting, cfg: dict[str, Any], path: str) -> tuple[Any, Any, Any]:
    """(face, tokenizer, model holding the prior's weights), the model built once per worker and prior."""
    if _CACHE.get("path") != path:
        tok, model = _fresh_model(cfg)
        _CACHE.update(path=path, face=setting.face(), tok=tok, model=model, prior=torch.load(path))
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


def grpo_train(model: Any, tok: Any, f: Any, tasks: Sequence[dict[str, Any]], train: dict[str, Any], seed: int,
               alpha: float, device: str = "cpu") -> None:
    """``train["steps"]`` GRPOTrainer steps over ``tasks`` (``prompts_per_step`` groups of ``num_generations``)
    on ``device`` ("cpu", or "cuda" to let TRL use the GPU)."""
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from ips_agents.trl import IPSReward, task_dataset

    g, b = train["num_generations"], train["prompts_per_step"]
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(output_dir=out, num_generations=g, per_device_train_batch_size=g * b,
                          max_completion_length=train["max_completion_length"], max_steps=train["steps"],
                          learning_rate=train["learning_rate"], lr_scheduler_type="constant",
                          scale_rewards=train["scale_rewards"], loss_type=train["loss_type"],
                          gradient_checkpointing=False, use_cpu=device == "cpu", report_to="none",
                          save_strategy="no", logging_steps=10_000, disable_tqdm=True, seed=seed)
        reward = IPSReward(f, args=args, alpha=alpha, eps=train["eps"])
        repeat = max(1, -(-train["steps"] * b // len(tasks)))
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tok,
                              train_dataset=task_dataset(f, tasks, compact=True, repeat=repeat))
        trainer.remove_callback(PrinterCallback)  # no metrics dict printed per run
        trainer.train()


def run_job(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Fine-tune the prior (unless ``method`` is "prior") and evaluate it on ``job["eval_tasks"]``."""
    cpu, start = time.process_time(), time.perf_counter()
    setting, train = job["setting"], job["train"]
    f, tok, model = _model(setting, job["prior_cfg"], job["prior_path"])
    torch.manual_seed(job["seed"])
    if job["method"] != "prior":
        grpo_train(model, tok, f, job["train_tasks"], train, job["seed"], METHODS[job["method"]])
    train_cpu, train_seconds = time.process_time() - cpu, time.perf_counter() - start
    rows = []
    for i, task in enumerate(job["eval_tasks"]):
        metrics = evaluate(model, tok, f, task, seed=1000 * job["seed"] + i,
                           max_new_tokens=train["max_completion_length"])
        rows.append({**{k: job[k] for k in ("label", "kind", "method", "seed")}, **metrics,
                     "seconds": train_seconds, "train_cpu": train_cpu})
    rows[0]["cpu"] = time.process_time() - cpu
    return rows


# --------------------------------------------------------------------------------------------- driver
def mean_std(values: Sequence[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def _prior_path(directory: str, name: str, cfg: dict[str, Any], tasks: Sequence[dict[str, Any]]) -> str:
    digest = hashlib.sha1(json.dumps([cfg, tasks], sort_keys=True).encode()).hexdigest()[:12]
    return os.path.join(directory, f"llm_prior_{name}_{digest}.pt")


def writes_results(args: Any, full: dict[str, Sequence[Any]]) -> bool:
    """Whether a run writes its RESULTS.md section: with ``--write``, or when it ran the full configuration.

    ``full`` maps argument names to the values they take in the full configuration (``None``: left at the
    default); any other value (a 2-task trial, ``--quick``) only prints, so trial runs never replace the
    committed numbers.
    """
    if getattr(args, "no_write", False):
        return False
    if getattr(args, "write", False):
        return True
    return not getattr(args, "quick", False) and all(getattr(args, k) in v for k, v in full.items())


def add_write_argument(parser: Any) -> None:
    """``--write``: write the RESULTS.md section even when the run is not the script's full configuration."""
    parser.add_argument("--write", action="store_true",
                        help="write RESULTS.md even for a partial configuration (by default only the full one writes)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True)
    add_write_argument(parser)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--workers", type=int, default=None, help="processes (default 2; 1 with --quick)")
    parser.add_argument("--steps", type=int, default=None, help="GRPOTrainer steps per task")
    parser.add_argument("--split", action="store_true", help="also train over a train split, test on held-out tasks")
    parser.add_argument("--prior-cache", default=None, help="keep pretrained priors in this folder and reuse them")
    args = parser.parse_args(argv)
    quick = args.quick
    seeds = args.seeds or (1 if quick else 3)
    n_tasks = args.tasks or (1 if quick else 30)
    settings = args.settings if not quick or args.settings != list(SETTINGS) else ["boolean"]
    prior_cfg = QUICK_PRIOR if quick else PRIOR
    train = dict(QUICK_TRAIN if quick else TRAIN)
    split_train = dict(QUICK_SPLIT if quick else SPLIT)
    if args.steps:
        train["steps"] = args.steps
    workers = args.workers or (1 if quick else 2)
    torch.set_num_threads(1)
    start, cpu0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.prior_cache or tmp
        os.makedirs(folder, exist_ok=True)
        priors, jobs = [], []
        for name in settings:
            setting = SETTINGS[name]
            f, family = setting.face(), setting.tasks()
            kinds = [("per task", family, pick(family, f, n_tasks), train)]
            if args.split:
                train_tasks, test_tasks = split_tasks(family, seed=0)
                kinds.append(("train split -> test", train_tasks, pick(test_tasks, f, n_tasks), split_train))
            for kind, prior_tasks, eval_tasks, cfg in kinds:
                path = _prior_path(folder, name, prior_cfg, prior_tasks)
                priors.append(dict(setting=setting, prior_cfg=prior_cfg, tasks=prior_tasks, path=path))
                common = dict(setting=setting, label=name, kind=kind, prior_cfg=prior_cfg, prior_path=path,
                              train=cfg)
                for seed in range(seeds):
                    for method in ("prior", *METHODS):
                        if kind == "per task":  # one job per task: the policy is trained on it alone
                            jobs += [dict(common, seed=seed, method=method, train_tasks=[t], eval_tasks=[t])
                                     for t in eval_tasks]
                        else:  # one policy over the train tasks, evaluated on every held-out task
                            jobs.append(dict(common, seed=seed, method=method, train_tasks=prior_tasks,
                                             eval_tasks=eval_tasks))
        if workers == 1:
            prior_stats = [prior_job(p) for p in priors]
            results = [row for job in tqdm(jobs, desc="llm_hypospace", disable=quick) for row in run_job(job)]
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
                prior_stats = list(pool.map(prior_job, priors))
                results = [row for rows in tqdm(pool.map(run_job, jobs, chunksize=1), total=len(jobs),
                                                desc="llm_hypospace") for row in rows]
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0  # with workers, add theirs
    if workers > 1:
        cpu += sum(p["cpu"] for p in prior_stats) + sum(r.get("cpu", 0.0) for r in results)
    rows, notes = [], []
    for name in settings:
        for kind in ("per task", "train split -> test"):
            by_method = {m: [r for r in results if r["label"] == name and r["kind"] == kind and r["method"] == m]
                         for m in ("prior", *METHODS)}
            if not by_method["GRPO"]:
                continue
            for method, res in by_method.items():
                rows.append([SETTINGS[name].label, kind, "prior (no training)" if method == "prior" else method,
                             mean_std([r["validity"] for r in res]), mean_std([r["uniqueness"] for r in res]),
                             mean_std([r["recovery"] for r in res]), mean_std([r["valid_unique"] for r in res]),
                             mean_std([r["rr5"] for r in res]), len(res),
                             f"{np.mean([r['train_cpu'] for r in res]):.1f}"])
            ips = np.mean([r["rr5"] for r in by_method["GRPO + IPS"]])
            grpo = np.mean([r["rr5"] for r in by_method["GRPO"]])
            notes.append(f"{SETTINGS[name].label}, {kind}: RR@5\\|H\\| GRPO + IPS / GRPO = {ips:.3f} / {grpo:.3f} "
                         f"= {ips / max(grpo, 1e-9):.2f}x; mean \\|H\\| "
                         f"{np.mean([r['n_admissible'] for r in by_method['GRPO']]):.1f}")
    header = ["setting", "training", "method", "VR (N=\\|H\\|)", "NR (N=\\|H\\|)", "RR (N=\\|H\\|)",
              "valid & unique (N=\\|H\\|)", "RR@5\\|H\\|", "runs", "train CPU s/run"]
    body = table(header, rows)
    body += "\n\n" + "\n".join(f"* {n}" for n in notes)
    body += (f"\n* per task: GRPOTrainer with num_generations={train['num_generations']}, {train['steps']} steps, "
             f"lr {train['learning_rate']}, scale_rewards={train['scale_rewards']}, loss_type={train['loss_type']}, "
             f"IPS eps={train['eps']}; prior: {prior_cfg['steps']} steps on {prior_cfg['pairs']} pairs "
             f"(admissible fraction {prior_cfg['admissible_fraction']}), width {prior_cfg['n_embd']}, "
             f"{prior_cfg['n_layer']} layers")
    if args.split:
        body += (f"\n* train split -> test: one policy per seed, {split_train['steps']} steps of "
                 f"{split_train['prompts_per_step']} prompts x {split_train['num_generations']} completions")
    body += (f"\n* {workers} worker process(es); wall time {wall:.0f} s, CPU time {cpu:.0f} s "
             f"(= {cpu / 2 / 60:.1f} min on 2 dedicated cores); priors "
             + ", ".join(f"{p['cpu']:.0f}" for p in prior_stats) + " CPU s"
             + (" (cached)" if args.prior_cache else ""))
    title = "HypoSpace with a language model (TRL GRPOTrainer, tiny GPT-2 made here): GRPO vs GRPO + IPS"
    full = dict(seeds=(None, 3), tasks=(None, 30), settings=(list(SETTINGS),), steps=(None,))
    write = writes_results(args, full)
    if not write and not args.no_write:
        print("(not written to RESULTS.md: a partial configuration; pass --write to record it)")
    return report.finish(title, body, not write, seeds, setting=", ".join(settings), quick=quick)


if __name__ == "__main__":
    raise SystemExit(main())
