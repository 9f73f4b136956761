"""A small GRU SMILES language model over the ``IPS/SMILES-v0`` action space (the prior of the molecule runs).

The model reads a start token followed by the env's action ids (:data:`ips_envs.smiles.grammar.VOCAB` then
the end token) and predicts the next action: embedding (64) -> 2-layer GRU (hidden 256) -> logits over the
25 env actions, about 0.65 M parameters. It is trained on MOSES SMILES written in the env's kekulé token
language (:func:`ips_envs.smiles.to_env_smiles`), so every sequence it was trained on is a legal action
sequence of the env.

Two likelihoods are offered everywhere:

* unmasked: the plain language model, ``softmax`` over all 25 actions (what REINVENT calls the prior);
* masked: the same logits renormalised over the env's legal actions at each step (what an agent acting in
  the env with grammar masks actually samples from). :meth:`SmilesPrior.sample` with ``masks=True`` draws
  from it, using the env kernel's ``legal_actions``, so every sample is a completed, grammatical string
  (RDKit-valid in practice, see :mod:`ips_envs.smiles`).

The shipped checkpoint is ``ips_agents/data/smiles_prior.pt`` (:func:`default_prior_path`; provenance in
``ips_agents/data/README.md``). Train another one with :func:`ips_agents.molecules.prior_training.train_prior` or ``ips-rl prior train``; that
needs the MOSES data from the ``molsets`` wheel (``pip install --no-deps molsets``), which is read as a
file and never imported, and is not a runtime dependency of the library.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from torch import nn

from ips_agents.policies.masked_actor import mask_logits
from ips_envs.core.validation import check_int
from ips_envs.smiles.grammar import END_TOKEN, N_ACTIONS, VOCAB, decode, encode

FORMAT = "ips-rl-smiles-prior"
FORMAT_VERSION = 1

__all__ = [
    "PriorSamples",
    "SmilesPrior",
    "default_prior_path",
    "legal_action_masks",
    "pad_sequences",
]


def default_prior_path() -> Path:
    """Path of the prior checkpoint shipped inside the package (``ips_agents/data/smiles_prior.pt``)."""
    return Path(__file__).resolve().parent.parent / "data" / "smiles_prior.pt"


def pad_sequences(sequences: Sequence[Sequence[int]] | th.Tensor, pad: int = -1) -> th.Tensor:
    """Action-id sequences as a ``LongTensor [N, T]`` padded with ``pad`` (a tensor is returned as is)."""
    if isinstance(sequences, th.Tensor):
        if sequences.dim() != 2:
            raise ValueError(f"sequences must be a 2-D tensor [N, T], got shape {tuple(sequences.shape)}")
        return sequences.long()
    if len(sequences) == 0:
        raise ValueError("sequences is empty")
    width = max(len(s) for s in sequences)
    if width == 0:
        raise ValueError("every sequence is empty; a sequence needs at least the end token")
    out = th.full((len(sequences), width), pad, dtype=th.long)
    for i, s in enumerate(sequences):
        if len(s):
            out[i, : len(s)] = th.as_tensor(list(s), dtype=th.long)
    return out


def legal_action_masks(
    sequences: Sequence[Sequence[int]] | th.Tensor, max_length: int = 60, aromatic: bool = False,
    max_branch_depth: int = 8,
) -> th.Tensor:
    """Env legal-action masks along each sequence: bool ``[N, T, N_ACTIONS]`` (all True on padding).

    Replays the sequences through :class:`ips_envs.smiles.SMILESKernel` (``max_length`` tokens, end token
    excluded). Raises ValueError naming the first sequence with an action the masks forbid.
    """
    from ips_envs.smiles import SMILESKernel

    seqs = pad_sequences(sequences)
    n, width = seqs.shape
    kernel = SMILESKernel(max_length=max_length, aromatic=aromatic, max_branch_depth=max_branch_depth)
    state = kernel.initial_state([{}] * n)
    acts = seqs.numpy()
    out = np.ones((n, width, N_ACTIONS), dtype=bool)
    alive = np.ones(n, dtype=bool)
    for t in range(width):
        rows = np.flatnonzero(alive & (acts[:, t] >= 0))
        alive &= acts[:, t] >= 0
        if len(rows) == 0:
            break
        sub = {k: v[rows] for k, v in state.items()}
        legal = kernel.legal_actions(sub)
        a = acts[rows, t]
        ok = legal[np.arange(len(rows)), np.clip(a, 0, N_ACTIONS - 1)] & (a < N_ACTIONS)
        if not ok.all():
            bad = int(rows[np.flatnonzero(~ok)[0]])
            raise ValueError(
                f"sequence {bad} ({decode(acts[bad][acts[bad] >= 0])!r}) has action {int(acts[bad, t])} at step {t} "
                f"that the env grammar forbids (max_length={max_length}, aromatic={aromatic})"
            )
        out[rows, t] = legal
        ended = kernel.apply(sub, a)
        for k, v in sub.items():
            state[k][rows] = v
        alive[rows[ended]] = False
    return th.as_tensor(out)


@dataclass
class PriorSamples:
    """Sequences drawn by :meth:`SmilesPrior.sample`.

    ``sequences``: ``LongTensor [N, T]`` of action ids, -1 padded (a complete sequence ends with the end
    token); ``smiles``: the decoded strings; ``complete``: whether each sequence ended with the end token
    within ``max_length`` tokens; ``log_probs``: the sampling log-likelihood of each sequence (masked when
    sampled with masks); ``masks``: bool ``[N, T, A]`` legal actions when sampled with masks, else None.
    """

    sequences: th.Tensor
    smiles: list[str]
    complete: np.ndarray
    log_probs: th.Tensor
    masks: th.Tensor | None


class SmilesPrior(nn.Module):
    """GRU language model over the SMILES env's actions (input: start token + actions; output: next action).

    Args:
        embedding_dim: token embedding size (64).
        hidden_size: GRU hidden size (256).
        num_layers: stacked GRU layers (2).
        vocab: the SMILES tokens in action order; must be the env's :data:`VOCAB` for use with the env.
    """

    def __init__(
        self, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 2, vocab: Sequence[str] = VOCAB
    ) -> None:
        super().__init__()
        embedding_dim, hidden_size = check_int("embedding_dim", embedding_dim, 1), check_int("hidden_size", hidden_size, 1)
        num_layers = check_int("num_layers", num_layers, 1)
        self.vocab: tuple[str, ...] = tuple(vocab)
        if len(set(self.vocab)) != len(self.vocab) or END_TOKEN in self.vocab:
            raise ValueError(f"vocab must be distinct tokens without the end token {END_TOKEN!r}, got {self.vocab}")
        self.embedding_dim, self.hidden_size, self.num_layers = embedding_dim, hidden_size, num_layers
        self.n_actions = len(self.vocab) + 1
        self.end = len(self.vocab)
        self.bos = self.n_actions  # the start token is an input only
        self.embedding = nn.Embedding(self.n_actions + 1, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, self.n_actions)
        self.meta: dict[str, Any] = {}

    # ------------------------------------------------------------------ model
    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able)."""
        return {"embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "vocab": list(self.vocab)}

    def initial_hidden(self, n: int) -> th.Tensor:
        """Zero hidden state ``[num_layers, n, hidden_size]``."""
        p = self.head.weight
        return th.zeros(self.num_layers, n, self.hidden_size, dtype=p.dtype, device=p.device)

    def forward(self, inputs: th.Tensor, hidden: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor]:
        """Logits ``[N, T, A]`` after each input token and the last hidden state (inputs: ids in [0, A])."""
        out, h = self.gru(self.embedding(inputs), hidden)
        return self.head(out), h

    def _teacher_inputs(self, seqs: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """Inputs (start + shifted actions), targets (pad -> 0) and the valid-position mask of padded sequences."""
        valid = seqs >= 0
        if (seqs >= self.n_actions).any():
            raise ValueError(f"action ids must be in [0, {self.n_actions - 1}] (or -1 padding)")
        targets = seqs.clamp(min=0)
        start = th.full((len(seqs), 1), self.bos, dtype=th.long, device=seqs.device)
        inputs = th.cat([start, targets[:, :-1]], dim=1)
        return inputs, targets, valid

    def step_log_probs(
        self, sequences: Sequence[Sequence[int]] | th.Tensor, masks: th.Tensor | None = None
    ) -> th.Tensor:
        """Per-step log-probabilities ``[N, T]`` of the actions (0 on padding); see :meth:`log_prob`."""
        seqs = pad_sequences(sequences).to(self.head.weight.device)
        inputs, targets, valid = self._teacher_inputs(seqs)
        logits, _ = self(inputs)
        if masks is not None:
            masks = th.as_tensor(masks, dtype=th.bool, device=logits.device)
            if masks.shape != logits.shape:
                raise ValueError(
                    f"masks must have shape {tuple(logits.shape)} (N, T, actions), got {tuple(masks.shape)}"
                )
            logits = mask_logits(logits, masks)
        logp = th.log_softmax(logits, dim=-1).gather(-1, targets[..., None]).squeeze(-1)
        return th.where(valid, logp, th.zeros_like(logp))

    def log_prob(self, sequences: Sequence[Sequence[int]] | th.Tensor, masks: th.Tensor | None = None) -> th.Tensor:
        """Log-likelihood ``[N]`` of action sequences (lists, or a ``[N, T]`` tensor padded with -1).

        Sequences normally end with the end token (:func:`ips_envs.smiles.grammar.encode` adds it). With
        ``masks`` (bool ``[N, T, A]``, e.g. from :meth:`sample` or :func:`legal_action_masks`) each step's
        softmax is taken over the legal actions only: the likelihood under the env's masked policy.
        Differentiable.
        """
        return self.step_log_probs(sequences, masks).sum(dim=1)

    def nll_loss(self, sequences: Sequence[Sequence[int]] | th.Tensor) -> th.Tensor:
        """Mean next-token cross-entropy per token (the language-model training loss, unmasked)."""
        seqs = pad_sequences(sequences).to(self.head.weight.device)
        inputs, targets, valid = self._teacher_inputs(seqs)
        logits, _ = self(inputs)
        loss = nn.functional.cross_entropy(logits.reshape(-1, self.n_actions), targets.reshape(-1), reduction="none")
        return (loss * valid.reshape(-1)).sum() / valid.sum().clamp(min=1)

    # --------------------------------------------------------------- sampling
    @th.no_grad()
    def sample(
        self,
        n: int,
        max_length: int = 60,
        masks: bool = False,
        generator: th.Generator | None = None,
        temperature: float = 1.0,
        aromatic: bool = False,
        max_branch_depth: int = 8,
    ) -> PriorSamples:
        """Draw ``n`` sequences of at most ``max_length`` tokens (plus the end token).

        ``masks=True`` restricts every step to the legal actions of :class:`ips_envs.smiles.SMILESKernel`
        (``max_length``, ``aromatic``, ``max_branch_depth`` as in the env), so every sample is a completed
        grammatical string, exactly what a policy acting in ``IPS/SMILES-v0`` with these logits would
        write. Without masks, sequences that do not emit the end token within ``max_length`` tokens are
        returned with ``complete=False``.
        """
        n, max_length = check_int("n", n, 1), check_int("max_length", max_length, 1)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if masks and self.vocab != VOCAB:
            raise ValueError("masked sampling needs a prior over the env vocabulary ips_envs.smiles.grammar.VOCAB")
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        kernel = state = None
        if masks:
            from ips_envs.smiles import SMILESKernel

            kernel = SMILESKernel(max_length=max_length, aromatic=aromatic, max_branch_depth=max_branch_depth)
            state = kernel.initial_state([{}] * n)
        width = max_length + 1
        seqs = th.full((n, width), -1, dtype=th.long)
        logps = th.zeros(n)
        all_masks = th.ones((n, width, self.n_actions), dtype=th.bool) if masks else None
        alive = np.ones(n, dtype=bool)
        hidden = self.initial_hidden(n)
        token = th.full((n,), self.bos, dtype=th.long, device=device)
        for t in range(width):
            rows = np.flatnonzero(alive)
            if len(rows) == 0:
                break
            rows_t = th.as_tensor(rows, device=device)
            logits, h = self(token[rows_t][:, None], hidden[:, rows_t])
            hidden[:, rows_t] = h
            logits = logits[:, 0] / temperature
            if kernel is not None:
                sub = {k: v[rows] for k, v in state.items()}
                legal = th.as_tensor(kernel.legal_actions(sub), device=device)
                all_masks[rows, t] = legal.cpu()
                logits = mask_logits(logits, legal)
            logp = th.log_softmax(logits.float(), dim=-1)
            action = th.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
            if kernel is None and t == width - 1:
                # the slot after max_length tokens holds only the end token: rows that draw anything else
                # stay incomplete (truncated) and their last draw is not recorded
                hit = action == self.end
                rows, rows_t, action, logp = rows[hit.cpu().numpy()], rows_t[hit], action[hit], logp[hit]
                if len(rows) == 0:
                    break
            seqs[rows, t] = action.cpu()
            logps[rows] += logp.gather(1, action[:, None]).squeeze(1).cpu()
            token[rows_t] = action
            a = action.cpu().numpy()
            if kernel is not None:
                ended = kernel.apply(sub, a)
                for k, v in sub.items():
                    state[k][rows] = v
            else:
                ended = a == self.end
            alive[rows[ended]] = False
        if was_training:
            self.train()
        complete = (seqs == self.end).any(dim=1).numpy()
        smiles = [self.decode(s) for s in seqs.tolist()]
        return PriorSamples(seqs, smiles, complete, logps, all_masks)

    def decode(self, actions: Sequence[int]) -> str:
        """SMILES string of action ids (stops at the end token or at -1 padding)."""
        out = []
        for a in actions:
            a = int(a)
            if a < 0 or a == self.end:
                break
            out.append(self.vocab[a])
        return "".join(out)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint atomically: ``{format, version, config, vocab, end_token, state_dict, meta}``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "config": {k: v for k, v in self.config.items() if k != "vocab"},
            "vocab": list(self.vocab),
            "end_token": END_TOKEN,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
            "meta": dict(meta or {}),
        }
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            th.save(payload, tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, map_location: str | th.device = "cpu") -> SmilesPrior:
        """Load a checkpoint written by :meth:`save` (``None``: the packaged prior); metadata in ``.meta``."""
        path = default_prior_path() if path is None else Path(path)
        if not path.exists():
            hint = " (the packaged prior is missing from this install; train one with `ips-rl prior train`)" \
                if path == default_prior_path() else ""
            raise FileNotFoundError(f"prior checkpoint {str(path)!r} does not exist{hint}")
        payload = th.load(path, map_location=map_location, weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{str(path)!r} is not an ips-rl SMILES prior checkpoint (format {FORMAT!r})")
        if payload.get("version") != FORMAT_VERSION:
            raise ValueError(f"{str(path)!r} has checkpoint version {payload.get('version')!r}; "
                             f"this library reads version {FORMAT_VERSION}")
        model = cls(**payload["config"], vocab=payload["vocab"])
        model.load_state_dict(payload["state_dict"])
        model.meta = dict(payload.get("meta", {}))
        return model.to(map_location)
