"""The GRU SMILES prior, its training loop, its CLI and the SmilesPriorPolicy (no molsets needed)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch as th

from ips_agents.molecules.prior import SmilesPrior, default_prior_path, legal_action_masks
from ips_agents.molecules.prior_training import encode_for_env, fit, moses_train_path, train_prior, validity
from ips_envs.smiles import to_env_smiles
from ips_envs.smiles.grammar import END, N_ACTIONS, VOCAB, encode, tokenize

SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1CCC[C@H]1c1cccnc1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "O=C(O)c1ccccc1O",
    "CCOC(=O)c1ccc(N)cc1",
    "Clc1ccc(Cl)cc1",
    "CC1=CC(=O)C=CC1=O",
    "NC(=O)c1cccnc1",
]
TINY = {"embedding_dim": 8, "hidden_size": 32, "num_layers": 2}


@pytest.fixture
def tiny_prior() -> SmilesPrior:
    th.manual_seed(0)
    return SmilesPrior(**TINY)


def _sequences() -> list[list[int]]:
    return [encode(to_env_smiles(s)) for s in SMILES]


def test_architecture_size_and_vocab():
    model = SmilesPrior()
    n = sum(p.numel() for p in model.parameters())
    assert 600_000 < n < 700_000
    assert model.n_actions == N_ACTIONS and model.end == END and model.vocab == VOCAB
    with pytest.raises(ValueError, match="hidden_size"):
        SmilesPrior(hidden_size=0)


def test_save_load_round_trip(tiny_prior, tmp_path):
    path = tiny_prior.save(tmp_path / "sub" / "p.pt", meta={"seed": 3})
    assert [p.name for p in path.parent.iterdir()] == ["p.pt"]  # atomic write leaves no temporary file
    loaded = SmilesPrior.load(path)
    assert loaded.config == tiny_prior.config and loaded.meta == {"seed": 3}
    for k, v in tiny_prior.state_dict().items():
        assert th.equal(v, loaded.state_dict()[k])
    seqs = _sequences()
    assert th.allclose(tiny_prior.log_prob(seqs), loaded.log_prob(seqs))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SmilesPrior.load(tmp_path / "missing.pt")
    th.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an ips-rl SMILES prior"):
        SmilesPrior.load(tmp_path / "other.pt")


def test_log_prob_matches_sampling_and_masks(tiny_prior):
    gen = th.Generator().manual_seed(0)
    out = tiny_prior.sample(20, max_length=30, masks=True, generator=gen)
    assert th.allclose(tiny_prior.log_prob(out.sequences, out.masks), out.log_probs, atol=1e-4)
    assert th.equal(legal_action_masks(out.sequences, max_length=30), out.masks)
    unmasked = tiny_prior.sample(20, max_length=30, generator=gen)
    assert unmasked.masks is None
    done = th.as_tensor(unmasked.complete)
    assert th.allclose(tiny_prior.log_prob(unmasked.sequences)[done], unmasked.log_probs[done], atol=1e-4)
    # masked likelihoods are >= unmasked ones (renormalised over fewer actions)
    assert (tiny_prior.log_prob(out.sequences, out.masks) >= tiny_prior.log_prob(out.sequences) - 1e-5).all()


def test_unmasked_sampling_respects_max_length(tiny_prior):
    out = tiny_prior.sample(200, max_length=3, generator=th.Generator().manual_seed(2))
    lengths = (out.sequences >= 0).sum(dim=1)
    assert out.sequences.shape == (200, 4)
    assert (lengths <= 4).all() and all(len(tokenize(s)) <= 3 for s in out.smiles)
    complete = th.as_tensor(out.complete)
    assert (out.sequences[lengths == 4, 3] == END).all()  # a 4th entry is always the end token
    assert not complete.all() and complete.any()
    assert (lengths[~complete] == 3).all()  # truncated rows hold exactly max_length tokens


def test_masked_sampling_is_always_valid(tiny_prior):
    out = tiny_prior.sample(300, max_length=60, masks=True, generator=th.Generator().manual_seed(1))
    assert out.complete.all()
    assert validity(out.smiles) == 1.0
    assert all(s.split()[0] for s in out.smiles)


def test_legal_action_masks_rejects_ungrammatical():
    with pytest.raises(ValueError, match="forbids"):
        legal_action_masks([encode("C)C")])


def test_training_lowers_the_loss(tiny_prior):
    seqs, dropped = encode_for_env(SMILES + ["not a smiles"])
    assert dropped == 1 and len(seqs) == len(SMILES)
    before = tiny_prior.nll_loss(seqs).item()
    stats = fit(tiny_prior, seqs, steps=60, batch_size=4, lr=1e-2, seed=0, progress=False)
    after = tiny_prior.nll_loss(seqs).item()
    assert stats["steps"] == 60
    assert after < 0.7 * before


def test_train_prior_on_custom_smiles(tmp_path):
    th.manual_seed(0)
    meta = train_prior(tmp_path / "p.pt", smiles=SMILES, minutes=None, epochs=2, batch_size=4, n_validity=20,
                       progress=False)
    assert meta["steps"] == 4 and meta["n_sequences"] == len(SMILES)
    assert 0.0 <= meta["validity_unmasked"] <= 1.0 and meta["validity_masked"] == 1.0
    assert SmilesPrior.load(tmp_path / "p.pt").meta["steps"] == 4
    with pytest.raises(ValueError, match="never stops"):
        train_prior(tmp_path / "q.pt", smiles=SMILES, minutes=None, epochs=None)


def test_missing_molsets_error_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moses" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps molsets"):
        moses_train_path()


def test_prior_cli_sample(tiny_prior, tmp_path, capsys):
    from ips_agents.cli.prior import add_prior_parser, run_prior

    path = tiny_prior.save(tmp_path / "p.pt")
    parser = argparse.ArgumentParser(prog="ips-rl")
    add_prior_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prior", "sample", "--path", str(path), "--n", "5", "--masked", "--max-length", "20"])
    assert run_prior(args) == 0
    assert "validity: 100.0% (masked)" in capsys.readouterr().out
    args = parser.parse_args(["prior", "train", "--out", str(tmp_path / "x.pt"), "--minutes", "0"])
    with pytest.raises(SystemExit, match="never stops"):
        run_prior(args)


@pytest.mark.skipif(not default_prior_path().exists(), reason="packaged prior not built")
def test_packaged_prior_loads_and_is_small():
    assert default_prior_path().stat().st_size <= 5 * 2**20
    prior = SmilesPrior.load()
    assert prior.vocab == VOCAB
    assert prior.meta.get("validity_unmasked", 0) > 0.5
    out = prior.sample(50, masks=True, generator=th.Generator().manual_seed(0))
    assert validity(out.smiles) == 1.0


# ------------------------------------------------------------------------------------------- the policy
def _policy_model(tmp_path: Path, **kwargs):
    from stable_baselines3.common.logger import Logger

    from ips_agents import IPSGRPO
    from ips_agents.molecules import SmilesPriorPolicy

    th.manual_seed(0)
    path = SmilesPrior(**TINY).save(tmp_path / "tiny.pt")
    model = IPSGRPO(SmilesPriorPolicy, "IPS/SMILES-v0", group_size=4, n_groups=2, learning_rate=1e-3, seed=0,
                    policy_kwargs={"prior_path": str(path)}, env_kwargs={"max_length": 20, "oracle": "qed"},
                    **kwargs)
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model, path


def test_policy_is_the_prior_and_caches_consistently(tmp_path):
    model, path = _policy_model(tmp_path)
    prior = SmilesPrior.load(path)
    batch = model.collect_batch()
    seqs = [batch.actions[batch.traj == i].tolist() for i in range(batch.n_trajectories)]
    masks = legal_action_masks(seqs, max_length=20)
    with th.no_grad():
        expected = prior.log_prob(seqs, masks).numpy()
    np.testing.assert_allclose(batch.traj_log_probs, expected, atol=1e-4)
    obs = model.policy.obs_to_tensor(batch.obs)[0]
    with_grad = model.policy.logits(obs)
    with th.no_grad():
        cached = model.policy.logits(obs)
        model.policy.clear_cache()
        fresh = model.policy.logits(obs)
    assert th.allclose(with_grad, cached, atol=1e-5) and th.allclose(with_grad, fresh, atol=1e-5)
    with th.no_grad():
        probs = model.policy.action_probs(obs, batch.masks)
    assert float(probs[~th.as_tensor(batch.masks)].abs().max()) == 0.0
    action, _ = model.predict(batch.obs[0], action_masks=batch.masks[0])
    assert batch.masks[0][int(action)]


def test_policy_trains_in_ipsgrpo_and_saves(tmp_path):
    from ips_agents import IPSGRPO

    model, _ = _policy_model(tmp_path, kl_coef=0.1)
    batch = model.collect_batch()
    stats = model.train_on_batch(batch)
    assert stats["kl"] == pytest.approx(0.0, abs=1e-6)  # first update: policy == reference (the prior)
    model.learn(300)
    assert model.num_timesteps >= 300
    obs = model.policy.obs_to_tensor(batch.obs)[0]
    with th.no_grad():
        moved = (model.policy.logits(obs) - model.ref_policy.logits(obs)).abs().max().item()
    assert moved > 0  # the policy was updated, the reference stayed
    model.save(tmp_path / "m.zip")
    loaded = IPSGRPO.load(tmp_path / "m.zip")
    with th.no_grad():
        assert th.allclose(loaded.policy.logits(obs), model.policy.logits(obs), atol=1e-6)
    model.policy.save(tmp_path / "pol.pt")
    from ips_agents.molecules import SmilesPriorPolicy

    pol = SmilesPriorPolicy.load(tmp_path / "pol.pt")
    with th.no_grad():
        assert th.allclose(pol.logits(obs), model.policy.logits(obs), atol=1e-6)


def test_policy_rejects_other_envs(tmp_path):
    from gymnasium import spaces

    from ips_agents.molecules import SmilesPriorPolicy

    path = SmilesPrior(**TINY).save(tmp_path / "tiny.pt")
    with pytest.raises(ValueError, match="Discrete"):
        SmilesPriorPolicy(spaces.Box(0, 1, (126,)), spaces.Discrete(3), lambda _: 1e-3, prior_path=path)
    with pytest.raises(ValueError, match="max_length"):
        SmilesPriorPolicy(spaces.Box(0, 1, (10,)), spaces.Discrete(N_ACTIONS), lambda _: 1e-3, prior_path=path)
