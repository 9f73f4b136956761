"""A small causal language model made here: a character-level tokenizer, a GPT-2 from a config, pretraining.

Nothing is downloaded. Tests, the LLM benchmark and the TRL example use it as a stand-in for a real
checkpoint: build a tokenizer over the characters of the prompts and answers, a GPT-2 of a few layers, and
pretrain it on answers in the task's format (a *broad prior*: answers spread over the whole hypothesis space,
whatever the prompt), then fine-tune it with TRL's ``GRPOTrainer``::

    from ips_agents.integrations.tiny_lm import char_tokenizer, tiny_gpt2, prior_data, pretrain
    tok = char_tokenizer(prompts + answers)
    model = tiny_gpt2(tok, n_positions=192)
    pretrain(model, tok, *prior_data(face, tasks, 4096, seed=0), steps=300)

Requires the ``[llm]`` extra (transformers, tokenizers).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch as th

try:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("ips_agents.integrations.tiny_lm needs the [llm] extra: pip install 'ips-rl[llm]'") from err

from ips_envs.text.base import TextFace

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
"""Pad, begin, end and unknown: ids 0..3 of every tokenizer made here."""


def char_tokenizer(texts: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """A tokenizer with one token per character: printable ASCII plus every character of ``texts``.

    Prompts are padded on the left (as ``GRPOTrainer`` needs); ``decode(..., skip_special_tokens=True)``
    gives back the exact text.
    """
    chars = set(string.printable) | {ch for t in texts for ch in t}
    vocab = {tok: i for i, tok in enumerate([*SPECIAL_TOKENS, *sorted(chars)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("(?m)."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
                                  unk_token="<unk>")
    tok.padding_side = "left"
    return tok


def tiny_gpt2(tokenizer: PreTrainedTokenizerFast, n_positions: int = 256, n_embd: int = 64, n_layer: int = 2,
              n_head: int = 4, seed: int = 0) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 (``n_layer`` blocks of width ``n_embd``; about 0.1M parameters by default)."""
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    th.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # transformers 5 cannot infer it from the class name GPT2LMHeadModel
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def prior_data(face: TextFace, tasks: Sequence[Any], n: int, seed: int = 0, compact: bool = True,
               admissible_fraction: float = 0.0, hypotheses: Sequence[str] | None = None
               ) -> tuple[list[str], list[str]]:
    """``n`` (prompt, completion) pairs for a broad prior over answers in the task's format.

    Each pair is a random task's prompt and the answer of an outcome drawn, with probability
    ``admissible_fraction``, uniformly from that task's admissible set, and otherwise uniformly from
    ``hypotheses`` (default: the face's whole hypothesis space) whatever the task. With ``admissible_fraction=0``
    the prior ignores the prompt; with 0.5 it is a partly competent model (about half its answers fit the task)
    that still spreads over the whole space, as a pretrained language model would. Completions of compact prompts
    (which end with the answer label) leave the label out.
    """
    keys = list(face.hypotheses() if hypotheses is None else hypotheses)
    if not keys:
        raise ValueError(f"{face.env_id}: no hypotheses to draw answers from (pass hypotheses=[...])")
    if not tasks:
        raise ValueError("prior_data needs at least one task for the prompts")
    if not 0.0 <= admissible_fraction <= 1.0:
        raise ValueError(f"admissible_fraction must be in [0, 1], got {admissible_fraction!r}")
    rng = np.random.default_rng(seed)
    admissible = {}
    prompts, completions = [], []
    for t, u, k in zip(rng.integers(len(tasks), size=n).tolist(), rng.random(n).tolist(),
                       rng.random(n).tolist(), strict=True):
        prompt = face.prompt(tasks[t], compact=compact)
        if u < admissible_fraction:
            if t not in admissible:
                admissible[t] = sorted(face.admissible_outcomes(tasks[t]))
            key = admissible[t][int(k * len(admissible[t]))]
        else:
            key = keys[int(k * len(keys))]
        answer = face.answer(key, tasks[t])
        if face.with_prompt("", prompt):  # the prompt already opened the answer line
            answer = answer.split(":", 1)[1]
        prompts.append(prompt)
        completions.append(answer)
    return prompts, completions


def positions_needed(tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str], completions: Sequence[str] = (),
                     max_new_tokens: int = 0) -> int:
    """The ``n_positions`` a model needs to pretrain on these pairs and generate ``max_new_tokens`` after any prompt.

    The longest ``prompt + completion + <eos>`` and the longest ``prompt`` plus ``max_new_tokens``, whichever is
    more (pass it to :func:`tiny_gpt2`; a too short window fails in :func:`pretrain` or, worse, in generation).
    """
    if not prompts:
        raise ValueError("positions_needed needs at least one prompt")
    if completions and len(completions) != len(prompts):
        raise ValueError(f"need as many prompts as completions, got {len(prompts)} and {len(completions)}")
    p_len = [len(x) for x in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    c_len = [len(x) for x in tokenizer(list(completions), add_special_tokens=False)["input_ids"]] if completions else []
    pairs = max((p + c + 1 for p, c in zip(p_len, c_len, strict=True)), default=0) if c_len else 0
    return max(pairs, max(p_len) + int(max_new_tokens))


def _encode_pairs(tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str], completions: Sequence[str]
                  ) -> tuple[th.Tensor, th.Tensor]:
    """Right-padded ``prompt + completion + <eos>`` ids and labels (-100 on the prompt and the padding)."""
    p_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    c_ids = tokenizer(list(completions), add_special_tokens=False)["input_ids"]
    rows = [p + c + [tokenizer.eos_token_id] for p, c in zip(p_ids, c_ids, strict=True)]
    width = max(len(r) for r in rows)
    ids = th.full((len(rows), width), tokenizer.pad_token_id, dtype=th.long)
    labels = th.full((len(rows), width), -100, dtype=th.long)
    for i, (p, r) in enumerate(zip(p_ids, rows, strict=True)):
        ids[i, : len(r)] = th.tensor(r)
        labels[i, len(p): len(r)] = th.tensor(r[len(p):])
    return ids, labels


def pretrain(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
             completions: Sequence[str], steps: int = 300, batch_size: int = 64, learning_rate: float = 3e-3,
             seed: int = 0) -> list[float]:
    """Teacher-forced next-token training on the completions (the prompt is context, not a target).

    Minibatches are drawn with replacement from the pairs; AdamW with a linear decay to 0. Returns the loss
    of every step (nats per completion token).
    """
    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (at least one), got {len(prompts)} and "
                         f"{len(completions)}")
    ids, labels = _encode_pairs(tokenizer, prompts, completions)
    if ids.shape[1] > model.config.n_positions:
        raise ValueError(f"examples are {ids.shape[1]} tokens long, more than n_positions={model.config.n_positions}")
    gen = th.Generator().manual_seed(seed)
    opt = th.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    sched = th.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / max(steps, 1))
    model.train()
    losses = []
    for _ in range(steps):
        idx = th.randint(len(ids), (batch_size,), generator=gen)
        batch, target = ids[idx], labels[idx]
        width = int((batch != tokenizer.pad_token_id).sum(1).max())
        out = model(input_ids=batch[:, :width], attention_mask=(batch[:, :width] != tokenizer.pad_token_id).long(),
                    labels=target[:, :width])
        opt.zero_grad()
        out.loss.backward()
        th.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(out.loss.item())
    model.eval()
    return losses


@th.no_grad()
def sample(model: Any, tokenizer: Any, prompt: str, n: int, max_new_tokens: int = 64, seed: int | None = None,
           temperature: float = 1.0, batch_size: int = 512) -> list[str]:
    """``n`` completions of ``prompt`` sampled from any causal LM (pure sampling at ``temperature``, as in GRPO),
    on the model's device."""
    if seed is not None:
        th.manual_seed(seed)
    model.eval()
    ids = tokenizer([prompt], add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
    out: list[str] = []
    while len(out) < n:
        m = min(batch_size, n - len(out))
        gen = model.generate(input_ids=ids.repeat(m, 1), attention_mask=th.ones_like(ids).repeat(m, 1),
                             do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                             max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
        out += tokenizer.batch_decode(gen[:, ids.shape[1]:], skip_special_tokens=True)
    return out


@th.no_grad()
def sample_with_logprobs(model: Any, tokenizer: Any, prompt: str, n: int, max_new_tokens: int = 64,
                         seed: int | None = None, batch_size: int = 512) -> tuple[list[str], list[tuple[int, ...]],
                                                                                  np.ndarray]:
    """``n`` completions sampled at temperature 1: texts, token ids (up to and including the end token) and the
    sequence log-probability ``log pi(y | prompt)`` of each (the sum of its tokens' log-probabilities).

    Tokens after a completion's end token are padding and do not count.
    """
    if seed is not None:
        th.manual_seed(seed)
    model.eval()
    ids = tokenizer([prompt], add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
    texts: list[str] = []
    seqs: list[tuple[int, ...]] = []
    logps: list[float] = []
    eos = tokenizer.eos_token_id
    while len(texts) < n:
        m = min(batch_size, n - len(texts))
        gen = model.generate(input_ids=ids.repeat(m, 1), attention_mask=th.ones_like(ids).repeat(m, 1),
                             do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=eos, output_scores=True,
                             return_dict_in_generate=True)
        new = gen.sequences[:, ids.shape[1]:]
        token_logp = th.stack([th.log_softmax(s.float(), -1) for s in gen.scores], 1)   # [m, T, vocab]
        picked = token_logp.gather(-1, new.unsqueeze(-1)).squeeze(-1)                  # [m, T]
        ended = (new == eos).long().cumsum(1)
        keep = (ended == 0) | ((ended == 1) & (new == eos))                               # up to the first end
        logps += (picked * keep).sum(1).tolist()
        for row, k in zip(new.tolist(), keep.tolist(), strict=True):
            seqs.append(tuple(t for t, kk in zip(row, k, strict=True) if kk))
        texts += tokenizer.batch_decode(new, skip_special_tokens=True)
    return texts, seqs, np.asarray(logps, dtype=np.float64)
