"""Bad input gives a clear error naming the value, never a silently wrong result (agents, oracles, evaluation)."""

from __future__ import annotations

import io
import math
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import TransformReward
from stable_baselines3.common.logger import configure

import ips_envs
from ips_agents import GRPO, IPSGRPO
from ips_agents.algorithms.model_files import ModelClassMismatch
from ips_agents.cli import main
from ips_agents.evaluation import exact_outcome_distribution, sample_outcomes
from ips_agents.algorithms.trajectory_balance import TrajectoryBalance
from ips_envs.core.validation import check_bool, check_float, check_int
from ips_envs.smiles.oracle import Oracle, OracleBudgetExhausted
from ips_envs.smiles.scoring import MAX_HEAVY_ATOMS, ORACLES, canonical_smiles, mol_from_smiles
from ips_envs.smiles import INVALID_PREFIX

SMALL = {"group_size": 4, "n_groups": 2, "policy_kwargs": {"net_arch": [8]}, "seed": 0}


def small_model(cls=IPSGRPO, env="IPS/PathMultiplicity-v0", **kwargs):
    return cls("MlpPolicy", env, **{**SMALL, **kwargs})


def train_and_eval(run, env_id: str, env_kwargs: str, timesteps: int, samples: int, capsys) -> str:
    """``ips-rl train`` a tiny run then ``ips-rl eval`` it (in process); returns what eval printed."""
    assert main(["train", "--env", env_id, "--env-kwargs", env_kwargs, "--timesteps", str(timesteps), "--n-groups",
                 "2", "--group-size", "4", "--net-arch", "8", "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--samples", str(samples)]) == 0
    return capsys.readouterr().out


def finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.policy.parameters())


# ------------------------------------------------------------------ 6. non-finite hyperparameters and batches
@pytest.mark.parametrize("name", ["learning_rate", "ent_coef", "kl_coef", "clip_range", "ips_alpha", "ips_eps",
                                  "max_grad_norm"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_hyperparameters_are_refused(name, value):
    with pytest.raises(ValueError, match=f"{name} must be"):
        small_model(**{name: value})


def test_a_non_finite_learning_rate_schedule_is_refused():
    with pytest.raises(ValueError, match="learning_rate"):
        small_model(learning_rate=lambda progress: math.inf * progress)


def _vector_env(n: int, transform) -> gym.vector.VectorEnv:
    return gym.vector.SyncVectorEnv(
        [lambda: TransformReward(gym.make("IPS/PathMultiplicity-v0"), transform) for _ in range(n)])


@pytest.mark.parametrize("transform", [
    lambda r: math.inf if r > 0 else r,  # a user env returning inf
    lambda r: math.nan if r > 0 else r,  # ... or nan
    lambda r: 1e308 * r,  # finite rewards whose inverse-probability scaling overflows
])
def test_batches_with_non_finite_rewards_are_skipped_and_counted(tmp_path, transform):
    model = IPSGRPO("MlpPolicy", _vector_env(8, transform), group_size=4, policy_kwargs={"net_arch": [8]}, seed=0)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    before = [p.detach().clone() for p in model.policy.parameters()]
    with pytest.warns(RuntimeWarning, match="non-finite"):
        model.learn(200)
    assert finite(model) and model.skipped_batches >= 1
    if model._n_updates == 0:  # every batch was skipped: the parameters were never touched
        assert all(torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    import csv

    logged = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert int(float(logged[-1]["train/skipped_batches"])) == model.skipped_batches


@pytest.mark.parametrize("objective", ["tb", "flowrl"])
def test_trajectory_balance_skips_non_finite_batches_too(objective):
    model = TrajectoryBalance("MlpPolicy", _vector_env(8, lambda r: math.inf if r > 0 else r), objective=objective,
                              group_size=4, policy_kwargs={"net_arch": [8]}, seed=0)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        model.learn(100)
    assert finite(model) and model.skipped_batches >= 1


# ------------------------------------------------------------------------ 7. validity from the env's flag
def test_validity_comes_from_the_env_flag_for_smiles(tmp_path, capsys):
    kwargs = {"max_length": 8, "aromatic": True}
    model = small_model(env="IPS/SMILES-v0", env_kwargs=kwargs)
    env = gym.make("IPS/SMILES-v0", **kwargs)
    env.reset(seed=0)
    outcomes, valid = sample_outcomes(model, env, 300, seed=0, return_valid=True)
    invalid_keys = np.array([o.startswith(INVALID_PREFIX) for o in outcomes])
    assert invalid_keys.any() and np.array_equal(valid, ~invalid_keys)
    # the CLI reports the same fraction (RDKit's), not 1.000
    run = tmp_path / "run"
    printed = train_and_eval(run, "IPS/SMILES-v0", '{"max_length": 8, "aromatic": true}', 100, 300, capsys)
    fraction = float(printed.split("valid fraction")[1].split()[0])
    from ips_agents.runs.training import load_run

    _, trained = load_run(run)
    _, flags = sample_outcomes(trained, env, 300, task=env.unwrapped.task, seed=0, return_valid=True)
    assert fraction == pytest.approx(flags.mean(), abs=1e-3) and fraction < 1.0


# -------------------------------------------------------------------------------------- 8. predict masks
def test_predict_refuses_an_all_false_mask_naming_the_row():
    model = small_model()
    env = gym.make("IPS/PathMultiplicity-v0")
    obs, info = env.reset(seed=0)
    n = env.action_space.n
    with pytest.raises(ValueError, match="no legal action"):
        model.predict(obs, action_masks=np.zeros(n, dtype=bool))
    batch = np.stack([obs, obs, obs])
    masks = np.ones((3, n), dtype=bool)
    masks[1] = False
    with pytest.raises(ValueError, match="row 1 of action_masks has no legal action"):
        model.predict(batch, action_masks=masks)
    for bad in (np.ones((2, n), bool), np.ones((3, n + 1), bool), np.ones(3 * n, bool)):
        with pytest.raises(ValueError, match="action_masks has shape"):
            model.predict(batch, action_masks=bad)
    actions, _ = model.predict(batch, action_masks=np.ones((3, n), bool))
    assert actions.shape == (3,)


# ------------------------------------------------------------------------------ 10. class checked on load
def test_load_checks_the_class_and_the_file(tmp_path):
    ips_model = small_model()
    ips_model.save(tmp_path / "ips.zip")
    with pytest.raises(ModelClassMismatch, match="holds a IPSGRPO model, not GRPO"):
        GRPO.load(tmp_path / "ips.zip")
    with pytest.raises(ModelClassMismatch, match="TrajectoryBalance"):
        IPSGRPO.load(_save(small_model(TrajectoryBalance), tmp_path / "tb.zip"))
    assert type(IPSGRPO.load(tmp_path / "ips.zip")) is IPSGRPO
    assert GRPO.load(_save(small_model(GRPO), tmp_path / "grpo")).ips_alpha == 0  # SB3 adds .zip
    from sb3_contrib import MaskablePPO

    ppo = MaskablePPO("MlpPolicy", gym.make("IPS/PathMultiplicity-v0"), n_steps=16, batch_size=16)
    ppo.save(tmp_path / "ppo.zip")
    with pytest.raises(ModelClassMismatch, match="not saved by IPSGRPO"):
        IPSGRPO.load(tmp_path / "ppo.zip")
    # missing, truncated and non-zip files
    with pytest.raises(FileNotFoundError, match="nothing.zip") as missing:
        IPSGRPO.load(tmp_path / "nothing.zip")
    assert "zip.zip" not in str(missing.value)
    data = (tmp_path / "ips.zip").read_bytes()
    for name, content in (("cut.zip", data[: len(data) // 2]), ("text.zip", b"not a zip")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match="truncated or corrupt"):
            IPSGRPO.load(tmp_path / name)
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("other", "x")
    with pytest.raises(ValueError, match="'data'"):
        IPSGRPO.load(tmp_path / "empty.zip")


def _save(model, path):
    model.save(path)
    return path


def test_save_refuses_an_empty_path_or_a_directory(tmp_path):
    model = small_model()
    for bad in ("", "  ", tmp_path):
        with pytest.raises(ValueError, match="save path"):
            model.save(bad)
    assert list(tmp_path.iterdir()) == []
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    assert IPSGRPO.load(buffer).num_timesteps == 0


# ---------------------------------------------------------------------------------- learn() and tasks=
@pytest.mark.parametrize("total", [math.inf, -5, math.nan, 0, 10.5, "100", True])
def test_learn_refuses_a_bad_number_of_steps(total):
    with pytest.raises(ValueError, match="total_timesteps must be a positive integer"):
        small_model().learn(total)


def test_learn_accepts_numpy_and_integral_float_steps():
    model = small_model()
    model.learn(np.int64(20))
    model.learn(1e1, reset_num_timesteps=False)
    assert model.num_timesteps >= 30


@pytest.mark.parametrize("tasks, match", [
    ([None], r"tasks\[0\] must be a task dict"),
    ([{"observations": [[0, 1]]}, "oops"], r"tasks\[1\] must be a task dict"),
    ([{"bogus_field": 1}], r"tasks\[0\] is not a valid task"),
    ({"observations": []}, "tasks must be a list"),
])
def test_bad_tasks_fail_at_construction(tasks, match):
    with pytest.raises(ValueError, match=match):
        small_model(env="IPS/CausalDAG-v0", tasks=tasks)


@pytest.mark.parametrize("kwargs, match", [
    ({"group_size": True}, "group_size must be an integer"),
    ({"n_groups": True}, r"n_groups must be an integer in \[1, 1048576\]"),
    ({"n_epochs": 1.0}, "n_epochs must be a positive integer"),
    ({"minibatch_size": False}, "minibatch_size must be a positive integer"),
])
def test_integer_arguments_refuse_bools_and_floats(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_model(**kwargs)


def test_integer_arguments_accept_numpy_integers():
    model = small_model(group_size=np.int64(4), n_groups=np.int32(2), n_epochs=np.int16(2),
                        minibatch_size=np.uint8(4))
    model.learn(np.int64(30))
    assert (model.group_size, model.n_groups, model.n_epochs, model.minibatch_size) == (4, 2, 2, 4)
    assert Oracle("qed", budget=np.int64(3)).budget == 3


def test_validation_helpers_name_the_value():
    assert check_int("n", np.int8(3), 1) == 3
    for bad in (True, 2.0, "2", None):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            check_int("n", bad, 1)
    assert check_float("x", np.float32(0.5), 0, 1) == 0.5
    with pytest.raises(ValueError, match="x must be > 0"):
        check_float("x", 0, 0.0, low_open=True)
    assert check_bool("flag", np.bool_(True)) is True
    for bad in ("no", "False", 0, 1, None, 1.0):
        with pytest.raises(ValueError, match="flag must be True or False"):
            check_bool("flag", bad)


# ------------------------------------------------------------------------- 12. exact policy probabilities
@pytest.mark.parametrize("make_probs, what", [
    (lambda m: np.where(m, np.nan, 0.0), "nan"),
    (lambda m: np.where(m, -1.0, 0.0) + 2.0 * np.eye(m.shape[1])[0], "negative"),
    (lambda m: m * 3.0, "unnormalised"),
    (lambda m: np.where(m, np.inf, 0.0), "inf"),
])
def test_exact_distribution_validates_policy_probabilities(make_probs, what):
    env = gym.make("IPS/PathMultiplicity-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="policy_probs row 0 is not a probability vector"):
        ips_envs.exact_outcome_distribution(env, lambda obs, masks: make_probs(masks.astype(float)))


def test_exact_distribution_uses_the_task_given_to_make_without_a_reset():
    probe = gym.make("IPS/CausalDAG-v0")
    probe.reset(seed=3)
    task = probe.unwrapped.task
    model = small_model(env="IPS/CausalDAG-v0")
    fresh = gym.make("IPS/CausalDAG-v0", task=task)  # never reset
    dist = exact_outcome_distribution(model, fresh)
    assert dist == exact_outcome_distribution(model, probe, task) and sum(dist.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no task yet"):
        exact_outcome_distribution(model, gym.make("IPS/CausalDAG-v0"))


# ------------------------------------------------------------------------------- 13, 16. oracles
@pytest.mark.parametrize("junk", ["CCO garbage", "CCO\tx", "CCO\n", " CCO", "CCO |$x$|"])
def test_rdkit_must_read_the_whole_string(junk):
    assert mol_from_smiles(junk) is None and canonical_smiles(junk) is None
    assert ORACLES["qed"](junk) == 0.0 and Oracle("qed")(junk) == 0.0
    assert mol_from_smiles("CCO") is not None


def test_oracles_bound_the_size_they_score():
    chain = "C" * 5000
    assert ORACLES["fexofenadine_mpo"](chain) == 0.0 and ORACLES["deco_hop"]("C" * 120) == 0.0
    oracle = Oracle("deco_hop", budget=5)
    big = canonical_smiles("C" * (MAX_HEAVY_ATOMS + 1))
    assert oracle.score_flagged(big) == (0.0, "too_large")
    assert oracle(big) == 0.0 and oracle.calls == 0 and big in oracle.too_large  # free, not in the history
    assert oracle.score_flagged("CCO")[1] is None and oracle.calls == 1
    unbounded = Oracle(lambda s: 0.5, max_atoms=None)
    assert unbounded.score_flagged(big) == (0.5, None)


def test_budget_flag_instead_of_exception_for_envs():
    oracle = Oracle("qed", budget=1)
    assert oracle.score_flagged("CCO")[1] is None
    assert oracle.score_flagged("CCN") == (0.0, "budget_exhausted") and oracle.calls == 1
    assert oracle.score_flagged("CCO")[0] > 0  # cached molecules stay free
    with pytest.raises(OracleBudgetExhausted):  # direct callers (REINVENT) keep the exception
        oracle.score_canonical("CCN")


# ------------------------------------------------------------------------------ 15. HyperGrid size guard
def test_hypergrid_enumeration_has_a_size_guard_and_eval_samples_instead(tmp_path, capsys):
    env = gym.make("IPS/HyperGrid-v0", ndim=12, height=1000)
    env.reset(seed=0)
    with pytest.raises(NotImplementedError, match="too large"):
        env.unwrapped.target_distribution()
    printed = train_and_eval(tmp_path / "run", "IPS/HyperGrid-v0", '{"ndim": 5, "height": 100}', 50, 20, capsys)
    assert "no exact evaluation" in printed and "distinct outcomes in 20 samples" in printed


# ------------------------------------------------------------------------------ CLI user errors, in process
def _cli_error(args, capsys) -> str:
    try:
        code = main(args)
    except SystemExit as e:  # argparse errors exit from parse_args
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], (args, err)
    return err[0]


def test_cli_user_errors_are_one_line_and_status_2(tmp_path, capsys):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    empty = tmp_path / "empty"
    empty.mkdir()
    hg = ["train", "--env", "IPS/HyperGrid-v0", "--out", str(tmp_path / "r")]
    cases = [
        (["train", "--env", "IPS/NoSuch-v0", "--out", str(tmp_path / "r")], "NoSuch"),
        ([*hg, "--timesteps", "-5"], "--timesteps"),
        ([*hg, "--timesteps", "0"], "--timesteps"),
        (["train", "--out", str(empty), "--resume"], "nothing to resume"),
        (["train", "--out", str(tmp_path / "missing"), "--resume"], "nothing to resume"),
        (["train", "--out", str(tmp_path / "r")], "--env is required"),
        (["eval", str(tmp_path / "r"), "--samples", "0"], "--samples"),
        (["eval", str(empty)], "config.json"),
        ([*hg, "--env-kwargs", "{bad"], "not valid JSON"),
        ([*hg, "--env-kwargs", "[1, 2]"], "JSON object"),
        ([*hg, "--env-kwargs", '{"heigth": 4}'], "heigth"),
        ([*hg, "--env-kwargs", '{"height": "4"}'], "height must be"),
        ([*hg, "--learning-rate", "inf"], "--learning-rate"),
        ([*hg, "--ips-alpha", "2"], "--ips-alpha"),
        (["eval", str(corrupt)], "corrupt"),
        (["demo", "--scale", "0"], "--scale"),
        (["demo", "--scale", "nan"], "--scale"),
        (["bench", "no_such_benchmark"], "no_such_benchmark"),
    ]
    for args, needle in cases:
        assert needle in _cli_error(args, capsys), args
    assert not (tmp_path / "r").exists()  # no half-made run folder


# ------------------------------------------------------------------------------ 9. integer-only actions
BAD_ACTIONS = [0.99, 1.0, np.float64(1.0), True, np.bool_(False), "0", np.nan, None, np.array([1]),
               torch.tensor(1.0)]


@pytest.mark.parametrize("action", BAD_ACTIONS, ids=repr)
def test_single_envs_take_integer_actions_only(action):
    env = gym.make("IPS/BooleanExpr-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be an integer in Discrete"):
        env.step(action)
    assert env.unwrapped._state["length"][0] == 0  # nothing was written


@pytest.mark.parametrize("actions", [[0.99, 1, 1], [np.nan, 1, 1], [True, False, True], ["1", "1", "1"],
                                     np.zeros(3, np.float32), [None, 1, 1]], ids=repr)
def test_vector_envs_take_integer_actions_only(actions):
    envs = gym.make_vec("IPS/BooleanExpr-v0", num_envs=3)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be integers in Discrete"):
        envs.step(actions)


def test_integer_actions_of_every_kind_are_accepted():
    env = gym.make("IPS/BooleanExpr-v0")
    legal = None
    for action in (1, np.int64(1), np.uint8(1), np.array(1), torch.tensor(1)):
        _, info = env.reset(seed=0)
        legal = info["action_mask"]
        assert legal[1]
        env.step(action)
        assert env.unwrapped._state["length"][0] == 1
    envs = gym.make_vec("IPS/BooleanExpr-v0", num_envs=3)
    envs.reset(seed=0)
    for actions in ([1, 1, 1], np.ones(3, np.int32), np.ones(3, np.uint16), torch.ones(3, dtype=torch.int64)):
        envs.reset(seed=0)
        envs.step(actions)
    assert legal is not None


# ------------------------------------------------------------------------------ 14. flags are bools
@pytest.mark.parametrize("env_id, flag", [
    ("IPS/HyperGrid-v0", "canonical_order"), ("IPS/CausalDAG-v0", "canonical_order"),
    ("IPS/Voxel3D-v0", "canonical_order"), ("IPS/Voxel3D-v0", "mask_top_view"),
    ("IPS/PathMultiplicity-v0", "mask_dead_ends"), ("IPS/SMILES-v0", "aromatic"), ("IPS/HyperGrid-v0", "strict"),
])
@pytest.mark.parametrize("value", ["no", "False", 0, 1.0, None])
def test_string_and_number_flags_are_refused(env_id, flag, value):
    with pytest.raises(ValueError, match=f"{flag} must be True or False"):
        gym.make(env_id, **{flag: value})
    assert gym.make(env_id, **{flag: np.bool_(True)}).unwrapped is not None


@pytest.mark.parametrize("mask", [["a", "b", "c"], [0.5, 1.0, 0.0], [1, 0, 1], "yes"], ids=repr)
def test_reset_mask_must_be_bool(mask):
    envs = gym.make_vec("IPS/HyperGrid-v0", num_envs=3)
    envs.reset(seed=0)
    envs.step([0, 0, 0])
    before = envs.unwrapped._state["x"].copy()
    with pytest.raises(ValueError, match="reset_mask must be a bool array"):
        envs.reset(options={"reset_mask": mask})
    assert np.array_equal(envs.unwrapped._state["x"], before)  # no copy was reset
    envs.reset(options={"reset_mask": [False, True, False]})
    assert envs.unwrapped._state["x"][1].sum() == 0 and envs.unwrapped._state["x"][0].sum() == 1


# ------------------------------------------------------------------- 11. the oracle budget inside envs
def _write(envs, smiles_per_copy):
    """Write one SMILES of the same token length per copy of a SMILES vector env; return the last step."""
    from ips_envs.smiles import encode

    codes = np.array([encode(s) for s in smiles_per_copy])
    envs.reset(seed=0)
    for step_actions in codes.T:
        out = envs.step(step_actions)
    return out


def test_budget_contract_in_vector_envs():
    oracle = Oracle("qed", budget=2)
    envs = gym.make_vec("IPS/SMILES-v0", num_envs=4, oracle=oracle)
    _, rewards, terminated, _, info = _write(envs, ["CCCO", "CCCN", "CCCF", "CCCS"])  # same length: end together
    assert terminated.all() and oracle.calls == 2 and oracle.exhausted
    scored = ~info["budget_exhausted"]
    assert scored.sum() == 2 and info["valid"].all() and not info["too_large"].any()
    for i in range(4):  # every charged molecule's reward reaches the learner; unscored ones get 0
        key = info["outcome"][i]
        assert rewards[i] == (oracle.cache[key] if scored[i] else 0.0)
        assert (key in oracle.cache) == bool(scored[i])
    assert sorted(h.smiles for h in oracle.history) == sorted(info["outcome"][scored])
    # the env is consistent and keeps working: a scored molecule stays free, a new one is flagged again
    _, rewards, terminated, _, info = _write(envs, ["CCCO", "CCCN", "CCCF", "CCCS"])
    assert terminated.all() and oracle.calls == 2
    assert np.array_equal(info["budget_exhausted"], ~scored)
    assert np.array_equal(rewards, [oracle.cache.get(k, 0.0) for k in info["outcome"]])


def test_training_stops_cleanly_when_the_budget_is_spent():
    oracle = Oracle("qed", budget=15)
    model = IPSGRPO("MlpPolicy", "IPS/SMILES-v0", env_kwargs={"oracle": oracle, "max_length": 12}, group_size=4,
                    n_groups=2, policy_kwargs={"net_arch": [8]}, seed=0)
    model.learn(10**7)  # returns: no OracleBudgetExhausted, no endless loop
    assert model.budget_exhausted and oracle.exhausted and oracle.calls == 15 and finite(model)
    updates = model._n_updates
    model.learn(10**7, reset_num_timesteps=False)  # a spent budget stops at once, without an update
    assert model._n_updates == updates


def test_smiles_env_flags_molecules_above_the_size_bound():
    env = gym.make("IPS/SMILES-v0", max_length=MAX_HEAVY_ATOMS + 5, oracle=Oracle("qed"))
    from ips_envs.smiles import encode

    obs, info = env.reset(seed=0)
    assert info["too_large"] is False and info["budget_exhausted"] is False  # the keys are on every step
    for a in encode("C" * (MAX_HEAVY_ATOMS + 1)):
        _, reward, terminated, _, info = env.step(a)
    assert terminated and reward == 0.0 and info["valid"] and info["too_large"]
