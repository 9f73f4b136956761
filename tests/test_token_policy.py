"""Token layouts of the HypoSpace envs and the TokenPolicy that reads them (shared weights over entities)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import ips_envs
from ips_agents import IPSGRPO
from ips_agents.cli import main
from ips_agents.policies import MaskedActorPolicy
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance
from ips_agents.policies.token import TokenPolicy
from ips_agents.runs.training import load_run
from ips_envs.core.tokens import PAD, POOLED, TokenLayout

LAYOUT_ENVS = [("IPS/Voxel3D-v0", {}), ("IPS/Voxel3D-v0", {"canonical_order": True}), ("IPS/CausalDAG-v0", {}),
               ("IPS/CausalDAG-v0", {"canonical_order": True})]
SMALL = dict(group_size=4, n_groups=2, seed=0, policy_kwargs={"d_model": 16, "n_heads": 2, "n_layers": 1})


def test_layout_gathers_entity_features_and_pads_with_zero():
    layout = TokenLayout(((0, 2), (1, PAD)), (0, 1, POOLED), (2,), obs_dim=3)
    obs = np.array([[10.0, 20.0, 30.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(layout.gather(obs), [[[10, 30], [20, 0]], [[1, 3], [2, 0]]])
    assert (layout.n_tokens, layout.n_features, layout.n_actions) == (2, 2, 3)
    assert TokenLayout.from_dict(layout.to_dict()) == layout
    grouped = TokenLayout(((0,), (1,), (2,)), (0, 1, 2), obs_dim=3, neighbourhoods=(((0, 0, 1), (1, 0, 0)),))
    # entity 0 reads group 1 (entity 2 alone); entities 1 and 2 read group 0 (entities 0 and 1)
    np.testing.assert_allclose(grouped.neighbourhood_matrices()[0], [[0, 0, 1], [0.5, 0.5, 0], [0.5, 0.5, 0]])
    assert TokenLayout.from_dict(grouped.to_dict()) == grouped


@pytest.mark.parametrize("bad, match", [
    (dict(features=((0, 1), (2,)), action_tokens=(0,), obs_dim=3), "same number of features"),
    (dict(features=((0, 5),), action_tokens=(0,), obs_dim=3), "feature index 5"),
    (dict(features=((0,),), action_tokens=(0,), global_features=(-1,), obs_dim=3), "feature index -1"),
    (dict(features=((0,),), action_tokens=(3,), obs_dim=3), "action token 3"),
    (dict(features=(), action_tokens=(0,), obs_dim=3), "at least one entity"),
    (dict(features=((0,), (1,)), action_tokens=(0,), obs_dim=3, neighbourhoods=(((0, 0), (0, 1)),)), "reads group 1"),
    (dict(features=((0,), (1,)), action_tokens=(0,), obs_dim=3, neighbourhoods=(((0,), (0,)),)), "one group id"),
])
def test_bad_layouts_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        TokenLayout(**bad)


def test_voxel_column_tokens_hold_that_columns_height_view_and_last_bit():
    env = gym.make("IPS/Voxel3D-v0", canonical_order=True)
    task = {"top_view": [[0, 1, 0], [0, 0, 0], [0, 0, 1]]}
    obs, _ = env.reset(options={"task": task})
    for action in (1, 1, 8):
        obs, *_ = env.step(action)
    layout = env.unwrapped.token_layout
    tokens = layout.gather(obs[None])[0]  # [9 columns, height one-hot (4) + view + last]
    heights = np.zeros(9, int)
    heights[[1, 8]] = [2, 1]
    np.testing.assert_array_equal(tokens[:, :4].argmax(axis=1), heights)
    np.testing.assert_array_equal(tokens[:, 4], np.isin(np.arange(9), [1, 8]))
    np.testing.assert_array_equal(tokens[:, 5], np.arange(9) == 8)
    assert layout.action_tokens == (*range(9), POOLED)


def test_causal_pair_tokens_hold_both_directions_of_every_matrix():
    env = gym.make("IPS/CausalDAG-v0")
    task = {"observations": [{"perturb": "A", "descendants": ["B", "C"]}, {"perturb": "B", "descendants": ["C"]},
                             {"perturb": "D", "descendants": []}]}
    obs, _ = env.reset(options={"task": task})
    obs, *_ = env.step(0 * 4 + 1)  # A -> B
    obs, *_ = env.step(1 * 4 + 2)  # B -> C
    layout = env.unwrapped.token_layout
    tokens = layout.gather(obs[None])[0]
    pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
    assert layout.n_tokens == 12 and layout.action_tokens[0 * 4 + 1] == pairs.index((0, 1))
    assert all(layout.action_tokens[i * 5] == POOLED for i in range(4)) and layout.action_tokens[16] == POOLED
    by_pair = dict(zip(pairs, tokens.tolist(), strict=True))
    # features: adj, reach, observed, missing, extra of [i, j], then of [j, i], then perturbed i, perturbed j
    assert by_pair[(0, 1)][:5] == [1, 1, 1, 0, 0] and by_pair[(0, 1)][5:10] == [0, 0, 0, 0, 0]
    assert by_pair[(0, 2)][:5] == [0, 1, 1, 0, 0]  # A reaches C through B, as observed
    assert by_pair[(2, 0)][5:10] == [0, 1, 1, 0, 0] and by_pair[(2, 0)][10:] == [0, 1]
    assert by_pair[(3, 0)][10:] == [1, 1]


@pytest.mark.parametrize("env_id, kwargs", LAYOUT_ENVS)
def test_auto_policy_is_the_token_policy_and_trains(env_id, kwargs):
    model = IPSGRPO("auto", env_id, env_kwargs=kwargs, **SMALL)
    assert isinstance(model.policy, TokenPolicy)
    model.learn(200)
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=1)
    for _ in range(20):
        actions, _ = model.predict(np.stack([obs] * 8), action_masks=np.stack([info["action_mask"]] * 8))
        assert info["action_mask"][actions].all()


def test_auto_policy_falls_back_to_the_mlp_and_token_policy_needs_a_layout():
    for env_id in ("IPS/HyperGrid-v0", "IPS/BooleanExpr-v0"):
        assert type(IPSGRPO("auto", env_id, **{**SMALL, "policy_kwargs": {}}).policy) is MaskedActorPolicy
    with pytest.raises(ValueError, match="token layout"):
        IPSGRPO("TokenPolicy", "IPS/HyperGrid-v0", **SMALL)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        IPSGRPO("TokenPolicy", "IPS/Voxel3D-v0", **{**SMALL, "policy_kwargs": {"d_model": 10, "n_heads": 4,
                                                                             "encoder": "attention"}})
    with pytest.raises(ValueError, match="encoder"):
        IPSGRPO("TokenPolicy", "IPS/Voxel3D-v0", **{**SMALL, "policy_kwargs": {"encoder": "lstm"}})
    assert isinstance(IPSGRPO("MlpPolicy", "IPS/Voxel3D-v0", **{**SMALL, "policy_kwargs": {}}).policy,
                      MaskedActorPolicy)


@pytest.mark.parametrize("encoder", ["pool", "attention"])
def test_without_slot_embeddings_the_policy_is_equivariant_to_grid_symmetries(encoder):
    """Permuting the grid's rows and its columns permutes the drop logits the same way and leaves stop unchanged."""
    kwargs = {"d_model": 16, "n_heads": 2, "slot_embedding": False, "encoder": encoder}
    policy = IPSGRPO("TokenPolicy", "IPS/Voxel3D-v0", **{**SMALL, "policy_kwargs": kwargs}).policy
    kernel = gym.make("IPS/Voxel3D-v0").unwrapped.kernel
    rng = np.random.default_rng(0)
    state = kernel.initial_state([{"top_view": [[1, 1, 0], [0, 0, 0], [0, 0, 1]]}] * 4)
    state["heights"][:] = rng.integers(0, 4, state["heights"].shape)
    perm = (3 * rng.permutation(3)[:, None] + rng.permutation(3)[None, :]).reshape(-1)  # rows, then columns
    permuted = {"heights": state["heights"][:, perm], "view": state["view"][:, perm]}
    with th.no_grad():
        a = policy.logits(th.as_tensor(kernel.observe(state))).numpy()
        b = policy.logits(th.as_tensor(kernel.observe(permuted))).numpy()
    np.testing.assert_allclose(b[:, :9], a[:, :9][:, perm], atol=1e-5)
    np.testing.assert_allclose(b[:, 9], a[:, 9], atol=1e-5)


def test_save_load_keeps_layout_and_predictions(tmp_path):
    model = TrajectoryBalance("TokenPolicy", "IPS/CausalDAG-v0", objective="flowrl", **SMALL)
    model.learn(200)
    model.save(tmp_path / "m.zip")
    loaded = TrajectoryBalance.load(tmp_path / "m.zip")
    env = gym.make("IPS/CausalDAG-v0")
    obs, info = env.reset(seed=0)
    batch, masks = np.stack([obs] * 4), np.stack([info["action_mask"]] * 4)
    probs = [m.policy.action_probs(m.policy.obs_to_tensor(batch)[0], masks).detach().numpy() for m in (model, loaded)]
    np.testing.assert_allclose(probs[0], probs[1], rtol=1e-6)
    assert probs[0][:, ~info["action_mask"]].max() == 0.0
    assert loaded.policy.layout == env.unwrapped.token_layout
    loaded.set_env("IPS/CausalDAG-v0")
    loaded.learn(100, reset_num_timesteps=False)


def test_cli_trains_and_evaluates_a_token_policy(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--env", "IPS/CausalDAG-v0", "--out", str(run), "--n-groups", "2", "--group-size", "4",
                 "--no-progress", "--timesteps", "200"]) == 0
    config, model = load_run(run)
    assert config.policy == "auto" and isinstance(model.policy, TokenPolicy)
    assert main(["eval", str(run), "--samples", "20"]) == 0
    assert "RR(samples)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--env", "IPS/Voxel3D-v0", "--out", str(tmp_path / "x"), "--policy", "Cnn"])


def test_without_slot_embeddings_the_causal_policy_is_equivariant_to_node_relabelling():
    kwargs = {"d_model": 16, "slot_embedding": False}
    policy = IPSGRPO("TokenPolicy", "IPS/CausalDAG-v0", **{**SMALL, "policy_kwargs": kwargs}).policy
    env = gym.make("IPS/CausalDAG-v0")
    obs, _ = env.reset(seed=2)
    kernel = env.unwrapped.kernel
    state = kernel.initial_state([env.unwrapped.task])
    kernel.apply(state, np.array([0 * 4 + 2]))  # A -> C
    kernel.apply(state, np.array([2 * 4 + 3]))  # C -> D
    perm = np.array([2, 0, 3, 1])  # new node k is old node perm[k]
    relabelled = {k: v[:, perm][:, :, perm] if v.ndim == 3 else v[:, perm] for k, v in state.items()}
    with th.no_grad():
        a = policy.logits(th.as_tensor(kernel.observe(state))).numpy()[0]
        b = policy.logits(th.as_tensor(kernel.observe(relabelled))).numpy()[0]
    for i in range(4):
        for j in range(4):
            if i != j:
                assert abs(b[i * 4 + j] - a[perm[i] * 4 + perm[j]]) < 1e-5
    assert abs(b[16] - a[16]) < 1e-5
