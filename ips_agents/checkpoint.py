"""What a model zip holds beyond Stable-Baselines3's data, and the checks made before writing or reading one.

A zip written by :meth:`IPSGRPO.save <ips_agents.ips_grpo.IPSGRPO.save>` also records

* ``algo_class``: the class that saved it (``"IPSGRPO"``, ``"GRPO"``, ``"TrajectoryBalance"``, ...), so
  ``GRPO.load`` of an IPS-GRPO zip (or ``IPSGRPO.load`` of a MaskablePPO zip) is refused instead of returning
  a model with the wrong algorithm;
* ``_random_state``: every random generator training draws from (the task / reset-seed generator, torch's,
  numpy's and Python's global generators), so a run resumed from the zip continues exactly as the
  uninterrupted run would have.

Paths are checked first: an empty path or a directory is refused when saving, a missing file is reported
under the name the user gave (never ``model.zip.zip``), and a truncated or corrupt zip raises ValueError.
"""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

ALGO_CLASS_KEY = "algo_class"
RANDOM_STATE_KEY = "_random_state"


class ModelClassMismatch(TypeError, ValueError):
    """A model zip was saved by another algorithm class than the one loading it."""


def check_save_path(path: Any) -> Any:
    """``path`` if a model can be saved there; refuses an empty path and an existing directory."""
    if isinstance(path, io.IOBase):
        return path
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"save path must be a file path or a binary file object, got {type(path).__name__}: {path!r}")
    text = os.fspath(path)
    if not str(text).strip():
        raise ValueError("save path is empty: give a file name such as 'model.zip'")
    p = Path(text)
    if p.is_dir():
        raise ValueError(f"save path {str(p)!r} is a directory: give a file name such as {str(p / 'model.zip')!r}")
    return p


def resolve_load_path(path: Any) -> Any:
    """The file a model is read from: ``path`` itself, or ``path + ".zip"`` (SB3's convention) when only that exists."""
    if isinstance(path, io.IOBase):
        return path
    if not isinstance(path, str | os.PathLike) or not str(os.fspath(path)).strip():
        raise ValueError(f"load path must be a file path or a binary file object, got {path!r}")
    p = Path(path)
    if p.is_file():
        return p
    with_zip = Path(f"{p}.zip")
    if p.suffix == "" and with_zip.is_file():
        return with_zip
    if p.is_dir():
        hint = f" (the model of a run folder is {str(p / 'model.zip')!r})" if (p / "model.zip").is_file() else ""
        raise ValueError(f"{str(p)!r} is a directory, not a model zip{hint}")
    raise FileNotFoundError(f"no model file at {str(p)!r}")


def read_saved_data(path: Any) -> dict[str, Any]:
    """The JSON ``data`` entry of a model zip (without unpickling anything); ValueError when unreadable."""
    try:
        if isinstance(path, io.IOBase):
            pos = path.tell()
            with zipfile.ZipFile(path) as archive:
                raw = archive.read("data")
            path.seek(pos)
        else:
            with zipfile.ZipFile(path) as archive:
                raw = archive.read("data")
        return json.loads(raw)
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{_name(path)} is not a readable model zip (truncated or corrupt?): {e}") from None
    except KeyError:
        raise ValueError(f"{_name(path)} is a zip without a 'data' entry: not a model written by save()") from None


def check_algo_class(data: dict[str, Any], cls: type, path: Any) -> None:
    """Refuse (:class:`ModelClassMismatch`) a zip saved by another class than ``cls``."""
    saved = data.get(ALGO_CLASS_KEY)
    if saved is None:
        if "group_size" not in data or "ips_alpha" not in data:
            raise ModelClassMismatch(
                f"{_name(path)} was not saved by {cls.__name__} (no IPS-GRPO settings in it; a MaskablePPO or "
                f"other SB3 zip? load it with the class that saved it)"
            )
        return  # a zip from before the class was recorded
    if saved != cls.__name__:
        raise ModelClassMismatch(f"{_name(path)} holds a {saved} model, not {cls.__name__}: load it with {saved}.load")


def random_state(task_rng: np.random.Generator) -> dict[str, Any]:
    """Every generator training draws from, as a picklable dict."""
    return {
        "task_rng": task_rng.bit_generator.state,
        "torch": th.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_random_state(state: dict[str, Any], task_rng: np.random.Generator) -> None:
    """Put the generators back to ``state`` (from :func:`random_state`)."""
    task_rng.bit_generator.state = state["task_rng"]
    th.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _name(path: Any) -> str:
    return repr(str(path)) if isinstance(path, str | os.PathLike) else "the model file"
