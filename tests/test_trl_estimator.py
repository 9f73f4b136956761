"""Outcome probabilities from sampled sequences' log-probabilities: closed forms, and the log-probs themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ips_agents.integrations.groups import PROPENSITY_RULES, scale_by_group, sequence_propensities


def test_rules_by_hand():
    outcomes = ["a", "a", "b", None, "a", "c", "c", "c"]
    groups = [0, 0, 0, 0, 1, 1, 1, 1]
    seqs = ["s1", "s1", "s2", "s3", "s1", "t1", "t2", "t1"]          # a twice as one string; c as two strings
    logps = np.log([0.3, 0.3, 0.01, 0.5, 0.3, 0.2, 0.1, 0.2])
    expect = {
        "count": [0.5, 0.5, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75],
        "mass": [0.3, 0.3, 0.01, 0.5, 0.3, 0.3, 0.3, 0.3],           # distinct strings counted once
        "max": [0.5, 0.5, 0.25, 0.5, 0.3, 0.75, 0.75, 0.75],
        "singleton_mass": [0.5, 0.5, 0.01, 0.5, 0.3, 0.75, 0.75, 0.75],
    }
    for rule in PROPENSITY_RULES:
        assert sequence_propensities(outcomes, groups, seqs, logps, rule=rule) == pytest.approx(expect[rule]), rule
    # the count rule is the in-group frequency IPS-GRPO uses
    _, freq = scale_by_group([1] * 8, outcomes, groups)
    assert sequence_propensities(outcomes, groups, seqs, logps, rule="count") == pytest.approx(freq)


def test_bad_input():
    with pytest.raises(ValueError, match="rule must be one of"):
        sequence_propensities(["a"], [0], ["s"], [0.0], rule="median")
    with pytest.raises(ValueError, match="one group, sequence and log-probability per outcome"):
        sequence_propensities(["a", "b"], [0], ["s"], [0.0])
    with pytest.raises(ValueError, match="must be <= 0"):
        sequence_propensities(["a"], [0], ["s"], [0.5])


def test_sampled_log_probabilities_match_frequencies():
    """exp(log pi(y)) of the most frequent sampled completion agrees with its frequency in 3,000 samples."""
    pytest.importorskip("transformers")
    from ips_agents.integrations.tiny_lm import char_tokenizer, pretrain, sample_with_logprobs, tiny_gpt2

    tok = char_tokenizer()
    model = tiny_gpt2(tok, n_positions=32, n_embd=16, n_layer=1, n_head=2)
    pretrain(model, tok, ["Q:"] * 4, [" ab", " ab", " b", " ba"], steps=60, batch_size=8, learning_rate=1e-2)
    texts, seqs, logps = sample_with_logprobs(model, tok, "Q:", 3000, max_new_tokens=4, seed=0)
    assert len(texts) == len(seqs) == len(logps) == 3000 and np.all(logps <= 0)
    by_seq: dict = {}
    for s, lp in zip(seqs, logps, strict=True):
        by_seq.setdefault(s, []).append(lp)
    assert all(np.ptp(v) < 1e-4 for v in by_seq.values())            # one sequence, one log-probability
    top = max(by_seq, key=lambda s: len(by_seq[s]))
    freq, p = len(by_seq[top]) / 3000, math.exp(by_seq[top][0])
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / 3000) + 1e-3
    assert sum(math.exp(v[0]) for v in by_seq.values()) <= 1 + 1e-6


def test_estimator_benchmark_quick(capsys):
    pytest.importorskip("transformers")
    from benchmarks import llm_text_estimator

    assert llm_text_estimator.main(["--quick", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert all(f"| 8 | {rule} |" in out for rule in PROPENSITY_RULES) and "lowest push error" in out
