"""benchmarks/RESULTS.md is a report: one section per experiment and setting, replaced by a rerun."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from benchmarks import report


def test_table_escapes_pipes_so_rows_keep_their_columns():
    text = report.table(["method", "RR@5|H|"], [["a|b", 0.5]])
    for line in text.splitlines():
        unescaped = line.replace("\\|", "")
        assert unescaped.count("|") == 3, line
    assert "RR@5\\|H\\|" in text and "a\\|b" in text
    assert report.escape("already \\| escaped") == "already \\| escaped"


def test_anchor_follows_github_heading_ids():
    assert report.anchor("HyperGrid: exact sum-L1: 2D H=8 (quick)") == "hypergrid-exact-sum-l1-2d-h8-quick"


def test_rerun_replaces_its_section_and_keeps_the_others(tmp_path):
    results = tmp_path / "RESULTS.md"
    report.append_section("A: first", "| x |\n|---|\n| 1 |", results=results)
    report.append_section("B: second", "body B", results=results, seeds="0..2")
    report.append_section("A: first", "| x |\n|---|\n| 2 |", results=results)
    text = results.read_text()
    sections = report.parse_sections(text)
    assert list(sections) == ["A: first", "B: second"]
    assert "| 2 |" in sections["A: first"] and "| 1 |" not in text
    assert "* seeds: 0..2" in sections["B: second"]
    index = [line for line in text.splitlines() if line.startswith(report.INDEX_PREFIX)]
    assert index == [report.INDEX_PREFIX + "[A: first](#a-first) · [B: second](#b-second)"]
    assert text.count("## A: first") == 1


def test_section_titles_keep_settings_and_quick_runs_apart():
    assert report.section_title("HyperGrid", "2D H=8") == "HyperGrid: 2D H=8"
    assert report.section_title("HyperGrid", "2D H=8", quick=True) == "HyperGrid: 2D H=8 (quick)"
    assert report.section_title("HyperGrid") == "HyperGrid"


def _write(args: tuple[str, int]) -> None:
    path, i = args
    report.append_section(f"S{i}", f"body {i}", results=Path(path))


def test_concurrent_writers_lose_no_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    with mp.get_context("fork").Pool(3) as pool:
        pool.map(_write, [(str(results), i) for i in range(12)])
    assert sorted(report.parse_sections(results.read_text())) == sorted(f"S{i}" for i in range(12))
