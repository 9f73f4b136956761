"""What a model zip holds beyond Stable-Baselines3's data, and the checks made before writing or reading one.

A zip written by :meth:`IPSGRPO.save <ips_agents.algorithms.ips_grpo.IPSGRPO.save>` also records

* ``algo_class``: the class that saved it (``"IPSGRPO"``, ``"GRPO"``, ``"TrajectoryBalance"``, ...), so
  ``GRPO.load`` of an IPS-GRPO zip (or ``IPSGRPO.load`` of a MaskablePPO zip) is refused instead of returning
  a model with the wrong algorithm;
* ``_random_state``: every random generator training draws from (the task / reset-seed generator, torch's,
  numpy's and Python's global generators), so a run resumed from the zip continues exactly as the
  uninterrupted run would have.

Paths are checked first: an empty path or a directory is refused when saving, a missing file is reported
under the name the user gave (never ``model.zip.zip``), and a truncated or corrupt zip raises ValueError.

**Trust rule: loading a model file never runs code from it.** SB3 stores some fields of ``data`` as pickles;
here they are read by :class:`SafeUnpickler`, which resolves only an allow-list of names (numpy arrays and
generators, Gymnasium spaces, SB3's learning-rate schedules, and policy / network / optimizer classes of the
project, SB3, torch, or modules the process has already imported). A file that names anything else is refused
with :class:`UnsafeModelFile` naming the field; ``custom_objects`` replaces a field the caller trusts. The
weights (``*.pth``) are read by torch with ``weights_only=True``. The random-generator state is plain JSON.
Zips written by earlier versions still load (their class names are mapped through :data:`LEGACY_NAMES`).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import pickle
import random
import sys
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
    """Every generator training draws from, as plain JSON (lists and numbers: nothing in it is unpickled)."""
    mt_name, mt_keys, mt_pos, mt_has_gauss, mt_gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {
        "task_rng": task_rng.bit_generator.state,
        "torch": th.get_rng_state().tolist(),
        "numpy": [mt_name, [int(k) for k in mt_keys], int(mt_pos), int(mt_has_gauss), float(mt_gauss)],
        "python": [version, list(py_state), py_gauss],
    }


def restore_random_state(state: dict[str, Any], task_rng: np.random.Generator) -> None:
    """Put the generators back to ``state`` (from :func:`random_state`, or the pickled form older zips hold).

    Raises ValueError naming the part of ``state`` that is not a generator state.
    """
    if not isinstance(state, dict) or set(state) != {"task_rng", "torch", "numpy", "python"}:
        raise ValueError(f"_random_state must be a dict with task_rng, torch, numpy and python, got {_short(state)}")
    try:
        task_rng.bit_generator.state = state["task_rng"]
        torch_state = state["torch"]
        th.set_rng_state(torch_state if isinstance(torch_state, th.Tensor) else th.tensor(torch_state, dtype=th.uint8))
        name, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(gauss)))
        version, py_state, py_gauss = state["python"]
        random.setstate((version, tuple(py_state), py_gauss))
    except (TypeError, ValueError, KeyError, RuntimeError, OverflowError) as e:
        raise ValueError(f"_random_state does not hold generator states ({type(e).__name__}: {e})") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _name(path: Any) -> str:
    return repr(str(path)) if isinstance(path, str | os.PathLike) else "the model file"


# ------------------------------------------------------------------------------- reading without running code
LEGACY_NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("ips_agents.token_policy", "TokenPolicy"): ("ips_agents.policies.token", "TokenPolicy"),
    ("ips_agents.policies", "MaskedActorPolicy"): ("ips_agents.policies.masked_actor", "MaskedActorPolicy"),
    ("ips_agents.policies", "MultiInputMaskedActorPolicy"):
        ("ips_agents.policies.masked_actor", "MultiInputMaskedActorPolicy"),
    ("ips_agents.smiles_policy", "SmilesPriorPolicy"): ("ips_agents.molecules.policy", "SmilesPriorPolicy"),
}
"""Where the classes named by zips written before the package layout live now."""

ALLOWED_GLOBALS = frozenset({
    ("collections", "OrderedDict"), ("collections", "deque"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random._pcg64", "PCG64"),
    ("numpy.random._mt19937", "MT19937"), ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("stable_baselines3.common.utils", "FloatSchedule"), ("stable_baselines3.common.utils", "LinearSchedule"),
    ("stable_baselines3.common.utils", "ConstantSchedule"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch", "Size"), ("torch", "float32"), ("torch", "uint8"),
})
"""The functions and non-class objects a model zip's pickled fields may name (what SB3 and numpy write)."""

_CLASS_MODULES = ("ips_agents.", "ips_envs.", "stable_baselines3.", "sb3_contrib.", "gymnasium.spaces.", "torch.nn.",
                  "torch.optim.")
"""Modules whose classes of the kinds in :func:`_allowed_class` a zip may name (others only if already imported)."""


def _load_tensor_storage(data: bytes) -> Any:
    """What ``torch.storage._load_from_bytes`` does, through torch's weights-only loader (no code runs)."""
    return th.load(io.BytesIO(data), weights_only=True)


def _allowed_class(obj: Any) -> bool:
    from gymnasium.spaces import Space
    from stable_baselines3.common.policies import BasePolicy

    return isinstance(obj, type) and issubclass(obj, BasePolicy | th.nn.Module | th.optim.Optimizer | Space)


class UnsafeModelFile(ValueError):
    """A model zip names something outside the allow-list of what a model file may hold (it is not loaded)."""


class SafeUnpickler(pickle.Unpickler):
    """Unpickles the ``:serialized:`` fields of a model zip without running code from the file.

    A name the pickle refers to resolves only when it is on :data:`ALLOWED_GLOBALS`, is torch's tensor-storage
    loader (replaced by a weights-only one), or is a policy, network, optimizer or space class from the project, SB3,
    Gymnasium, torch or a module the process has already imported; names of older layouts are mapped through
    :data:`LEGACY_NAMES`. Anything else raises :class:`UnsafeModelFile`.
    """

    def find_class(self, module: str, name: str) -> Any:
        module, name = LEGACY_NAMES.get((module, name), (module, name))
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_tensor_storage
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module.startswith(_CLASS_MODULES) or module in sys.modules:
            try:
                obj = super().find_class(module, name)
            except (ImportError, AttributeError):
                obj = None
            if _allowed_class(obj):
                return obj
        raise UnsafeModelFile(f"{module}.{name}")


def safe_loads(data: bytes) -> Any:
    """``pickle.loads`` through :class:`SafeUnpickler`."""
    return SafeUnpickler(io.BytesIO(data)).load()


def deserialize_fields(data: dict[str, Any], path: Any, custom_objects: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """Every ``:serialized:`` field of a zip's ``data``, unpickled safely (fields in ``custom_objects`` are taken
    from there instead, as SB3 does); hand the result to SB3's ``load`` as its ``custom_objects``.

    Raises :class:`UnsafeModelFile` naming the field and what it refers to, and ValueError for a field that is
    not a pickle.
    """
    out = dict(custom_objects or {})
    for key, value in data.items():
        if key in out or not (isinstance(value, dict) and ":serialized:" in value):
            continue
        try:
            out[key] = safe_loads(base64.b64decode(value[":serialized:"]))
        except UnsafeModelFile as e:
            raise UnsafeModelFile(
                f"{_name(path)}: field {key!r} refers to {e}, which a model file may not hold (loading it could run "
                f"code from the file); if you trust the file and know what it is, pass "
                f"custom_objects={{{key!r}: ...}} to load() to replace that field"
            ) from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, binascii.Error) as e:
            raise ValueError(f"{_name(path)}: field {key!r} is corrupt ({type(e).__name__}: {e})") from None
    return out


_INT_FIELDS = {"num_timesteps": 0, "group_size": 2, "num_trajectories": 0, "_n_updates": 0}


def check_data_shape(data: Any, path: Any) -> None:
    """Refuse (ValueError naming the field) a zip whose ``data`` is not an object of the expected kinds of values."""
    if not isinstance(data, dict):
        raise ValueError(f"{_name(path)} is not a model written by save(): its 'data' entry is a "
                         f"{type(data).__name__}, expected a JSON object")
    for key, low in _INT_FIELDS.items():
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{_name(path)}: field {key!r} must be an integer >= {low}, got {_short(value)}")
    state = data.get(RANDOM_STATE_KEY)
    if state is not None and not isinstance(state, dict):
        raise ValueError(f"{_name(path)}: field {RANDOM_STATE_KEY!r} must be an object of generator states, "
                         f"got {_short(state)}")
