"""What every ``ips-rl`` subcommand shares: the one-line user error, the parser class and value parsers."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from ips_agents.algorithms.settings import Setting, check_value


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


def int_at_least(low: int) -> Callable[[str], int]:
    """A parser of integers ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
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


def setting_parser(setting: Setting) -> Callable[[str], Any]:
    """A parser of one algorithm setting's values, checked against its bounds in the settings table."""

    def parse(text: str) -> Any:
        try:
            return check_value(setting, setting.kind(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {setting.allowed()}, got {text!r}") from None

    parse.__name__ = setting.kind.__name__
    return parse
