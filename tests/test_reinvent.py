"""The REINVENT baseline: DAP loss, diversity filter, replay memory and oracle accounting (no molsets needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

from ips_agents.molecules.prior import SmilesPrior
from ips_agents.molecules.reinvent import DiversityFilter, ReplayMemory, Reinvent, dap_loss, murcko_scaffold
from ips_envs.smiles.oracle import Oracle
from tests.test_prior import TINY



def _tiny() -> SmilesPrior:
    th.manual_seed(0)
    return SmilesPrior(**TINY)


def test_dap_loss_hand_made():
    agent = th.tensor([-10.0, -20.0], requires_grad=True)
    prior = th.tensor([-12.0, -18.0])
    scores = th.tensor([0.5, 0.0])
    loss = dap_loss(agent, prior, scores, sigma=2.0)
    # augmented = [-12 + 1, -18] = [-11, -18]; residuals [-1, 2] -> mean(1, 4) = 2.5
    assert loss.item() == pytest.approx(2.5)
    loss.backward()
    # d/d agent of mean((aug - agent)^2) = -(aug - agent) = [1, -2]
    assert agent.grad.tolist() == pytest.approx([1.0, -2.0])
    with pytest.raises(ValueError, match="shapes differ"):
        dap_loss(agent, prior[:1], scores, 1.0)


def test_murcko_scaffold():
    assert murcko_scaffold("CCc1ccccc1") == "c1ccccc1"
    assert murcko_scaffold("CCO") == ""
    assert murcko_scaffold("not smiles") is None


def test_diversity_filter_hand_made_scaffolds():
    df = DiversityFilter(bucket_size=2, minscore=0.4)
    smiles = ["Cc1ccccc1", "CCc1ccccc1", "CCCc1ccccc1", "Cc1ccccc1", "OCc1ccccc1", "CC1CCCCC1", None]
    scores = [0.9, 0.8, 0.7, 0.9, 0.3, 0.5, 0.9]
    out = df(smiles, scores)
    # benzene bucket: 2 kept, the 3rd is over the bucket; the repeat scores 0; the 0.3 one passes unchanged and
    # is not counted; cyclohexane is another scaffold; invalid is 0
    assert out.tolist() == pytest.approx([0.9, 0.8, 0.0, 0.0, 0.3, 0.5, 0.0])
    assert df.buckets == {"c1ccccc1": 3, "C1CCCCC1": 1}
    assert "OCc1ccccc1" not in df.smiles_memory
    # a later batch: the benzene bucket stays full, the low scorer now above minscore counts and is zeroed
    assert df(["OCc1ccccc1", "CC1CCCCC1"], [0.6, 0.9]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="bucket_size"):
        DiversityFilter(bucket_size=0)
    with pytest.raises(ValueError, match="2 SMILES and 1 scores"):
        df(["C", "CC"], [0.1])


def test_replay_memory_keeps_top_unique():
    mem = ReplayMemory(size=2)
    masks = th.ones((4, 3, 25), dtype=th.bool)
    seqs = [[0, 24, -1], [0, 0, 24], [1, 24, -1], [2, 24, -1]]
    mem.add(["C", "CC", "N", "O"], [0.5, 0.9, 0.0, 0.7], seqs, masks, [-1.0, -2.0, -3.0, -4.0])
    assert [e.smiles for e in mem.entries] == ["CC", "O"]
    mem.add(["CC", "S"], [0.95, 0.8], seqs[:2], masks[:2], [-1.0, -1.0])  # CC already stored: kept once
    assert [e.smiles for e in mem.entries] == ["CC", "S"]
    assert mem.entries[1].sequence == [0, 0, 24]
    assert len(mem.sample(5, np.random.default_rng(0))) == 2


def test_reinvent_respects_the_oracle_budget():
    oracle = Oracle("qed", budget=50)
    agent = Reinvent(oracle, prior=_tiny(), batch_size=16, max_length=20, seed=0)
    history = agent.run()
    assert oracle.calls == 50 and oracle.exhausted
    assert len(history) == 50 and [h.call for h in history] == list(range(1, 51))
    assert agent.n_steps >= 3 and len(agent.memory) > 0
    # the prior is frozen, the agent moved
    assert not all(p.requires_grad for p in agent.prior.parameters())
    diff = sum((a - b).abs().sum().item() for a, b in zip(agent.agent.parameters(), agent.prior.parameters()))
    assert diff > 0
    # run() with a larger budget continues from the same oracle
    agent.run(oracle_budget=70)
    assert oracle.calls == 70
    with pytest.raises(ValueError, match="oracle_budget"):
        agent.run(oracle_budget=0)


def test_reinvent_step_statistics_and_sigma_zero_keeps_the_prior():
    agent = Reinvent("qed", prior=_tiny(), sigma=0.0, batch_size=8, max_length=15, replay_size=0, seed=1)
    stats = agent.step()
    assert stats["valid_fraction"] == 1.0  # masked sampling
    # with sigma 0 and agent == prior, the DAP loss is exactly 0 at the first step
    assert stats["loss"] == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="never stops"):
        agent.run()


def test_grpo_benchmark_loop_respects_the_budget(tmp_path, monkeypatch):
    """The benchmark's IPS-GRPO loop stops when the oracle is spent (a tiny prior stands in for the packaged one)."""
    import ips_agents.molecules.policy as sp
    from benchmarks.molecules import run_grpo

    path = _tiny().save(tmp_path / "tiny.pt")
    real_load = SmilesPrior.load
    monkeypatch.setattr(sp.SmilesPrior, "load", classmethod(lambda cls, p=None, **k: real_load(path)))
    oracle = Oracle("qed", budget=150)
    info = run_grpo(oracle, seed=0, ips_alpha=1.0, max_batches=50)
    assert oracle.calls == 150 and len(oracle.history) == 150
    assert 1 <= info["updates"] < 50 and info["stop"] == "budget"
