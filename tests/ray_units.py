"""Unit-of-work functions for tests/test_ray_tune.py (module level, so Ray workers import them by name)."""

from __future__ import annotations

import os
import time


def record(name: str, log: str, wait_for: str | None = None, timeout: float = 300.0) -> dict[str, str]:
    """Append ``name`` to the file ``log`` (one line per execution), then wait until ``wait_for`` exists."""
    with open(log, "a") as f:
        f.write(name + "\n")
    start = time.monotonic()
    while wait_for and not os.path.exists(wait_for) and time.monotonic() - start < timeout:
        time.sleep(0.1)
    return {"name": name}
