"""Outcome probabilities of text answers: the in-group count against estimators built from sequence log-probs.

IPS divides a reward by the outcome's probability ``p(o)``; IPS-GRPO estimates it by the in-group count
``n_o / G``, which cannot go below ``1 / G``. For text, the log-probability of every sampled completion comes
with the sample, and the summed probability of the distinct sampled completions of ``o`` (``mass``) is a lower
bound of ``p(o)`` that can. This script measures, on the tiny GPT-2 (a broad prior over Boolean x, y depth-2
answers, about half of them admissible) and tasks with a small answer space:

1. ``p(o)`` by heavy sampling (``--samples`` completions per task, default 4096);
2. the same samples cut into groups of ``G`` (8 and 16); every rule of
   :func:`ips_agents.integrations.groups.sequence_propensities` gives ``p_hat`` per sample;
3. for every admissible outcome the expected IPS push ``E[sum_{g: o_g = o} 1 / (G max(p_hat_g, eps))]`` over
   groups. Exact IPS gives every outcome the same push (``p / max(p, eps)``: 1 above ``eps``), which is what
   moves the policy towards the reward-proportional fixed point; the count gives ``1 - (1 - p)^G`` instead
   (rare outcomes get less). Reported: the mean absolute error of the push against that target over the
   admissible outcomes, split at ``p = 1 / G``, and the mean |log p_hat - log p|.

    python -m benchmarks.llm_text_estimator [--quick] [--samples 4096] [--tasks 3] [--write]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from benchmarks import report
from benchmarks.llm_hypospace import add_write_argument, writes_results
from benchmarks.report import table
from ips_agents.integrations.groups import PROPENSITY_RULES, outcome_keys, sequence_propensities

EPS = 0.01
"""Probability floor of the IPS weight in this measurement (small, so the floor rarely hides the estimate)."""


def prior_model(f: Any, tasks: Sequence[dict], quick: bool) -> tuple[Any, Any]:
    """The tiny GPT-2 pretrained on a broad prior (as in examples/llm_trl_ips.py, 200 steps on 4,096 pairs)."""
    from ips_agents.integrations.tiny_lm import char_tokenizer, positions_needed, pretrain, prior_data, tiny_gpt2

    prompts, answers = prior_data(f, tasks, 512 if quick else 4096, seed=0, admissible_fraction=0.5)
    tok = char_tokenizer()
    model = tiny_gpt2(tok, n_positions=positions_needed(tok, prompts, answers, max_new_tokens=40),
                      n_embd=32 if quick else 64, n_layer=1 if quick else 2)
    pretrain(model, tok, prompts, answers, steps=40 if quick else 200, batch_size=32 if quick else 64,
             learning_rate=1e-2 if quick else 3e-3)
    return model, tok


def measure(outcomes: np.ndarray, valid: np.ndarray, seqs: list, logps: np.ndarray, g: int, rule: str
            ) -> dict[str, float]:
    """Errors of one rule with groups of ``g`` against the heavy-sample ``p(o)`` of the admissible outcomes."""
    n = len(outcomes) // g * g
    outcomes, valid, seqs, logps = outcomes[:n], valid[:n], seqs[:n], logps[:n]
    groups = np.arange(n) // g
    p_hat = sequence_propensities(list(outcomes), groups, seqs, logps, rule=rule)
    weight = valid / (g * np.maximum(p_hat, EPS))
    n_groups = n // g
    push_err, log_err, rare_err, common_err = [], [], [], []
    for o in sorted(set(outcomes[valid])):
        here = outcomes == o
        p = here.mean()
        target = p / max(p, EPS)
        err = abs(weight[here].sum() / n_groups - target)
        push_err.append(err)
        (rare_err if p < 1 / g else common_err).append(err)
        log_err.append(np.mean(np.abs(np.log(p_hat[here]) - np.log(p))))
    return {"push": float(np.mean(push_err)), "rare": float(np.mean(rare_err)) if rare_err else float("nan"),
            "common": float(np.mean(common_err)) if common_err else float("nan"), "log": float(np.mean(log_err)),
            "n_rare": len(rare_err), "n_common": len(common_err)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = report.parser(__doc__, tasks=True)
    add_write_argument(parser)
    parser.add_argument("--samples", type=int, default=None, help="completions per task (default 4096)")
    args = parser.parse_args(argv)
    quick = args.quick
    samples, n_tasks = args.samples or (256 if quick else 4096), args.tasks or (1 if quick else 3)
    torch.set_num_threads(1)
    from ips_agents.integrations.tiny_lm import sample_with_logprobs
    from ips_envs.text import face

    start = time.perf_counter()
    f = face("IPS/BooleanExpr-v0")
    tasks = f.kernel.all_tasks()
    model, tok = prior_model(f, tasks, quick)
    print(f"prior trained in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    chosen = [t for t in tasks if 3 <= len(f.admissible_outcomes(t)) <= 8][:n_tasks]
    rows, results = [], {}
    for i, task in enumerate(chosen):
        prompt = f.prompt(task, compact=True)
        texts, seqs, logps = sample_with_logprobs(model, tok, prompt, samples, max_new_tokens=40, seed=i)
        parsed = [f.parse(f.with_prompt(x, prompt), task) for x in texts]
        outcomes = outcome_keys([r.outcome for r in parsed])
        valid = np.array([r.valid for r in parsed])
        print(f"task {i}: {samples} samples at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        for g in (8, 16):
            for rule in PROPENSITY_RULES:
                results.setdefault((g, rule), []).append(measure(outcomes, valid, seqs, logps, g, rule))
        results.setdefault("strings", []).append(np.mean([len({s for s, o in zip(seqs, outcomes, strict=True)
                                                                if o == k}) for k in set(outcomes[valid])]))
    def nanmean(values: list[float]) -> float:
        kept = [v for v in values if not np.isnan(v)]
        return float(np.mean(kept)) if kept else float("nan")

    for (g, rule), res in ((k, v) for k, v in results.items() if k != "strings"):
        rows.append([g, rule, np.mean([r["push"] for r in res]), nanmean([r["rare"] for r in res]),
                     nanmean([r["common"] for r in res]), np.mean([r["log"] for r in res]),
                     sum(r["n_rare"] for r in res), sum(r["n_common"] for r in res)])
    header = ["G", "p_hat rule", "push error (all admissible)", "push error, p < 1/G", "push error, p >= 1/G",
              "mean \\|log p_hat - log p\\|", "outcomes p < 1/G", "outcomes p >= 1/G"]
    body = table(header, rows)
    best = {g: min((r for r in rows if r[0] == g), key=lambda r: r[2])[1] for g in (8, 16)}
    body += (f"\n\n* {len(chosen)} Boolean x,y depth-2 tasks with 3-8 admissible answers, {samples} samples each "
             f"(p(o) = their frequency); eps = {EPS}; distinct strings per admissible outcome: "
             f"{np.mean(results['strings']):.1f} on average; lowest push error: G=8 {best[8]}, G=16 {best[16]}; "
             f"wall time {time.perf_counter() - start:.0f} s")
    full = dict(samples=(None, 4096), tasks=(None, 3), seeds=(None,))
    write = writes_results(args, full)
    if not write and not args.no_write:
        print("(not written to RESULTS.md: a partial configuration; pass --write to record it)")
    title = "Text outcome probabilities: in-group count vs sequence log-probability estimators (tiny GPT-2)"
    return report.finish(title, body, not write, None, quick=quick)


if __name__ == "__main__":
    raise SystemExit(main())
