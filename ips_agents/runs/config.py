"""``RunConfig``: the one table of a training run's settings and their defaults (``config.json`` of a run folder).

A run is an env, an algorithm, a policy, a budget, a seed, the env's arguments, the algorithm's settings and
optionally one fixed task. The run-level settings and their defaults are the fields below (their help text is
in :data:`RUN_FIELDS`); the algorithm's settings (``algo_kwargs``) are the table
:data:`ips_agents.algorithms.settings.SETTINGS`, the same one :class:`~ips_agents.algorithms.IPSGRPO`'s
signature reads. ``ips-rl train`` builds its flags, choices and help text from these two tables
(:mod:`ips_agents.cli.train`) and ``ips-rl sweep`` builds ``RunConfig`` objects, so the CLI, sweeps and the
Python API cannot drift apart.

``algo_kwargs`` holds only what the user set: a setting left out takes the algorithm's default, resolved when
the env is attached (so a saved config keeps meaning "the default" and a resumed run rebuilds the same model).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ips_agents.algorithms.ips_grpo import GRPO, IPSGRPO
from ips_agents.algorithms.settings import DEFAULT_POLICY, MAX_SEED, POLICY_NAMES, SETTINGS, check_value
from ips_agents.runs.files import atomic_write_text
from ips_envs.core.validation import check_int

ALGOS: dict[str, type[IPSGRPO]] = {"ips-grpo": IPSGRPO, "grpo": GRPO}
"""Algorithm names of a run -> classes."""
CONFIG_FILE = "config.json"
MODEL_FILE = "model.zip"
PROGRESS_FILE = "progress.csv"
POLICY_KWARGS = "policy_kwargs"
"""The one ``algo_kwargs`` key that is not in :data:`SETTINGS`: arguments of the policy (e.g. ``net_arch``)."""
ALGO_ONLY = {"grpo": ("ips_alpha", "ips_estimator")}
"""Settings an algorithm fixes itself (GRPO has no IPS): a config that sets them for it is refused."""


@dataclass
class RunConfig:
    """Everything needed to rebuild (or resume) a training run (JSON in ``config.json``).

    Args:
        env: a registered env id, e.g. ``"IPS/CausalDAG-v0"``.
        algo: ``"ips-grpo"`` or ``"grpo"``.
        policy: one of :data:`~ips_agents.algorithms.settings.POLICY_NAMES` (default ``"auto"``: the token policy
            where the env advertises entities, else the MLP).
        timesteps: recorded transitions in total.
        seed: seed of the model (parameters, tasks, sampling), an integer in [0, 2**32 - 1].
        env_kwargs: arguments of the env.
        algo_kwargs: algorithm settings the user set (keys of :data:`SETTINGS`, plus ``policy_kwargs``).
        task: a fixed task to train on (None: the env's task family).
    """

    env: str
    algo: str = "ips-grpo"
    policy: str = DEFAULT_POLICY
    timesteps: int = 100_000
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo_kwargs: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"env must be an env id such as 'IPS/CausalDAG-v0', got {self.env!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {sorted(ALGOS)}, got {self.algo!r}")
        if self.policy not in POLICY_NAMES:
            raise ValueError(f"policy must be one of {list(POLICY_NAMES)}, got {self.policy!r}")
        self.timesteps = check_int("timesteps", self.timesteps, 1)
        self.seed = check_int("seed", self.seed, 0, MAX_SEED)
        for name in ("env_kwargs", "algo_kwargs"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValueError(f"{name} must be a dict (a JSON object), got {getattr(self, name)!r}")
            setattr(self, name, dict(getattr(self, name)))
        if self.task is not None and not isinstance(self.task, Mapping):
            raise ValueError(f"task must be a dict (a JSON object) or None, got {self.task!r}")
        self._check_algo_kwargs()

    def _check_algo_kwargs(self) -> None:
        for key, value in self.algo_kwargs.items():
            if key == POLICY_KWARGS:
                if value is not None and not isinstance(value, Mapping):
                    raise ValueError(f"algo_kwargs['policy_kwargs'] must be a dict, got {value!r}")
                continue
            if key not in SETTINGS:
                raise ValueError(f"unknown algorithm setting {key!r} in algo_kwargs; expected some of "
                                 f"{[*SETTINGS, POLICY_KWARGS]}")
            self.algo_kwargs[key] = check_value(SETTINGS[key], value)
            if value is not None and key in ALGO_ONLY.get(self.algo, ()):
                raise ValueError(f"{key} cannot be set for algo {self.algo!r} (it has no inverse probability "
                                 f"scaling); use algo 'ips-grpo'")

    def setting(self, name: str) -> Any:
        """The value of algorithm setting ``name`` this run asks for: the one set, else the table's default."""
        value = self.algo_kwargs.get(name)
        return SETTINGS[name].default if value is None else value

    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the algorithm class: the settings that were set (None means "the default")."""
        return {k: v for k, v in self.algo_kwargs.items() if v is not None and k not in ALGO_ONLY.get(self.algo, ())}

    def env_kwargs_with_task(self) -> dict[str, Any]:
        """The env arguments of the run, including its fixed task (if any)."""
        kwargs = dict(self.env_kwargs)
        if self.task is not None:
            kwargs["task"] = self.task
        return kwargs

    def build_model(self) -> IPSGRPO:
        """A new model for this config."""
        return ALGOS[self.algo](self.policy, self.env, env_kwargs=self.env_kwargs_with_task(), seed=self.seed,
                                **self.model_kwargs())

    def save(self, folder: str | Path) -> None:
        """Write ``folder/config.json`` atomically."""
        atomic_write_text(Path(folder) / CONFIG_FILE, json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: str | Path) -> RunConfig:
        """The config of a run folder; FileNotFoundError / ValueError (corrupt file) name the path."""
        path = Path(folder) / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{str(path)!r} not found: is {str(folder)!r} a run folder made by `ips-rl train`?")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{str(path)!r} is corrupt (not JSON: {e})") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or "env" not in data or set(data) - names:
            raise ValueError(f"{str(path)!r} is not a run config: expected a JSON object with keys {sorted(names)}")
        try:
            return cls(**data)
        except ValueError as e:
            raise ValueError(f"{str(path)!r} is corrupt: {e}") from None


RUN_FIELDS: dict[str, str] = {
    "env": "env id, e.g. IPS/CausalDAG-v0 (required for a new run)",
    "algo": f"algorithm: one of {sorted(ALGOS)}",
    "policy": f"policy: one of {list(POLICY_NAMES)}; auto is the token policy where the env advertises entities, "
              "else the MLP",
    "timesteps": "recorded transitions in total",
    "seed": "seed of the model (parameters, tasks, sampling)",
    "env_kwargs": "JSON object of env arguments, e.g. '{\"n_nodes\": 4}'",
    "algo_kwargs": "algorithm settings (one flag each)",
    "task": "JSON task dict to train on (default: the env's task family)",
}
"""Help text of each :class:`RunConfig` field (the CLI's ``--help``)."""


def run_defaults() -> dict[str, Any]:
    """Every default a new run gets: the run-level fields (``env`` has none) and the algorithm settings."""
    out: dict[str, Any] = {}
    for f in fields(RunConfig):
        if f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
        elif f.default is not MISSING:
            out[f.name] = f.default
    out.pop("algo_kwargs")
    out.update({name: s.default for name, s in SETTINGS.items()})
    return out
