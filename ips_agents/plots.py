"""PNG figures: recovery curves, outcome histograms against the target, 2D grid distributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def plot_recovery(curves: Mapping[str, np.ndarray], path: str | Path, title: str = "Recovery rate",
                  n_admissible: int | None = None, multiples: np.ndarray | None = None) -> Path:
    """RR(S) against the number of samples S, one line per label.

    With ``multiples``, the curves are on that grid of S / |admissible| (see
    :func:`ips_agents.evaluation.mean_recovery_curve`) and the x axis is linear in S / |admissible|.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in curves.items():
        curve = np.asarray(curve)
        ax.plot(np.arange(1, len(curve) + 1) if multiples is None else multiples, curve, label=label)
    if n_admissible:
        ax.axvline(n_admissible, color="grey", ls=":", lw=1, label="S = |admissible|")
    if multiples is None:
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples S" if multiples is None else "samples S / |admissible|")
    ax.set_ylabel("RR(S)")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def plot_outcome_bars(dists: Mapping[str, Mapping[str, float]], target: Mapping[str, float], path: str | Path,
                      title: str = "Outcome distribution", top: int = 30) -> Path:
    """Side-by-side bars of several outcome distributions and the target, over the most likely outcomes."""
    plt = _plt()
    keys = sorted(set(target) | {k for d in dists.values() for k in d},
                  key=lambda k: (-target.get(k, 0.0), -max(d.get(k, 0.0) for d in dists.values())))[:top]
    series = {"target": target, **dists}
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(keys) + 2), 4))
    xs = np.arange(len(keys))
    for i, (label, d) in enumerate(series.items()):
        ax.bar(xs + (i - (len(series) - 1) / 2) * width, [d.get(k, 0.0) for k in keys], width, label=label)
    ax.set_xticks(xs, [k if k else "(empty)" for k in keys], rotation=70, fontsize=7)
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def plot_grids(dists: Mapping[str, Mapping[str, float]], height: int, path: str | Path,
               title: str = "HyperGrid 2D") -> Path:
    """Heat maps of 2D HyperGrid outcome distributions (keys "x,y"), one panel per label."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(dists), figsize=(3.2 * len(dists), 3.2))
    axes = np.atleast_1d(axes)
    vmax = max(max(d.values(), default=0.0) for d in dists.values())
    for ax, (label, d) in zip(axes, dists.items(), strict=True):
        grid = np.zeros((height, height))
        for key, p in d.items():
            if "," in key:
                x, y = map(int, key.split(","))
                grid[y, x] = p
        ax.imshow(grid, origin="lower", vmin=0, vmax=vmax, cmap="viridis")
        ax.set_title(label, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return _save(fig, path)


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, xlabel: str,
                ylabel: str, title: str, logy: bool = False) -> Path:
    """Generic line plot: label -> (xs, ys)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)
