"""The LLM example's model window fits its default-mode data; the LLM benchmark writes RESULTS.md only when asked."""

from __future__ import annotations

from argparse import Namespace

import pytest

pytest.importorskip("trl")

from benchmarks import llm_hypospace  # noqa: E402
from ips_agents.integrations.tiny_lm import (char_tokenizer, positions_needed, pretrain, prior_data,  # noqa: E402
                                             tiny_gpt2)
from ips_envs.text import face  # noqa: E402


def test_default_mode_data_fits_the_window():
    """``python examples/llm_trl_ips.py`` (no --quick) draws 8,192 prior pairs: 97 tokens at the longest."""
    f = face("IPS/BooleanExpr-v0")
    tasks = f.kernel.all_tasks()
    prompts, answers = prior_data(f, tasks, 8192, seed=0, admissible_fraction=0.5)   # the example's default
    tok = char_tokenizer()
    n = positions_needed(tok, prompts, answers, max_new_tokens=40)
    longest = max(range(len(prompts)), key=lambda i: len(prompts[i]) + len(answers[i]))
    assert n >= len(prompts[longest]) + len(answers[longest]) + 1 and n >= 97
    assert n >= max(len(p) for p in prompts) + 40
    model = tiny_gpt2(tok, n_positions=n, n_embd=16, n_layer=1, n_head=2)
    pretrain(model, tok, [prompts[longest]], [answers[longest]], steps=1, batch_size=1)   # fits: no error
    with pytest.raises(ValueError, match=f"more than n_positions={n - 41}"):
        pretrain(tiny_gpt2(tok, n_positions=n - 41, n_embd=16, n_layer=1, n_head=2), tok, [prompts[longest]],
                 [answers[longest]], steps=1, batch_size=1)
    with pytest.raises(ValueError, match="at least one prompt"):
        positions_needed(tok, [])


FULL = dict(seeds=(None, 3), tasks=(None, 30), settings=(list(llm_hypospace.SETTINGS),), steps=(None,))


@pytest.mark.parametrize("overrides,writes", [
    ({}, True),                                                  # the full configuration
    ({"seeds": 3, "tasks": 30}, True),                           # the same, spelled out
    ({"tasks": 2}, False),                                       # a trial run prints only
    ({"quick": True}, False),
    ({"settings": ["boolean"]}, False),
    ({"tasks": 2, "write": True}, True),                         # asked for
    ({"no_write": True}, False),
])
def test_llm_benchmark_writes_only_when_asked(overrides, writes):
    args = Namespace(**{**dict(seeds=None, tasks=None, settings=list(llm_hypospace.SETTINGS), steps=None,
                               quick=False, write=False, no_write=False), **overrides})
    assert llm_hypospace.writes_results(args, FULL) is writes


def test_llm_benchmark_trial_run_leaves_results_alone(tmp_path, monkeypatch, capsys):
    from benchmarks import report

    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(report, "RESULTS", results)
    assert llm_hypospace.main(["--quick"]) == 0          # neither --no-write nor --write
    assert not results.exists()
    assert "pass --write to record it" in capsys.readouterr().out
