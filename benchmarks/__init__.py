"""Benchmark scripts: each prints a table and writes its section of benchmarks/RESULTS.md (a rerun replaces it).

Torch runs single-threaded here so that side-by-side timings are not distorted by thread contention
(the machines have 2 cores and the scripts may run two at a time).
"""

import torch

torch.set_num_threads(1)
