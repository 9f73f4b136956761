"""Benchmark scripts: each prints a table and appends a dated section to benchmarks/RESULTS.md.

Torch runs single-threaded here so that side-by-side timings are not distorted by thread contention
(the machines have 2 cores and the scripts may run two at a time).
"""

import torch

torch.set_num_threads(1)
