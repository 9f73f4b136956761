"""What every text face shares: the parse result, answer-line extraction, replay through the kernel.

A text face turns a task into a prompt for a language model and a completion back into the outcome key the
Gymnasium env would report. It never re-implements a domain: the answer is turned into the action sequence
that writes it, and that sequence is replayed through the env's own kernel (its legal-action masks decide
what is writable, its ``outcomes()`` gives the key and the validity), so a parsed answer and an env episode
that builds the same object always agree.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ips_envs.core import enumeration
from ips_envs.core.kernel import Kernel, State

PARSE_CACHE_SIZE = 65_536
"""Parsed answers remembered per face (a policy repeats its answers; parsing them again is wasted work)."""


@dataclass(frozen=True)
class ParseResult:
    """What a completion says, in the env's terms.

    Attributes:
        outcome: the env's canonical outcome key of the answer, or None when the completion holds no
            well-formed answer inside the env's hypothesis space.
        valid: True when the answer fits the task (the env's ``info["valid"]`` for the same object).
        reason: why the answer is not valid ("" when it is).
        answer: the answer text that was read (after its label, e.g. ``"A->B, B->C"``), "" when none was found.
    """

    outcome: str | None
    valid: bool
    reason: str
    answer: str = ""

    @property
    def parsed(self) -> bool:
        """True when the completion held a well-formed answer (``outcome`` is not None)."""
        return self.outcome is not None


def failure(reason: str, answer: str = "") -> ParseResult:
    """A completion without a usable answer."""
    return ParseResult(None, False, reason, answer)


class AnswerError(ValueError):
    """Raised inside a face while reading an answer; :meth:`TextFace.parse` turns it into a ParseResult."""


def find_label(lines: Sequence[str], label: str) -> int:
    """Index of the first line whose text starts with ``label:`` (case-insensitive, after optional markup)."""
    pattern = re.compile(rf"^[\s>*`#\-]*{re.escape(label)}\s*:", re.IGNORECASE)
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i
    return -1


def after_label(line: str, label: str) -> str:
    """The text after ``label:`` on ``line``, without surrounding whitespace, markup or final punctuation."""
    text = re.split(rf"{re.escape(label)}\s*:", line, maxsplit=1, flags=re.IGNORECASE)[1]
    text = text.strip(" \t`*")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text.rstrip(" .;")


def task_key(task: Mapping[str, Any]) -> str:
    """A hashable identity of a (validated) task dict."""
    return json.dumps(task, sort_keys=True, default=str)


class TextFace(ABC):
    """A domain's text face: prompts in HypoSpace's wording and a strict parser of its answer format.

    Build one with :func:`ips_envs.text.face`; ``kernel`` is the env's own kernel (the same arguments as
    ``gymnasium.make(env_id, **env_kwargs)``), ``fixed_task`` the env's ``task=`` argument (used when a method
    gets ``task=None``).
    """

    env_id: str
    label: str
    """The answer line's label (``"Graph"``, ``"Structure"``, ``"Expression"``, ``"SMILES"``)."""

    def __init__(self, kernel: Kernel, fixed_task: Mapping[str, Any] | None = None) -> None:
        self.kernel = kernel
        self.fixed_task = None if fixed_task is None else dict(fixed_task)
        self._tasks: dict[str, dict[str, Any]] = {}
        self._parsed: OrderedDict[tuple[str, str], ParseResult] = OrderedDict()

    # ------------------------------------------------------------------ tasks
    def task(self, task: Mapping[str, Any] | str | None = None) -> dict[str, Any]:
        """The validated task (``task`` given as a dict or as its JSON string; None = the fixed task)."""
        if task is None:
            if self.fixed_task is None:
                raise ValueError(f"{self.env_id}: pass a task (this face was built without task=)")
            task = self.fixed_task
        if isinstance(task, str):
            raw = task
            try:
                task = json.loads(task)
            except json.JSONDecodeError:
                raise ValueError(f"{self.env_id}: task strings must be JSON task dicts, got {raw[:80]!r}") from None
        key = task_key(task)
        hit = self._tasks.get(key)
        if hit is None:
            hit = self._tasks[key] = self.kernel.validate_task(task)
        return hit

    def hypotheses(self) -> list[str] | None:
        """Every outcome key of the hypothesis space (valid for some task or not), or None when not enumerable."""
        return None

    def admissible_outcomes(self, task: Mapping[str, Any] | str | None = None) -> frozenset[str]:
        """The task's admissible outcome keys (the env's ``admissible_outcomes()``)."""
        return enumeration.admissible_outcomes(self.kernel, self.task(task))

    # --------------------------------------------------------------- interface
    @abstractmethod
    def prompt(self, task: Mapping[str, Any] | str | None = None, prior: Iterable[str] = ()) -> str:
        """The prompt for ``task`` in HypoSpace's wording; ``prior`` lists earlier answers' outcome keys
        (HypoSpace shows them as "do not repeat"; "None" when empty)."""

    @abstractmethod
    def answer(self, outcome: str, task: Mapping[str, Any] | str | None = None) -> str:
        """The answer text (label line included) that writes the outcome key ``outcome``."""

    @abstractmethod
    def _read(self, lines: list[str], start: int, task: dict[str, Any]) -> tuple[str, list[int]]:
        """Read the answer starting at ``lines[start]`` (the label line): ``(answer text, env actions)``.

        Raises :class:`AnswerError` with the reason when the answer is malformed.
        """

    def reward(self, result: ParseResult, task: Mapping[str, Any] | str | None = None) -> float:
        """The env's reward for a parsed answer (1 for a valid answer, 0 otherwise: HypoSpace's binary reward)."""
        return 1.0 if result.valid else 0.0

    def with_prompt(self, completion: str, prompt: str) -> str:
        """``completion`` read as the continuation of ``prompt``: when the prompt ends with the bare answer label
        (the compact prompts end with ``Graph:``), that label line is put in front of the completion."""
        last = prompt.rstrip(" ").rsplit("\n", 1)[-1]
        if find_label([last], self.label) == 0 and not after_label(last, self.label):
            return last + completion
        return completion

    def parse(self, completion: Any, task: Mapping[str, Any] | str | None = None) -> ParseResult:
        """Read the answer in ``completion``: its outcome key, validity and the reason when it fails.

        Text before and after the answer is ignored; the first line with the answer label is the answer.
        Never raises on a completion (any string, or anything else, gives a :class:`ParseResult`); an invalid
        ``task`` raises ValueError.
        """
        task_v = self.task(task)
        if not isinstance(completion, str):
            return failure(f"the completion must be a string, got {type(completion).__name__}")
        cache_key = (task_key(task_v), completion)
        hit = self._parsed.get(cache_key)
        if hit is not None:
            self._parsed.move_to_end(cache_key)
            return hit
        result = self._parse(completion, task_v)
        self._parsed[cache_key] = result
        if len(self._parsed) > PARSE_CACHE_SIZE:
            self._parsed.popitem(last=False)
        return result

    def _parse(self, completion: str, task: dict[str, Any]) -> ParseResult:
        lines = completion.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        start = find_label(lines, self.label)
        if start < 0:
            return failure(f"no line starting with '{self.label}:' in the completion")
        text = after_label(lines[start], self.label)
        try:
            text, actions = self._read(lines, start, task)
            outcome, valid = self._replay(task, actions)
        except AnswerError as err:
            return failure(str(err), text)
        except (ValueError, KeyError, IndexError, OverflowError) as err:  # defensive: never raise on text
            return failure(f"unreadable answer: {err}", text)
        return ParseResult(outcome, valid, "" if valid else self._why_invalid(outcome, task), text)

    # ------------------------------------------------------------------ replay
    def _replay(self, task: dict[str, Any], actions: Sequence[int]) -> tuple[str, bool]:
        """Write ``actions`` with the kernel (masks checked at every step); ``(outcome key, valid)``."""
        kernel = self.kernel
        state = kernel.initial_state([task])
        done = False
        for i, a in enumerate(actions):
            if done:
                raise AnswerError("the answer continues after the object is complete")
            if not kernel.legal_actions(state)[0, a]:
                raise AnswerError(self._illegal(state, int(a), task))
            done = bool(kernel.apply(state, np.array([a], dtype=np.int64))[0])
        if not done:
            raise AnswerError("the answer is incomplete")
        return self._outcome(state)

    def _outcome(self, state: State) -> tuple[str, bool]:
        keys, _, valid = self.kernel.outcomes(state)
        return keys[0], bool(valid[0])

    def _illegal(self, state: State, action: int, task: dict[str, Any]) -> str:
        """Why the env does not allow ``action`` in ``state`` (the answer steps outside its space)."""
        return f"the {self.kernel.domain} env cannot write this answer (action {action} is masked)"

    def _why_invalid(self, outcome: str, task: dict[str, Any]) -> str:
        """Why a well-formed answer does not fit the task."""
        return "the answer does not fit the observations"
