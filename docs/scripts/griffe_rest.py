"""A griffe extension for the API reference: the reST habits of the docstrings, rendered as Markdown.

The docstrings are Google-style with a few reStructuredText constructs that Markdown shows raw: roles
(``:class:`~ips_agents.IPSGRPO```), literal blocks introduced by ``::`` and simple tables framed by ``===`` rules.
:func:`rest_to_markdown` rewrites those three (roles become code spans, ``::`` blocks fenced code, simple tables
Markdown tables) before mkdocstrings parses a docstring. Loaded from mkdocs.yml (``extensions:``); it changes
what the site shows, never the source.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:data|class|func|meth|attr|mod|obj|exc|const):`(~?)([^`]+)`")
_RULE = re.compile(r"^(\s*)(=+)( +=+)+\s*$")


def _role(match: re.Match[str]) -> str:
    """``:class:`~a.b.C``` -> ```C```; ``:func:`a.b``` -> ```a.b```."""
    target = match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def _columns(rule: str) -> list[tuple[int, int]]:
    """Start and end of each ``===`` run of a simple table's rule line."""
    return [(m.start(), m.end()) for m in re.finditer(r"=+", rule)]


def _table(lines: list[str]) -> list[str]:
    """A reST simple table (rule, header, rule, rows, rule) as Markdown table lines."""
    spans = _columns(lines[0])
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]

    def cells(line: str) -> list[str]:
        parts = [line[start: spans[i + 1][0]] if i + 1 < len(spans) else line[start:]
                 for i, (start, _) in enumerate(spans)]
        return [part.strip().replace("|", "\\|") for part in parts]

    body = [line for line in lines[1:] if not _RULE.match(line) and line.strip()]
    header, rows = cells(body[0]), [cells(line) for line in body[1:]]
    out = [indent + "| " + " | ".join(header) + " |", indent + "|" + "---|" * len(header)]
    return out + [indent + "| " + " | ".join(row) + " |" for row in rows]


def _tables(lines: list[str]) -> list[str]:
    """Every simple table of ``lines`` converted (a table ends at its third rule line)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _RULE.match(lines[i]):
            rules = [j for j in range(i, len(lines)) if _RULE.match(lines[j])][:3]
            if len(rules) == 3:
                out += _table(lines[i: rules[2] + 1])
                i = rules[2] + 1
                continue
        out.append(lines[i])
        i += 1
    return out


def _literal_blocks(lines: list[str]) -> list[str]:
    """``text::`` + an indented block -> ``text:`` + a fenced code block (a bare ``::`` line is dropped)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            out.append(line)
            i += 1
            continue
        base = len(line) - len(line.lstrip())
        start = i + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        end = start
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > base):
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        if end == start:  # no indented block follows: not a literal block
            out.append(line)
            i += 1
            continue
        text = line.rstrip()[:-2].rstrip()
        if text.strip():
            out += [text + ":", ""]
        block = lines[start:end]
        cut = min(len(b) - len(b.lstrip()) for b in block if b.strip())
        out += [" " * base + "```python", *(" " * base + b[cut:] for b in block), " " * base + "```", ""]
        i = end
    return out


def rest_to_markdown(text: str) -> str:
    """The docstring ``text`` with reST roles, ``::`` literal blocks and simple tables as Markdown."""
    lines = _literal_blocks(_tables(text.splitlines()))
    return _ROLE.sub(_role, "\n".join(lines))


class RestToMarkdown(griffe.Extension):
    """Rewrites each docstring with :func:`rest_to_markdown` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called for every module, class, function and attribute griffe loads."""
        if obj.docstring is not None:
            obj.docstring.value = rest_to_markdown(obj.docstring.value)
