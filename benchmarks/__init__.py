"""Benchmark scripts: each prints a table and appends a dated section to benchmarks/RESULTS.md."""
