"""Write the full benchmark report into the site at docs build time, from ``benchmarks/RESULTS.md`` and its figures.

Run by mkdocs-gen-files (see mkdocs.yml). The report is copied as the benchmark scripts last wrote it; the
figure names each section mentions (``Figure: figures/x.png``) are embedded under that line, the figures are
copied from ``benchmarks/figures/``, and the GitHub-style index line is dropped (the page's table of contents
replaces it).
"""

from __future__ import annotations

import re
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
FIGURES = ROOT / "benchmarks" / "figures"
_FIGURE = re.compile(r"(?:benchmarks/)?figures/([\w.-]+\.png)")


def site_report(text: str, figures: set[str]) -> str:
    """``RESULTS.md`` as a site page: the index line dropped, each named figure that exists embedded after its line."""
    lines = []
    for line in text.splitlines():
        if line.startswith("**Index:**"):
            continue
        lines.append(line)
        shown = [name for name in _FIGURE.findall(line) if name in figures]
        if shown and "Figure" in line:
            lines += [""] + [f"![{name}](figures/{name})" for name in dict.fromkeys(shown)] + [""]
    return "\n".join(lines) + "\n"


def write_report() -> None:
    """Write ``results/report.md`` and ``results/figures/*.png``."""
    figures = {path.name for path in FIGURES.glob("*.png")}
    for name in sorted(figures):
        with mkdocs_gen_files.open(f"results/figures/{name}", "wb") as handle:
            handle.write((FIGURES / name).read_bytes())
    with mkdocs_gen_files.open("results/report.md", "w") as handle:
        handle.write(site_report(RESULTS.read_text(encoding="utf-8"), figures))
    mkdocs_gen_files.set_edit_path("results/report.md", Path("..") / "benchmarks" / "RESULTS.md")


if __name__ == "<run_path>":  # run by mkdocs-gen-files (runpy.run_path); importing writes nothing
    write_report()
