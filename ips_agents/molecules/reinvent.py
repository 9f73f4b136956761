"""A REINVENT-style baseline (Olivecrona et al. 2017; REINVENT4 defaults) on the ``IPS/SMILES-v0`` action space.

Per step (REINVENT4 "staged learning" with its defaults, sources in ``shared/reference/molecules.md``):

1. the agent (initialised from the prior) samples ``batch_size`` = 64 token sequences; duplicate sequences
   are dropped (REINVENT4's ``unique_sequences``);
2. each valid molecule is scored by the budgeted :class:`ips_envs.smiles.Oracle` (PMO/Saturn accounting:
   only new valid canonical molecules cost a call, invalid strings score 0 for free);
3. the identical-Murcko-scaffold diversity filter (:class:`DiversityFilter`: bucket 25, minscore 0.4)
   zeroes the score of repeated molecules and of molecules whose scaffold bucket is full;
4. the "DAP" loss ``(log p_prior(x) + sigma * S(x) - log p_agent(x))^2`` (sigma 128) is averaged over the
   batch and ``replay_size`` = 10 entries drawn from a top-``memory_size`` = 50 replay memory (REINVENT4's
   inception memory), and one Adam step (lr 1e-4) is taken.

The run stops when the oracle budget is spent; the oracle history (raw, unpenalised rewards) is the result.

Difference from REINVENT4, on purpose: sampling uses the env's grammar masks (the kernel's
``legal_actions``), and both likelihoods are the masked ones (softmax over the legal actions at each step),
i.e. the agent is a policy over exactly the action space IPS-GRPO acts in, with the same prior and the
same oracle accounting, so the two methods differ only in their objective. REINVENT4 samples unmasked
and lets invalid SMILES score 0; with masks every sample is valid, so REINVENT here wastes no samples on
invalid strings (this favours it, if anything). No SMILES randomisation (REINVENT4's ``randomize_smiles``)
and no augmented memory.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th

from ips_agents.molecules.prior import SmilesPrior
from ips_envs.core.validation import check_int
from ips_envs.smiles.oracle import Oracle, OracleBudgetExhausted, OracleCall
from ips_envs.smiles.scoring import ScoreFn, canonical_smiles

__all__ = ["DiversityFilter", "ReplayMemory", "Reinvent", "dap_loss", "murcko_scaffold"]


def murcko_scaffold(smiles: str, generic: bool = False) -> str | None:
    """Canonical Bemis-Murcko scaffold SMILES ("" for acyclic molecules); None for an invalid SMILES.

    ``generic=True`` also applies ``MakeScaffoldGeneric`` (REINVENT4's topological variant).
    """
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    from ips_envs.smiles.scoring import mol_from_smiles

    mol = mol_from_smiles(smiles)
    if mol is None:
        return None
    scaffold = MurckoScaffold.GetScaffoldForMol(mol)
    if generic:
        scaffold = MurckoScaffold.MakeScaffoldGeneric(scaffold)
    return Chem.MolToSmiles(scaffold)


class DiversityFilter:
    """REINVENT4's identical-Murcko-scaffold diversity filter.

    For each valid molecule, in order: if its SMILES is already in the memory its score becomes 0;
    otherwise, if the score is ``>= minscore``, the molecule is remembered and its scaffold's bucket
    count is incremented, and when that count then exceeds ``bucket_size`` the score becomes 0.
    Invalid molecules (``None``) score 0.

    Args:
        bucket_size: molecules per scaffold that keep their score (25).
        minscore: scores below this pass unchanged and are not remembered (0.4).
        generic: use generic (topological) scaffolds.
    """

    def __init__(self, bucket_size: int = 25, minscore: float = 0.4, generic: bool = False) -> None:
        bucket_size = check_int("bucket_size", bucket_size, 1)
        if not 0.0 <= float(minscore) <= 1.0:
            raise ValueError(f"minscore must be in [0, 1], got {minscore!r}")
        self.bucket_size = bucket_size
        self.minscore = float(minscore)
        self.generic = bool(generic)
        self.smiles_memory: set[str] = set()
        self.buckets: dict[str, int] = {}

    def __call__(self, smiles: Sequence[str | None], scores: Sequence[float]) -> np.ndarray:
        """Penalised scores of canonical ``smiles`` (None = invalid) with raw ``scores``; updates the memory."""
        if len(smiles) != len(scores):
            raise ValueError(f"got {len(smiles)} SMILES and {len(scores)} scores")
        out = np.asarray(scores, dtype=np.float64).copy()
        for i, s in enumerate(smiles):
            if s is None:
                out[i] = 0.0
                continue
            if s in self.smiles_memory:
                out[i] = 0.0
                continue
            if out[i] >= self.minscore:
                scaffold = murcko_scaffold(s, self.generic)
                key = "" if scaffold is None else scaffold
                self.smiles_memory.add(s)
                self.buckets[key] = self.buckets.get(key, 0) + 1
                if self.buckets[key] > self.bucket_size:
                    out[i] = 0.0
        return out


@dataclass
class _Entry:
    smiles: str
    score: float
    sequence: list[int]
    masks: th.Tensor  # [T, A] legal actions along the sequence
    prior_log_prob: float


class ReplayMemory:
    """Top-``size`` unique molecules by (penalised) score, with their sequences, masks and prior log-likelihoods
    (REINVENT4's inception memory). Zero scores are not stored."""

    def __init__(self, size: int = 50) -> None:
        self.size = check_int("memory size", size, 0)
        self.entries: list[_Entry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, smiles: Sequence[str | None], scores: Sequence[float], sequences: Sequence[Sequence[int]],
            masks: th.Tensor, prior_log_probs: Sequence[float]) -> None:
        """Offer a batch; keeps the best ``size`` unique SMILES."""
        if self.size == 0:
            return
        known = {e.smiles for e in self.entries}
        for i, s in enumerate(smiles):
            if s is None or s in known or not scores[i] > 0:
                continue
            seq = [int(a) for a in sequences[i] if a >= 0]
            entry = _Entry(s, float(scores[i]), seq, masks[i, : len(seq)].clone(), float(prior_log_probs[i]))
            self.entries.append(entry)
            known.add(s)
        self.entries.sort(key=lambda e: -e.score)
        del self.entries[self.size :]

    def sample(self, n: int, rng: np.random.Generator) -> list[_Entry]:
        """Up to ``n`` entries drawn without replacement."""
        if n <= 0 or not self.entries:
            return []
        idx = rng.choice(len(self.entries), size=min(n, len(self.entries)), replace=False)
        return [self.entries[i] for i in idx]


def dap_loss(agent_log_probs: th.Tensor, prior_log_probs: th.Tensor, scores: th.Tensor, sigma: float) -> th.Tensor:
    """REINVENT's DAP loss: mean of ``(log p_prior + sigma * score - log p_agent)^2`` (prior and scores detached)."""
    if not (agent_log_probs.shape == prior_log_probs.shape == scores.shape):
        raise ValueError(
            f"shapes differ: agent {tuple(agent_log_probs.shape)}, prior {tuple(prior_log_probs.shape)}, "
            f"scores {tuple(scores.shape)}"
        )
    augmented = prior_log_probs.detach() + sigma * scores.detach()
    return ((augmented - agent_log_probs) ** 2).mean()


def _pad_masks(masks: Sequence[th.Tensor], width: int, n_actions: int) -> th.Tensor:
    out = th.ones((len(masks), width, n_actions), dtype=th.bool)
    for i, m in enumerate(masks):
        out[i, : len(m)] = m
    return out


class Reinvent:
    """REINVENT baseline: agent initialised from the prior, DAP loss, diversity filter, replay memory.

    Args:
        oracle: a registered oracle name, a callable SMILES -> [0, 1], or an :class:`Oracle` (its cache,
            counter and history are used; share it to compare methods under one accounting).
        prior: a :class:`SmilesPrior`, a checkpoint path, or None (the packaged prior). It stays frozen;
            the agent is a copy.
        sigma: score multiplier in the augmented likelihood (REINVENT4: 128).
        learning_rate: Adam learning rate (1e-4).
        batch_size: sequences sampled per step (64).
        diversity_filter: a :class:`DiversityFilter` (default: bucket 25, minscore 0.4), or None to disable.
        memory_size / replay_size: replay memory capacity (50) and entries replayed per step (10; 0 disables).
        max_length: token limit (the env's ``max_length``, 60).
        seed: seeds sampling and replay.
    """

    def __init__(
        self,
        oracle: str | ScoreFn | Oracle = "drug_mpo",
        prior: SmilesPrior | str | os.PathLike[str] | None = None,
        sigma: float = 128.0,
        learning_rate: float = 1e-4,
        batch_size: int = 64,
        diversity_filter: DiversityFilter | None | str = "default",
        memory_size: int = 50,
        replay_size: int = 10,
        max_length: int = 60,
        seed: int = 0,
    ) -> None:
        if not float(sigma) >= 0:
            raise ValueError(f"sigma must be >= 0, got {sigma!r}")
        if not float(learning_rate) > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        batch_size, max_length = check_int("batch_size", batch_size, 1), check_int("max_length", max_length, 1)
        replay_size = check_int("replay_size", replay_size, 0)
        self.oracle = oracle if isinstance(oracle, Oracle) else Oracle(oracle)
        if isinstance(prior, SmilesPrior):
            self.prior = prior
        else:
            self.prior = SmilesPrior.load(prior)
        self.prior.requires_grad_(False)
        self.prior.eval()
        self.agent = copy.deepcopy(self.prior)
        self.agent.requires_grad_(True)
        self.sigma = float(sigma)
        self.batch_size = batch_size
        self.max_length = max_length
        if diversity_filter == "default":
            diversity_filter = DiversityFilter()
        if diversity_filter is not None and not isinstance(diversity_filter, DiversityFilter):
            raise ValueError(f"diversity_filter must be a DiversityFilter, None or 'default', got {diversity_filter!r}")
        self.diversity_filter = diversity_filter
        self.memory = ReplayMemory(memory_size)
        self.replay_size = replay_size
        self.optimizer = th.optim.Adam(self.agent.parameters(), lr=float(learning_rate))
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.generator = th.Generator().manual_seed(seed)
        th.manual_seed(seed)
        self.n_steps = 0
        self.n_sampled = 0

    def score(self, smiles: Sequence[str]) -> tuple[list[str | None], np.ndarray]:
        """Canonical SMILES (None if invalid) and raw oracle rewards; raises OracleBudgetExhausted."""
        canon = [canonical_smiles(s) for s in smiles]
        scores = np.array([0.0 if c is None else self.oracle.score_canonical(c) for c in canon])
        return canon, scores

    def step(self) -> dict[str, float]:
        """Sample, score, filter and take one DAP gradient step; returns statistics.

        Raises :class:`OracleBudgetExhausted` (before any update) when the batch needs a new oracle call
        after the budget is spent; molecules scored before that stay in the oracle history.
        """
        samples = self.agent.sample(self.batch_size, max_length=self.max_length, masks=True, generator=self.generator)
        self.n_sampled += self.batch_size
        seqs = samples.sequences
        _, first = np.unique(seqs.numpy(), axis=0, return_index=True)  # unique sequences
        keep = np.sort(first)
        seqs, masks = seqs[keep], samples.masks[keep]  # type: ignore[index]
        smiles = [samples.smiles[i] for i in keep]
        canon, raw = self.score(smiles)
        scores = raw if self.diversity_filter is None else self.diversity_filter(canon, raw)
        with th.no_grad():
            prior_lp = self.prior.log_prob(seqs, masks)
        agent_lp = self.agent.log_prob(seqs, masks)
        all_agent, all_prior, all_scores = [agent_lp], [prior_lp], [th.as_tensor(scores, dtype=th.float32)]
        replayed = self.memory.sample(self.replay_size, self.rng)
        if replayed:
            width = max(len(e.sequence) for e in replayed)
            rseq = th.full((len(replayed), width), -1, dtype=th.long)
            for i, e in enumerate(replayed):
                rseq[i, : len(e.sequence)] = th.as_tensor(e.sequence)
            rmask = _pad_masks([e.masks for e in replayed], width, self.agent.n_actions)
            all_agent.append(self.agent.log_prob(rseq, rmask))
            all_prior.append(th.tensor([e.prior_log_prob for e in replayed]))
            all_scores.append(th.tensor([e.score for e in replayed], dtype=th.float32))
        loss = dap_loss(th.cat(all_agent), th.cat(all_prior), th.cat(all_scores), self.sigma)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.memory.add(canon, scores, seqs.tolist(), masks, prior_lp.tolist())
        self.n_steps += 1
        return {
            "loss": float(loss.item()),
            "score_mean": float(raw.mean()),
            "penalised_mean": float(scores.mean()),
            "valid_fraction": float(np.mean([c is not None for c in canon])),
            "unique_sequences": float(len(keep)),
            "agent_log_prob": float(agent_lp.mean().item()),
            "prior_log_prob": float(prior_lp.mean().item()),
            "oracle_calls": float(self.oracle.calls),
        }

    def run(self, oracle_budget: int | None = None, max_steps: int | None = None, progress: bool = False,
            log_every: int = 0) -> list[OracleCall]:
        """Train until the oracle budget is spent (or ``max_steps``); return the oracle history.

        ``oracle_budget`` sets the oracle's budget (total calls, including calls already made); None keeps
        the oracle's own budget, and then at least one limit must exist.
        """
        if oracle_budget is not None:
            self.oracle.budget = check_int("oracle_budget", oracle_budget, 1)
        if self.oracle.budget is None and max_steps is None:
            raise ValueError("give oracle_budget (or an Oracle with a budget) or max_steps, otherwise run never stops")
        bar = None
        if progress and self.oracle.budget is not None:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.oracle.budget, initial=self.oracle.calls, unit="call", desc="REINVENT")
        steps = 0
        try:
            while not self.oracle.exhausted and (max_steps is None or steps < max_steps):
                try:
                    stats = self.step()
                except OracleBudgetExhausted:
                    break
                steps += 1
                if bar is not None:
                    bar.n = self.oracle.calls
                    bar.set_postfix(score=f"{stats['score_mean']:.3f}")
                    bar.refresh()
                if log_every and steps % log_every == 0:
                    print(f"step {steps}: " + ", ".join(f"{k} {v:.3g}" for k, v in stats.items()), flush=True)
        finally:
            if bar is not None:
                bar.close()
        return self.oracle.history

    def state(self) -> dict[str, Any]:
        """Counters for reporting."""
        return {"steps": self.n_steps, "sampled": self.n_sampled, "oracle_calls": self.oracle.calls,
                "memory": len(self.memory)}
