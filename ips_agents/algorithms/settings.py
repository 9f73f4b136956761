"""The one table of IPS-GRPO's settings: names, defaults, bounds, choices and help text.

Every place that states a default reads it from :data:`SETTINGS`: the signature of
:class:`~ips_agents.algorithms.ips_grpo.IPSGRPO`, :class:`~ips_agents.runs.config.RunConfig` (the run
settings of ``ips-rl train`` and sweeps) and the ``ips-rl train`` flags with their ``--help`` text. So a user
who moves from the CLI to Python (or back) gets the same algorithm, and ``tests/test_settings.py`` checks that
this holds.

A default of ``None`` means "chosen when the env is attached": the estimator depends on whether the env reports
path counts, and the probability floor, the advantage normalisation and the learning rate depend on the
estimator (:func:`resolve_estimator_defaults`; the reasons, with numbers, are in the IPS-GRPO docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch as th
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.common.utils import LinearSchedule

from ips_agents import estimators
from ips_envs.core.validation import check_float, check_int

ESTIMATOR_NAMES = tuple(estimators.ESTIMATORS)
"""The ``ips_estimator`` names (see :mod:`ips_agents.estimators`)."""
POLICY_NAMES = ("auto", "MlpPolicy", "MultiInputPolicy", "TokenPolicy")
"""Policy names the algorithms and run configs accept (``auto``: see :func:`~ips_agents.algorithms.base.default_policy_class`)."""
DEFAULT_POLICY = "auto"
"""The policy of a run when none is named (the CLI's and :class:`~ips_agents.runs.config.RunConfig`'s)."""

CONSTANT_LEARNING_RATE = 1e-3
"""Constant Adam learning rate of the count estimator and of GRPO."""
DECAYING_LEARNING_RATE_START = 3e-3
"""Start of the default learning rate of the probability-based estimators (it falls linearly to 0)."""
DEFAULT_N_GROUPS = 4
"""``n_groups`` when the env is given by id (a vector env's ``num_envs`` sets it otherwise)."""
MAX_ENV_COPIES = 2**20
"""Largest ``group_size * n_groups`` (env copies stepped together); also the bound of each of the two."""
MAX_SEED = 2**32 - 1
"""Largest seed: numpy's legacy seeding, which SB3 uses, takes integers in [0, 2**32 - 1]."""
EXPLORE_EPS = 0.05
"""Default exploration rate of the probability-based estimators (benchmarks/large_spaces.py)."""
EXPLORE_SCHEDULES = ("linear", "constant")
COUNT_EPS = 0.01
"""Default ``ips_eps`` of the count estimator (the best cell of benchmarks/ablation.py)."""
PROBABILITY_EPS = 1e-6
"""Default ``ips_eps`` of the probability-based estimators (only an underflow guard)."""


@dataclass(frozen=True)
class Setting:
    """One algorithm setting: its default and how a user may set it.

    Args:
        name: the keyword argument of :class:`IPSGRPO` (and key of ``RunConfig.algo_kwargs``); the CLI flag is
            ``--`` + the name with ``-`` for ``_``.
        default: the value used when the setting is not given (None: resolved when the env is attached).
        kind: ``int``, ``float`` or ``str``.
        help: one sentence for ``--help`` and the docs, including what a None default resolves to.
        low: smallest allowed value (numbers), excluded when ``low_open``.
        high: largest allowed value (numbers), or None.
        choices: the allowed strings (``kind=str``).
        cli: whether ``ips-rl train`` has a flag for it.
    """

    name: str
    default: Any
    kind: type
    help: str
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    choices: tuple[str, ...] | None = None
    cli: bool = True

    @property
    def flag(self) -> str:
        """The ``ips-rl train`` flag, e.g. ``--group-size``."""
        return "--" + self.name.replace("_", "-")

    def describe_default(self) -> str:
        """The default as ``--help`` shows it."""
        return "see below" if self.default is None else repr(self.default)

    def allowed(self) -> str:
        """What a value must be, e.g. ``an integer >= 2`` or ``one of ['group', 'batch', 'none']``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        bounds = []
        number = (lambda x: str(int(x))) if self.kind is int else (lambda x: f"{x:g}")
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {number(self.low)}")
        if self.high is not None:
            bounds.append(f"<= {number(self.high)}")
        kind = "an integer" if self.kind is int else "a finite number"
        return " ".join([kind, " and ".join(bounds)]).strip()


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("group_size", 16, int, "G, trajectories per task instance (>= 2: advantages are group-relative)", low=2,
            high=MAX_ENV_COPIES),
    Setting("n_groups", None, int, f"B, task instances per update; default {DEFAULT_N_GROUPS}, or num_envs // "
            "group_size when the env is a vector env", low=1, high=MAX_ENV_COPIES),
    Setting("ips_alpha", 1.0, float, "tempering exponent: rewards are divided by p ** ips_alpha; 0 is GRPO",
            low=0.0, high=1.0),
    Setting("ips_eps", None, float, f"probability floor of the IPS weight; default {COUNT_EPS} with the count "
            f"estimator, {PROBABILITY_EPS} with the others", low=0.0, low_open=True, high=1.0),
    Setting("ips_estimator", None, str, "how p(outcome) is estimated; default paths where the env reports path "
            "counts, else count", choices=ESTIMATOR_NAMES),
    Setting("advantage_norm", None, str, "divide advantages by the group std, the batch std, or not at all; "
            "default group with the count estimator, none with the others", choices=estimators.ADVANTAGE_NORMS),
    Setting("explore_eps", None, float, "sample from (1 - eps) * policy + eps * uniform over legal actions, with the "
            f"exact off-policy correction; default {EXPLORE_EPS} with the paths / exact / trajectory estimators, 0 "
            "with the count estimator and GRPO", low=0.0, high=0.99),
    Setting("explore_schedule", "linear", str, "linear: the exploration rate falls linearly to 0 over each learn() "
            "call (as the default learning rate); constant: it stays at explore_eps", choices=EXPLORE_SCHEDULES),
    Setting("clip_range", 0.2, float, "PPO ratio clipping", low=0.0, low_open=True),
    Setting("n_epochs", 1, int, "gradient passes over each batch", low=1),
    Setting("minibatch_size", None, int, "trajectories per gradient step (default: the whole batch)", low=1),
    Setting("learning_rate", None, float, f"Adam learning rate; default {DECAYING_LEARNING_RATE_START:g} falling "
            f"linearly to 0 over each learn() call with the paths / exact / trajectory estimators, a constant "
            f"{CONSTANT_LEARNING_RATE:g} with the count estimator and GRPO", low=0.0),
    Setting("ent_coef", 0.0, float, "entropy bonus (per-trajectory summed entropy)", low=0.0),
    Setting("kl_coef", 0.0, float, "weight of the k3 KL estimate to a frozen copy of the initial policy", low=0.0),
    Setting("max_grad_norm", 1.0, float, "gradient-norm clip", low=0.0, low_open=True),
    Setting("torch_threads", 1, int, "torch CPU threads while learn() runs (restored after)", low=1),
)}
"""Every IPS-GRPO setting, by name (the order is the order of ``--help``)."""


@dataclass(frozen=True)
class EstimatorDefaults:
    """The settings that default per estimator (see :func:`resolve_estimator_defaults`)."""

    ips_estimator: str
    ips_eps: float
    advantage_norm: str
    learning_rate: float | Schedule
    explore_eps: float = 0.0


def default_estimator(ips_alpha: float, env_has_path_counts: bool | None) -> str:
    """``paths`` where IPS is on and the env reports path counts, else ``count`` (GRPO keeps the count defaults)."""
    return "paths" if ips_alpha > 0 and env_has_path_counts else "count"


def resolve_estimator_defaults(estimator: str, ips_alpha: float, ips_eps: float | None, advantage_norm: str | None,
                               learning_rate: float | Schedule | None, explore_eps: float | None = None
                               ) -> EstimatorDefaults:
    """Fill the settings left at None for ``estimator``: the one place defaults are resolved.

    Probability-based estimators (paths, exact, trajectory) get ``ips_eps`` :data:`PROBABILITY_EPS`, no advantage
    normalisation and a learning rate falling linearly from :data:`DECAYING_LEARNING_RATE_START` to 0; the count
    estimator (and GRPO, ``ips_alpha == 0``, for the learning rate) gets :data:`COUNT_EPS`, group normalisation
    and the constant :data:`CONSTANT_LEARNING_RATE`. Exploration (:data:`EXPLORE_EPS`) is on by default only with
    the probability-based estimators and IPS on: their exact off-policy correction needs ``p(tau)``, and outcomes the
    policy has nearly lost are then still sampled and weighted back (the count estimator cannot see them).
    """
    found = estimators.get_estimator(estimator)
    probabilities = found.from_probabilities
    if learning_rate is None:
        learning_rate = (LinearSchedule(DECAYING_LEARNING_RATE_START, 0.0, 1.0) if probabilities and ips_alpha > 0
                         else CONSTANT_LEARNING_RATE)
    return EstimatorDefaults(
        ips_estimator=found.name,
        ips_eps=(PROBABILITY_EPS if probabilities else COUNT_EPS) if ips_eps is None else ips_eps,
        advantage_norm=("none" if probabilities else "group") if advantage_norm is None else advantage_norm,
        learning_rate=learning_rate,
        explore_eps=(EXPLORE_EPS if probabilities and ips_alpha > 0 else 0.0) if explore_eps is None else explore_eps,
    )


def check_device(device: Any) -> None:
    """ValueError unless ``device`` is ``"auto"``, a ``torch.device`` or a string torch reads as one."""
    if isinstance(device, th.device) or device == "auto":
        return
    try:
        th.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>', 'mps' or a torch.device, "
                         f"got {device!r}") from None


def check_value(setting: Setting, value: Any) -> Any:
    """``value`` if ``setting`` allows it (None always is: the default); else ValueError naming both."""
    if value is None:
        return None
    if setting.choices is not None:
        if value not in setting.choices:
            raise ValueError(f"{setting.name} must be one of {list(setting.choices)}, got {value!r}")
        return value
    if setting.kind is int:
        return check_int(setting.name, value, int(setting.low if setting.low is not None else -2**63),
                         None if setting.high is None else int(setting.high))
    return check_float(setting.name, value, setting.low, setting.high, low_open=setting.low_open)
