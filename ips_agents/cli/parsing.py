"""What every ``ips-rl`` subcommand shares: the one-line user error, the parser class and value parsers."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from ips_agents.algorithms.settings import MAX_SEED, Setting, check_value


class UsageError(Exception):
    """A user error: :func:`ips_agents.cli.run_command` prints it as one line on stderr and exits with status 2."""


def one_line(message: object) -> str:
    """``message`` on one line (newlines and runs of spaces collapsed)."""
    return " ".join(str(message).split())


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``ips-rl train: error: ...``, exit status 2) and no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def json_object(text: str) -> dict[str, Any]:
    """A JSON object from the command line (ArgumentTypeError with an example otherwise)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"height\": 4}}', got {text!r}")
    return value


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """A parser of integers ``>= low`` (and ``<= high`` when given)."""
    expected = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    parse.__name__ = expected.removeprefix("an ")
    return parse


def float_at_least(low: float, strict: bool = False) -> Callable[[str], float]:
    """A parser of finite numbers ``>= low`` (``> low`` when ``strict``)."""
    bound = f"{'>' if strict else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}")
        return value

    parse.__name__ = f"number {bound}"
    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
positive_float = float_at_least(0.0, strict=True)
seed_int = int_at_least(0, MAX_SEED)
"""A seed: an integer in [0, 2**32 - 1] (numpy's legacy seeding, which SB3 uses, refuses larger ones)."""


def folder_path(text: str) -> str:
    """A folder path from the command line; an empty one is refused (it would mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder path such as 'runs/x', got {text!r}")
    return text


def check_env_id(env_id: str, ips_only: bool = False) -> None:
    """UsageError unless ``env_id`` is registered and meets the IPS env contract (``ips_only``: an ``IPS/`` id).

    An unknown id gets the list of registered ``IPS/`` ids; any other registered id is made once and must have
    Discrete actions and legal-action masks (the rest of the contract, :data:`~ips_agents.sampling.ENV_CONTRACT`,
    is checked while training).
    """
    import gymnasium as gym

    import ips_envs  # noqa: F401 (registers the IPS/ ids)
    from ips_agents.sampling import ENV_CONTRACT

    ids = ", ".join(sorted(k for k in gym.registry if k.startswith("IPS/")))
    try:
        gym.spec(env_id)
    except gym.error.Error as e:
        raise UsageError(f"unknown env id {env_id!r} ({one_line(e)}); registered IPS ids: {ids}") from None
    if env_id.startswith("IPS/"):
        return
    problem = "it is not an IPS/ env" if ips_only else _contract_problem(env_id)
    if problem:
        raise UsageError(f"{env_id!r} is not an IPS env ({problem}): an IPS env has {ENV_CONTRACT}; "
                         f"registered IPS ids: {ids}")


def _contract_problem(env_id: str) -> str | None:
    """What an env made from ``env_id`` lacks of the IPS contract that a reset can show, or None."""
    import gymnasium as gym

    env = gym.make(env_id)
    try:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            return f"its actions are {env.action_space}, not Discrete"
        _, info = env.reset(seed=0)
        if "action_mask" not in info and not callable(getattr(env.unwrapped, "action_masks", None)):
            return "it reports no legal-action masks"
        return None
    finally:
        env.close()


def setting_parser(setting: Setting) -> Callable[[str], Any]:
    """A parser of one algorithm setting's values, checked against its bounds in the settings table."""

    def parse(text: str) -> Any:
        try:
            return check_value(setting, setting.kind(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {setting.allowed()}, got {text!r}") from None

    parse.__name__ = setting.kind.__name__
    return parse
