"""Training the SMILES prior (:class:`~ips_agents.molecules.prior.SmilesPrior`) on MOSES: data, fitting, the recipe.

The MOSES training set comes from the ``molsets`` wheel (``pip install --no-deps molsets``), read as a file and
never imported; it is not a runtime dependency of the library. ``ips-rl prior train`` calls :func:`train_prior`.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from torch import nn

from ips_agents.molecules.prior import SmilesPrior, pad_sequences
from ips_envs.smiles.grammar import encode

MOLSETS_INSTALL = ".venv/bin/pip install --no-deps molsets"
"""The command that installs the MOSES data (used only to train a prior)."""

__all__ = ["encode_for_env", "fit", "load_moses_smiles", "moses_train_path", "train_prior", "validity"]


# ------------------------------------------------------------------------------------------- data
def moses_train_path() -> Path:
    """``moses/dataset/data/train.csv.gz`` of the installed ``molsets`` wheel, located without importing it."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "training a prior needs the MOSES SMILES shipped in the `molsets` wheel (data only, not a runtime "
            f"dependency); install it with: {MOLSETS_INSTALL}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "data" / "train.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"the installed `moses` package has no {path}; reinstall with: {MOLSETS_INSTALL}")
    return path


def load_moses_smiles(n: int | None = None, seed: int = 0) -> list[str]:
    """MOSES training SMILES (all 1,584,663, or a seeded random subset of ``n``), as in the file."""
    with gzip.open(moses_train_path(), "rt") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header[:1] != ["SMILES"]:
            raise ValueError(f"unexpected MOSES header {header!r}; expected ['SMILES']")
        smiles = [row[0] for row in reader if row]
    if n is not None:
        if n < 1:
            raise ValueError(f"n_molecules must be positive, got {n!r}")
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(smiles), size=min(n, len(smiles)), replace=False)
        smiles = [smiles[i] for i in idx]
    return smiles


def validity(smiles: Sequence[str]) -> float:
    """Fraction of strings RDKit parses and sanitises."""
    from ips_envs.smiles.scoring import mol_from_smiles

    if not smiles:
        return 0.0
    return sum(mol_from_smiles(s) is not None for s in smiles) / len(smiles)


def encode_for_env(smiles: Sequence[str], max_length: int = 60) -> tuple[list[list[int]], int]:
    """Env action sequences (kekulé, end token included) of ``smiles``; drops invalid or too long ones.

    Returns the sequences and the number dropped.
    """
    from ips_envs.smiles import to_env_smiles

    out, dropped = [], 0
    for s in smiles:
        try:
            seq = encode(to_env_smiles(s))
        except ValueError:
            dropped += 1
            continue
        if len(seq) - 1 > max_length:
            dropped += 1
            continue
        out.append(seq)
    return out, dropped


# --------------------------------------------------------------------------------------- training
def _lr_factor(progress: float, floor: float = 0.1) -> float:
    """Cosine decay from 1 to ``floor`` as ``progress`` goes from 0 to 1."""
    p = min(max(progress, 0.0), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p))


def fit(
    model: SmilesPrior,
    sequences: Sequence[Sequence[int]],
    *,
    steps: int | None = None,
    epochs: float | None = None,
    minutes: float | None = None,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    lr_decay: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Teacher-forced training of ``model`` on action sequences (Adam, gradient clip 1).

    Stops at the first of ``steps``, ``epochs`` (passes over the data) and ``minutes`` of wall time (at
    least one must be given). With ``lr_decay`` the learning rate follows a cosine from ``lr`` to ``lr/10``
    over the planned run (by steps/epochs, or by elapsed time when only ``minutes`` is given). Returns
    ``{"steps", "epochs", "seconds", "first_loss", "last_loss"}`` (losses averaged over 50 steps).
    """
    if steps is None and epochs is None and minutes is None:
        raise ValueError("give at least one of steps, epochs or minutes")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if len(sequences) == 0:
        raise ValueError("no training sequences")
    data = pad_sequences(sequences)
    n = len(data)
    per_epoch = math.ceil(n / batch_size)
    planned = [s for s in (steps, None if epochs is None else int(math.ceil(epochs * per_epoch))) if s is not None]
    max_steps = min(planned) if planned else None
    gen = th.Generator().manual_seed(seed)
    th.manual_seed(seed)
    opt = th.optim.Adam(model.parameters(), lr=lr)
    model.train()
    t0 = time.monotonic()
    budget_s = None if minutes is None else 60.0 * minutes
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps if max_steps is not None else int(budget_s or 0),
                   unit="step" if max_steps is not None else "s", desc="prior", dynamic_ncols=True)
    losses: list[float] = []
    first = None
    step = 0
    done = False
    while not done:
        order = th.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            elapsed = time.monotonic() - t0
            if (max_steps is not None and step >= max_steps) or (budget_s is not None and elapsed >= budget_s):
                done = True
                break
            if lr_decay:
                frac = step / max_steps if max_steps is not None else elapsed / budget_s  # type: ignore[operator]
                if max_steps is not None and budget_s is not None:
                    frac = max(frac, elapsed / budget_s)
                for g in opt.param_groups:
                    g["lr"] = lr * _lr_factor(frac)
            batch = data[order[start : start + batch_size]]
            width = int((batch >= 0).sum(dim=1).max())
            loss = model.nll_loss(batch[:, :width])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            losses.append(loss.item())
            if len(losses) == 50 and first is None:
                first = float(np.mean(losses))
            if bar is not None:
                if max_steps is not None:
                    bar.update(1)
                else:
                    bar.n = int(time.monotonic() - t0)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", epoch=f"{step / per_epoch:.2f}")
                    bar.refresh()
    if bar is not None:
        bar.close()
    model.eval()
    return {
        "steps": step,
        "epochs": step / per_epoch,
        "seconds": time.monotonic() - t0,
        "first_loss": first if first is not None else (float(np.mean(losses)) if losses else float("nan")),
        "last_loss": float(np.mean(losses[-50:])) if losses else float("nan"),
    }


def train_prior(
    out: str | os.PathLike[str],
    n_molecules: int = 200_000,
    minutes: float | None = 40.0,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 1e-3,
    epochs: float | None = None,
    max_length: int = 60,
    n_validity: int = 1000,
    progress: bool = True,
    smiles: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train a :class:`SmilesPrior` on MOSES (kekulé env tokens) and save it to ``out``.

    Args:
        out: checkpoint path (written atomically).
        n_molecules: size of the seeded random MOSES subset (None: all 1.58 M).
        minutes: wall-time budget (None: no limit; then give ``epochs``).
        seed: seeds the subset, the initialisation, the batch order and the validity samples.
        batch_size, lr: Adam training settings (cosine decay to ``lr/10``).
        epochs: optional cap on passes over the subset.
        max_length: longest token sequence kept (the env's ``max_length``).
        n_validity: unmasked samples drawn at the end to measure RDKit validity.
        progress: show a tqdm bar.
        smiles: training SMILES to use instead of MOSES (tests, custom data).

    Returns the metadata stored in the checkpoint (data, timings, losses, validity).
    """
    if minutes is None and epochs is None:
        raise ValueError("give minutes and/or epochs, otherwise training never stops")
    th.manual_seed(seed)
    t0 = time.monotonic()
    source = "custom SMILES list"
    if smiles is None:
        smiles = load_moses_smiles(n_molecules, seed)
        source = f"MOSES train.csv.gz (molsets 0.3.1), random subset of {len(smiles)} (seed {seed})"
    seqs, dropped = encode_for_env(smiles, max_length)
    prep_s = time.monotonic() - t0
    if progress:
        print(f"prepared {len(seqs):,} sequences ({dropped} dropped) in {prep_s:.0f} s", flush=True)
    model = SmilesPrior()
    stats = fit(model, seqs, epochs=epochs, minutes=minutes, batch_size=batch_size, lr=lr, seed=seed,
                progress=progress)
    gen = th.Generator().manual_seed(seed + 1)
    sample = model.sample(n_validity, max_length=100, masks=False, generator=gen)
    valid = validity(sample.smiles)
    masked = model.sample(n_validity, max_length=max_length, masks=True, generator=gen)
    masked_valid = validity(masked.smiles)
    canon = {c for s in sample.smiles if (c := _canon(s)) is not None}
    meta = {
        "data": source,
        "n_sequences": len(seqs),
        "dropped": dropped,
        "seed": seed,
        "batch_size": batch_size,
        "lr": lr,
        "max_length": max_length,
        "torch_threads": th.get_num_threads(),
        "train_seconds": round(stats["seconds"], 1),
        "prep_seconds": round(prep_s, 1),
        "steps": stats["steps"],
        "epochs": round(stats["epochs"], 3),
        "first_loss": round(stats["first_loss"], 4),
        "last_loss": round(stats["last_loss"], 4),
        "validity_unmasked": valid,
        "validity_masked": masked_valid,
        "uniqueness_unmasked": len(canon) / max(1, round(valid * n_validity)),
        "n_validity_samples": n_validity,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    model.save(out, meta)
    if progress:
        print(f"saved {out}: {stats['steps']} steps ({stats['epochs']:.2f} epochs) in {stats['seconds'] / 60:.1f} min, "
              f"loss {meta['first_loss']} -> {meta['last_loss']}; validity of {n_validity} unmasked samples "
              f"{valid:.1%}, masked {masked_valid:.1%}", flush=True)
    return meta


def _canon(s: str) -> str | None:
    from ips_envs.smiles.scoring import canonical_smiles

    return canonical_smiles(s)
