"""One table of settings: the CLI, RunConfig and IPSGRPO agree on every default (and on what a new run builds)."""

from __future__ import annotations

import inspect

import pytest

from ips_agents import GRPO, IPSGRPO
from ips_agents.algorithms.settings import DEFAULT_POLICY, SETTINGS, resolve_estimator_defaults
from ips_agents.cli import build_parser
from ips_agents.cli.train import given_settings
from ips_agents.runs.config import RunConfig, run_defaults


def _train_args(*extra: str) -> object:
    return build_parser().parse_args(["train", "--env", "IPS/PathMultiplicity-v0", "--out", "unused", *extra])


def test_ipsgrpo_signature_defaults_are_the_table():
    params = inspect.signature(IPSGRPO.__init__).parameters
    for name, setting in SETTINGS.items():
        assert name in params, name
        assert params[name].default == setting.default, name


def test_run_config_defaults_are_the_table_and_the_cli_gives_the_same():
    config = RunConfig(env="IPS/PathMultiplicity-v0")
    from_cli = RunConfig(**given_settings(_train_args()))
    assert from_cli == config  # no flag given: nothing stated twice
    defaults = run_defaults()
    assert config.policy == defaults["policy"] == DEFAULT_POLICY
    for name, setting in SETTINGS.items():
        assert config.setting(name) == setting.default == defaults[name], name


def test_cli_help_states_the_table_defaults():
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # noqa: SLF001 (argparse internals)
    flags = {a.option_strings[0]: a for a in train._actions if a.option_strings}  # noqa: SLF001
    for setting in SETTINGS.values():
        action = flags[setting.flag]
        assert action.default is None  # "not given": --resume checks only typed flags
        assert setting.help in action.help
        if setting.default is not None:
            assert repr(setting.default) in action.help
    assert flags["--policy"].choices is not None and DEFAULT_POLICY in flags["--policy"].help


def test_a_cli_run_builds_the_model_python_builds(tmp_path):
    args = _train_args("--seed", "3")
    model = RunConfig(**given_settings(args)).build_model()
    direct = IPSGRPO(DEFAULT_POLICY, "IPS/PathMultiplicity-v0", seed=3)
    for name in SETTINGS:
        a, b = getattr(model, name), getattr(direct, name)
        if callable(a):
            assert callable(b) and [a(p) for p in (1.0, 0.5, 0.0)] == [b(p) for p in (1.0, 0.5, 0.0)], name
        else:
            assert a == b, name
    assert model.n_groups == direct.n_groups == 4 and type(model.policy) is type(direct.policy)


def test_flags_map_onto_settings_and_grpo_refuses_ips_settings():
    config = RunConfig(**given_settings(_train_args("--group-size", "8", "--learning-rate", "0.01",
                                                    "--net-arch", "32", "32")))
    assert config.algo_kwargs == {"group_size": 8, "learning_rate": 0.01, "policy_kwargs": {"net_arch": [32, 32]}}
    with pytest.raises(ValueError, match="ips_alpha cannot be set for algo 'grpo'"):
        RunConfig(env="IPS/PathMultiplicity-v0", algo="grpo", algo_kwargs={"ips_alpha": 0.5})
    with pytest.raises(ValueError, match="unknown algorithm setting 'groupsize'"):
        RunConfig(env="IPS/PathMultiplicity-v0", algo_kwargs={"groupsize": 8})
    with pytest.raises(ValueError, match="group_size must be"):
        RunConfig(env="IPS/PathMultiplicity-v0", algo_kwargs={"group_size": 1})
    grpo = RunConfig(env="IPS/PathMultiplicity-v0", algo="grpo", policy="MlpPolicy").build_model()
    assert isinstance(grpo, GRPO) and grpo.ips_alpha == 0.0


@pytest.mark.parametrize(("estimator", "alpha", "eps", "norm", "decaying"), [
    ("count", 1.0, 0.01, "group", False), ("paths", 1.0, 1e-6, "none", True), ("exact", 1.0, 1e-6, "none", True),
    ("trajectory", 1.0, 1e-6, "none", True), ("paths", 0.0, 1e-6, "none", False),
])
def test_defaults_per_estimator_are_resolved_in_one_place(estimator, alpha, eps, norm, decaying):
    resolved = resolve_estimator_defaults(estimator, alpha, None, None, None)
    assert (resolved.ips_estimator, resolved.ips_eps, resolved.advantage_norm) == (estimator, eps, norm)
    assert callable(resolved.learning_rate) == decaying
    if decaying:
        assert resolved.learning_rate(1.0) == pytest.approx(3e-3) and resolved.learning_rate(0.0) == 0.0
    else:
        assert resolved.learning_rate == 1e-3
    given = resolve_estimator_defaults(estimator, alpha, 0.2, "batch", 5e-4)
    assert (given.ips_eps, given.advantage_norm, given.learning_rate) == (0.2, "batch", 5e-4)
