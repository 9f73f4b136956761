"""Text face of ``IPS/SMILES-v0``: the completion is the molecule.

The prompt ends with ``SMILES:``, so a completion is the molecule itself (``CCO``); a completion that holds a
``SMILES: ...`` line is read from that line instead. The molecule must be one whitespace-free SMILES string
that RDKit accepts and that the env can write: it is converted to the env's token language
(:func:`ips_envs.smiles.to_env_smiles`: kekulé form, no stereo) and replayed through the env's grammar masks
(vocabulary, valence, rings, branches, ``max_length``). The outcome is the RDKit canonical SMILES, the env's
key; the reward is the env's oracle (:meth:`SMILESFace.reward`), charged to its budget like an env episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import re

import ips_envs.smiles.grammar as G
from ips_envs.core.kernel import State
from ips_envs.smiles.kernel import canonical_or_none, to_env_smiles
from ips_envs.text.base import AnswerError, ParseResult, TextFace, after_label, failure, find_label

_BRACKET_H = re.compile(r"\[([A-Z][a-z]?)H\d*\]")


class SMILESFace(TextFace):
    """Prompts and answers for molecule generation (see the module docstring)."""

    env_id = "IPS/SMILES-v0"
    label = "SMILES"

    def prompt(self, task: Mapping[str, Any] | str | None = None, prior: Iterable[str] = (),
               compact: bool = False) -> str:
        """A request for one molecule, ending with ``SMILES:`` (``compact=True``: only that label)."""
        self.task({} if task is None else task)
        if compact:
            return "SMILES:"
        k = self.kernel
        atoms = "C, N, O, S, F, Cl, Br" + (" and aromatic c, n, o, s" if k.aromatic else "")
        form = "" if k.aromatic else " in kekulé form (explicit double bonds, no lower-case aromatic atoms)"
        prior_lines = "\n".join(f"SMILES: {p}" for p in prior)
        avoid = f"\nMolecules proposed before (do not repeat):\n{prior_lines}\n" if prior_lines else ""
        return (f"Propose one molecule with a high {k.oracle.name} score.{avoid}\n"
                f"Write it as a single SMILES string{form}, using the atoms {atoms}, at most {k.length_cap} "
                "tokens, no charges and no stereochemistry.\nSMILES:")

    def answer(self, outcome: str, task: Mapping[str, Any] | str | None = None) -> str:
        """``SMILES: <molecule>`` in a spelling the env can write (kekulé form unless ``aromatic=True``)."""
        for spelling in reversed(self._spellings(outcome)):
            if canonical_or_none(spelling) == canonical_or_none(outcome):
                return f"SMILES: {spelling}"
        return f"SMILES: {outcome}"

    def parse(self, completion: Any, task: Mapping[str, Any] | str | None = None) -> ParseResult:
        return super().parse(completion, {} if task is None else task)

    def _parse(self, completion: str, task: dict[str, Any]) -> ParseResult:
        lines = completion.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        start = find_label(lines, self.label)
        if start >= 0:
            text = after_label(lines[start], self.label)
        else:
            text = next((line.strip() for line in lines if line.strip()), "")
        if not text:
            return failure("the completion holds no SMILES string")
        if any(ch.isspace() for ch in text):
            return failure(f"{text!r} is not one SMILES string (it contains whitespace)", text)
        target = canonical_or_none(text)
        if target is None:
            return failure(f"RDKit cannot read {text!r} as a molecule", text)
        reasons: list[str] = []
        for candidate in self._spellings(text):
            try:
                outcome, valid = self._replay(task, G.encode(candidate))
            except AnswerError as err:  # the grammar masks refuse it: the most telling reason
                reasons.insert(0, str(err))
                continue
            except ValueError as err:  # a token outside the vocabulary
                reasons.append(str(err))
                continue
            if outcome == target:
                return ParseResult(outcome, valid, "", text)
        return failure(f"the env cannot write {text!r}: {reasons[0] if reasons else 'it is another molecule'}", text)

    def _spellings(self, text: str) -> list[str]:
        """The answer as written, in the env's token language, and that without bracketed hydrogen counts."""
        env_form = to_env_smiles(text, aromatic=self.kernel.aromatic, check_tokens=False)
        out = [text, env_form]
        out.append(_BRACKET_H.sub(r"\1", env_form))  # [SH] -> S: RDKit's default valence gives the same H count
        return list(dict.fromkeys(out))

    def _read(self, lines: list[str], start: int, task: dict[str, Any]) -> tuple[str, list[int]]:
        text = after_label(lines[start], self.label)
        return text, G.encode(self._spellings(text)[-1])

    def _outcome(self, state: State) -> tuple[str, bool]:
        # the kernel's outcomes() would also score the molecule (an oracle call); the key alone is wanted here
        key = canonical_or_none(self.kernel.smiles(state)[0])
        if key is None:
            raise AnswerError("RDKit rejects the molecule in the env's token language")
        return key, True

    def _illegal(self, state: State, action: int, task: dict[str, Any]) -> str:
        token = G.END_TOKEN if action == G.END else G.VOCAB[action]
        return (f"the env's grammar does not allow {token!r} after {self.kernel.smiles(state)[0]!r} "
                f"(max_length={self.kernel.length_cap}, valence, ring and branch rules)")

    def reward(self, result: ParseResult, task: Mapping[str, Any] | str | None = None) -> float:
        """The env's oracle score of a valid molecule (cached and budgeted by the oracle), 0 otherwise."""
        return self.kernel.oracle.score_canonical(result.outcome) if result.valid and result.outcome else 0.0
