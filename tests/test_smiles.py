"""IPS/SMILES-v0: vocabulary, grammar masks (completability, validity), outcomes, rewards, faces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

import ips_envs  # noqa: F401  (registers the ids)
import ips_envs.smiles.grammar as G
from ips_envs.smiles.oracle import Oracle, OracleBudgetExhausted
from ips_envs.smiles import INVALID_PREFIX, SMILESKernel, to_env_smiles
from ips_envs.smiles.grammar import END, TOKEN_ID, VOCAB, decode, encode, first_illegal, tokenize
from ips_envs.smiles.scoring import CELECOXIB, MESTRANOL, OSIMERTINIB, TROGLITAZONE

DRUGS = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    CELECOXIB,
    TROGLITAZONE,
    OSIMERTINIB,
    MESTRANOL,
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",  # caffeine
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",  # albuterol
    "O=C1N(CCO)C2=CCCCC23C2=C(CCN13)C1=CC=CC=C1N2",  # spiro: ring closed and opened on one atom
    "C12CCC(CC1)CC2",  # bicyclo[2.2.2]octane: two rings opened on one atom
    "Cc1cc(NC(=O)c2nn(C)c3c2COc2ccccc2-3)no1",  # aromatic ring closure with '-'
    "N#CC1=CC=CC=C1Br",
    "[H]N=C1SC=CN1",
]


def _canonical_no_stereo(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles), isomericSmiles=False)


def _step_string(env, smiles: str):
    _, info = env.reset(seed=0)
    out = None
    for a in encode(smiles):
        prefix = env.unwrapped.kernel.smiles(env.unwrapped._state)[0]
        assert info["action_mask"][a], f"{decode([a])!r} masked after {prefix!r}"
        out = env.step(a)
        info = out[4]
    return out


# ------------------------------------------------------------------------------------------ vocabulary
def test_vocabulary_is_the_moses_token_set_with_end_last():
    assert len(VOCAB) == 24 and sorted(VOCAB) == sorted(G.MOSES_TOKENS)
    env = gym.make("IPS/SMILES-v0")
    assert env.action_space.n == 25 and G.END == 24
    assert tokenize("CC(=O)N1CCC[nH]1Cl") == ["C", "C", "(", "=", "O", ")", "N", "1", "C", "C", "C", "[nH]", "1", "Cl"]
    assert decode(encode("ClC1=CC=CC=C1Br")) == "ClC1=CC=CC=C1Br"
    with pytest.raises(ValueError, match=r"\[C@H\].*outside the vocabulary"):
        tokenize("C[C@H](N)O")
    with pytest.raises(ValueError, match="does not parse"):
        to_env_smiles("C1CC")


@pytest.mark.parametrize("aromatic", [False, True])
def test_real_molecules_are_writable_and_give_their_canonical_smiles(aromatic):
    env = gym.make("IPS/SMILES-v0", max_length=100, aromatic=aromatic, oracle=lambda s: 1.0)
    written = [to_env_smiles(s, aromatic=aromatic) for s in DRUGS]
    assert (first_illegal([encode(s) for s in written], 100, aromatic) == -1).all()
    for original, s in zip(DRUGS, written, strict=True):
        _, reward, terminated, _, info = _step_string(env, s)
        assert terminated and info["valid"] and reward == 1.0
        assert info["outcome"] == _canonical_no_stereo(original)


def test_kekule_mode_masks_aromatic_tokens_and_single_bond_symbol():
    env = gym.make("IPS/SMILES-v0")
    _, info = env.reset(seed=0)
    legal = {VOCAB[a] for a in np.flatnonzero(info["action_mask"])}
    assert legal == {"C", "N", "O", "S", "F", "Cl", "Br", "[H]"}
    _, _, _, _, info = env.step(TOKEN_ID["C"])
    legal = {VOCAB[a] if a < END else "$" for a in np.flatnonzero(info["action_mask"])}
    assert legal == {"C", "N", "O", "S", "F", "Cl", "Br", "[H]", "=", "#", "(", "1", "$"}


@pytest.mark.parametrize(
    "prefix, legal, illegal",
    [
        ("C1", {"C", "N", "(", "2"}, {"1", "3", "$", ")"}),  # ring open: no end; lowest free digit only
        ("C1C", {"2"}, {"1", "$"}),  # cannot close onto the parent
        ("C1CC", {"1", "2", "C"}, {"$"}),
        ("C1CC1", {"$", "2", "C"}, {"1"}),
        ("CF", {"$"}, {"C", "(", "1", "="}),  # F is saturated
        ("C(", {"C", "="}, {")", "$", "1", "("}),  # no empty branch
        ("C(C", {")", "C"}, {"$"}),
        ("C=", {"C", "O", "N"}, {"F", "Cl", "$", "(", "1", "="}),
        ("N#", {"C", "N"}, {"O", "F", "$"}),
        ("C12CC1", {"C"}, {"2", "$"}),  # 2 was opened on the atom that 1 joined: duplicate bond
        ("C(C)", {"C", "(", "$", "="}, {"1", ")"}),  # no ring digit after ')'
        ("OO", {"$", "C", "("}, {"1", "="}),  # O has one bond left: a ring could never close
    ],
)
def test_grammar_masks_on_hand_prefixes(prefix, legal, illegal):
    env = gym.make("IPS/SMILES-v0").unwrapped
    env.reset(seed=0)
    for t in tokenize(prefix):
        env.step(TOKEN_ID[t])
    mask = env.action_masks()
    names = {(VOCAB[a] if a < END else "$"): bool(mask[a]) for a in range(END + 1)}
    for t in legal:
        assert names[t], f"{t!r} should be legal after {prefix!r}"
    for t in illegal:
        assert not names[t], f"{t!r} should be masked after {prefix!r}"


def test_spiro_ring_digit_is_not_reused_on_the_same_atom():
    env = gym.make("IPS/SMILES-v0").unwrapped
    env.reset(seed=0)
    for t in tokenize("C1CCC1"):
        env.step(TOKEN_ID[t])
    mask = env.action_masks()
    assert mask[TOKEN_ID["2"]] and not mask[TOKEN_ID["1"]]


# ------------------------------------------------------------------------------ completability (hypothesis)
def _random_rollouts(kernel: SMILESKernel, n: int, seed: int, end_weight: float = 1.0, weights_of=None):
    """Random legal rollouts in the kernel (uniform, the end token's weight scaled by ``end_weight``, or
    per-action ``weights_of``); checks the completability invariant at every step."""
    rng = np.random.default_rng(seed)
    state = kernel.initial_state([{}] * n)
    done = np.zeros(n, bool)
    for _ in range(kernel.max_length):
        live = np.flatnonzero(~done)
        if len(live) == 0:
            break
        sub = {k: v[live] for k, v in state.items()}
        mask = kernel.legal_actions(sub)
        assert mask.any(axis=1).all(), "a live prefix has no legal action"
        full = sub["length"] == kernel.length_cap
        assert (mask[full, END]).all() and not mask[full, :END].any(), "at max_length only the end token is legal"
        weights = (rng.random(mask.shape) + 1e-3) * mask
        weights[:, END] *= max(end_weight, 1e-6)  # 0: stop only when nothing else is legal
        if weights_of is not None:
            weights *= weights_of
        ended = kernel.apply(sub, weights.argmax(axis=1))
        for k, v in sub.items():
            state[k][live] = v
        done[live[ended]] = True
    assert done.all(), "some episode did not end within max_length + 1 steps"
    assert (state["length"] <= kernel.length_cap).all()
    return state


@settings(max_examples=30, deadline=None)
@given(
    max_length=st.integers(1, 30),
    aromatic=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
    end_weight=st.sampled_from([1.0, 0.05, 0.0]),
)
def test_random_legal_rollouts_always_complete(max_length, aromatic, seed, end_weight):
    kernel = SMILESKernel(max_length=max_length, aromatic=aromatic, oracle=lambda s: 0.0)
    state = _random_rollouts(kernel, 64, seed, end_weight)
    if not aromatic:
        keys, _, valid = kernel.outcomes(state)
        assert valid.all(), [k for k in keys if k.startswith(INVALID_PREFIX)]


def test_forced_closure_near_max_length_gives_long_valid_molecules():
    # never stop early and avoid monovalent atoms, so prefixes run into the length cap and must be closed
    kernel = SMILESKernel(max_length=40, oracle=lambda s: 0.0)
    weights = np.ones(G.N_ACTIONS)
    weights[[TOKEN_ID[t] for t in ("F", "Cl", "Br", "[H]")]] = 1e-6
    weights[END] = 1e-6
    state = _random_rollouts(kernel, 300, seed=5, weights_of=weights)
    keys, _, valid = kernel.outcomes(state)
    assert valid.all()
    assert (state["length"] == 40).mean() > 0.3  # many runs hit the cap (others saturate, e.g. N#N)


def test_ten_thousand_random_vector_rollouts_are_valid():
    n = 10_000
    envs = gym.make_vec("IPS/SMILES-v0", num_envs=n, oracle=lambda s: 0.5)
    rng = np.random.default_rng(0)
    _, info = envs.reset(seed=0)
    masks = info["action_mask"]
    done = np.zeros(n, bool)
    valid = np.zeros(n, bool)
    rewards = np.zeros(n)
    while not done.all():
        actions = (rng.random(masks.shape) * np.where(done[:, None], True, masks)).argmax(axis=1)
        _, rew, term, _, info = envs.step(actions)
        newly = term & ~done
        assert not info["invalid_action"][newly].any()
        valid[newly] = info["valid"][newly]
        rewards[newly] = rew[newly]
        done |= term
        masks = info["action_mask"]
    rate = valid.mean()
    print(f"RDKit-valid fraction of {n} uniform random masked rollouts: {rate:.4f}")
    assert rate >= 0.95
    assert np.all(rewards[valid] == 0.5) and np.all(rewards[~valid] == 0.0)


def test_aromatic_mode_reports_invalid_strings_without_raising():
    env = gym.make("IPS/SMILES-v0", aromatic=True)
    _, reward, terminated, _, info = _step_string(env, "cC")  # an aromatic atom outside any ring
    assert terminated and reward == 0.0 and not info["valid"] and not info["invalid_action"]
    assert info["outcome"] == INVALID_PREFIX + "cC"


# ------------------------------------------------------------------------------------- outcomes, rewards
def test_outcome_is_canonical_smiles_shared_by_different_strings():
    env = gym.make("IPS/SMILES-v0", oracle="qed")
    a = _step_string(env, "OCC")
    b = _step_string(env, "C(O)C")
    assert a[4]["outcome"] == b[4]["outcome"] == "CCO"
    assert a[1] == b[1] == pytest.approx(0.4068, abs=1e-3)


def test_qed_reward_of_aspirin_and_oracle_accounting():
    oracle = Oracle("qed", budget=2)
    env = gym.make("IPS/SMILES-v0", oracle=oracle)
    aspirin = to_env_smiles("CC(=O)Oc1ccccc1C(=O)O")
    _, reward, _, _, info = _step_string(env, aspirin)
    assert reward == pytest.approx(0.55, abs=0.01) and info["outcome"] == "CC(=O)Oc1ccccc1C(=O)O"
    _step_string(env, aspirin)  # cached: free
    _step_string(env, "CC")
    assert oracle.calls == 2 and oracle.exhausted
    assert [h.smiles for h in oracle.history] == ["CC(=O)Oc1ccccc1C(=O)O", "CC"]
    _step_string(env, "C(C)")  # same molecule, still free
    _, reward, terminated, _, info = _step_string(env, "CCC")  # a new molecule after the budget: no exception
    assert terminated and reward == 0.0 and info["valid"] and info["outcome"] == "CCC" and oracle.calls == 2
    assert info["budget_exhausted"] and not info["too_large"]
    with pytest.raises(OracleBudgetExhausted, match="budget of 2"):  # calling the oracle directly still raises
        oracle.score_canonical("CCC")
    assert env.unwrapped.kernel.oracle is oracle


def test_named_and_callable_oracles_and_bad_arguments():
    env = gym.make("IPS/SMILES-v0", oracle="celecoxib_rediscovery", max_length=60)
    _, reward, _, _, _ = _step_string(env, to_env_smiles(CELECOXIB))
    assert reward == pytest.approx(1.0)
    env = gym.make("IPS/SMILES-v0", oracle=lambda s: len(s) / 100)
    _, reward, _, _, _ = _step_string(env, "CCCC")
    assert reward == pytest.approx(0.04)
    with pytest.raises(ValueError, match="unknown oracle 'nope'.*qed"):
        gym.make("IPS/SMILES-v0", oracle="nope")
    with pytest.raises(ValueError, match="max_length must be"):
        gym.make("IPS/SMILES-v0", max_length=0)
    with pytest.raises(ValueError, match="oracle must be"):
        gym.make("IPS/SMILES-v0", oracle=3)
    bad = gym.make("IPS/SMILES-v0", oracle=lambda s: 2.0)
    with pytest.raises(ValueError, match=r"returned 2.0 for 'CC'; expected a float in \[0, 1\]"):
        _step_string(bad, "CC")


def test_task_is_empty_and_not_enumerable():
    env = gym.make("IPS/SMILES-v0").unwrapped
    env.reset(seed=0)
    assert env.task == {}
    assert env.kernel.outcome_rewards({}) is None
    with pytest.raises(NotImplementedError, match="not enumerable"):
        env.admissible_outcomes()


# ----------------------------------------------------------------------------------- observation, faces
def test_observation_is_a_flat_box_in_bounds():
    env = gym.make("IPS/SMILES-v0")
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box) and space.shape == (60 + 66,) and space.dtype == np.float32
    obs, _ = env.reset(seed=0)
    assert space.contains(obs)
    for t in tokenize("CC(=O)N1CCCC1"):
        obs, *_ = env.step(TOKEN_ID[t])
        assert space.contains(obs)
    obs2, *_ = env.step(END)
    assert space.contains(obs2)


def test_sb3_mlp_policy_consumes_the_observation():
    sb3 = pytest.importorskip("stable_baselines3")
    env = gym.make("IPS/SMILES-v0", oracle=lambda s: 0.0)
    model = sb3.PPO("MlpPolicy", env, n_steps=16, batch_size=16, device="cpu")
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs)
    assert 0 <= int(action) < 25


def test_renders():
    env = gym.make("IPS/SMILES-v0", render_mode="ansi")
    _step_string(env, "CC(=O)O")
    text = env.render()
    assert "CC(=O)O" in text and "canonical: CC(=O)O" in text
    env = gym.make("IPS/SMILES-v0", render_mode="rgb_array")
    env.reset(seed=0)
    empty = env.render()
    _step_string(env, "C1=CC=CC=C1")
    frame = env.render()
    assert frame.shape == empty.shape and frame.dtype == np.uint8 and (frame != empty).any()


def test_canonical_forms_are_memoised_per_written_string():
    from ips_envs.smiles import canonical_or_none

    canonical_or_none.cache_clear()
    assert canonical_or_none("C1=CC=CC=C1") == "c1ccccc1"
    assert canonical_or_none("C1=CC=CC=C1") == "c1ccccc1"
    assert canonical_or_none("C(C)(C)(C)(C)C") is None  # five bonds on carbon: RDKit rejects it
    info = canonical_or_none.cache_info()
    assert (info.hits, info.misses) == (1, 2)
