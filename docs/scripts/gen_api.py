"""Write the API reference pages at docs build time: one page per public module of ``ips_envs`` and ``ips_agents``.

Run by mkdocs-gen-files (see mkdocs.yml). The script walks the package folders on disk, so the reference follows
whatever module layout the packages have when the site is built: a module that moves or a new subpackage needs
no edit here. Every page is one ``::: module`` block rendered by mkdocstrings from the module's docstrings.

Optional extras (TRL, transformers, Ray, TorchRL, Tianshou, verl, ...): mkdocstrings reads the source with
griffe's static analysis (``allow_inspection: false`` in mkdocs.yml), so no module is imported to document it,
and a module that imports an extra documents the same whether the extra is installed or not. To keep that true,
:func:`block_optional_extras` makes importing those libraries fail for the rest of the build: a page that would
only render with an extra installed breaks ``make docs`` at once instead of on a user's machine.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ips_envs", "ips_agents")
OPTIONAL_EXTRAS = ("trl", "transformers", "datasets", "accelerate", "ray", "torchrl", "tensordict", "tianshou",
                   "verl", "vllm")
"""Top-level modules of the optional extras; the docs build must not need any of them."""
REFERENCE = Path("reference")


class _BlockExtras(importlib.abc.MetaPathFinder):
    """A finder that refuses the optional extras (the docs build runs as if none were installed)."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.split(".")[0] in OPTIONAL_EXTRAS:
            raise ImportError(f"the docs build does not import optional extras ({fullname} was asked for)")
        return None


def block_optional_extras() -> None:
    """Make ``import trl`` (and the other :data:`OPTIONAL_EXTRAS`) fail in this process from now on."""
    if not any(isinstance(finder, _BlockExtras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BlockExtras())


def public_modules(package: str, root: Path = ROOT) -> Iterator[tuple[str, ...]]:
    """Dotted-name parts of every public module under ``package`` (``__init__`` as the package), sorted."""
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        elif parts[-1] == "__main__":
            continue
        if any(part.startswith("_") for part in parts):
            continue
        if not all((root / Path(*parts[:i]) / "__init__.py").exists() for i in range(1, len(parts))):
            continue  # a folder without __init__.py (data, scripts) is not a package
        yield parts


def module_page(parts: tuple[str, ...]) -> str:
    """The Markdown of one module's reference page."""
    return f"::: {'.'.join(parts)}\n"


def write_reference() -> None:
    """Write ``reference/<package>/<module>.md`` for every public module and the section's ``SUMMARY.md``."""
    nav = mkdocs_gen_files.Nav()
    for package in PACKAGES:
        for parts in public_modules(package):
            doc_path = Path(*parts, "index.md") if (ROOT / Path(*parts) / "__init__.py").exists() \
                else Path(*parts).with_suffix(".md")
            nav[parts] = doc_path.as_posix()
            with mkdocs_gen_files.open(REFERENCE / doc_path, "w") as handle:
                handle.write(module_page(parts))
            source = Path(*parts, "__init__.py") if doc_path.name == "index.md" else Path(*parts).with_suffix(".py")
            mkdocs_gen_files.set_edit_path(REFERENCE / doc_path, Path("..") / source)
    with mkdocs_gen_files.open(REFERENCE / "SUMMARY.md", "w") as handle:
        handle.writelines(nav.build_literate_nav())


if __name__ == "<run_path>":  # run by mkdocs-gen-files (runpy.run_path); importing writes nothing
    block_optional_extras()
    write_reference()
