"""Gymnasium knows the ``IPS/`` ids in every process of an environment where ips-rl is installed.

Gymnasium 0.26-0.29 loaded the ``gymnasium.envs`` entry points at import, so a package's ids resolved in a
process that never imported the package (subprocess and Ray workers, ``python -c "gym.make('IPS/...')"``).
Gymnasium 1.x removed that plugin loader. This module puts the behaviour back for ips-rl only:

* ``ips_rl_gymnasium.pth`` (a start-up file in site-packages, shipped in the wheel; ``make install`` and
  ``python -m ips_envs_plugin install`` write it for editable installs) imports this module when Python
  starts. This module imports nothing heavy: it adds one finder to :data:`sys.meta_path` and returns.
* The finder waits for ``import gymnasium``. When Gymnasium has finished importing, it calls
  :func:`ips_envs.registration.register_all`, which registers the ids with string entry points (the env
  modules load on the first ``gym.make``). A process that never imports Gymnasium pays nothing.
* If that registration fails (ips-rl half uninstalled, say), Gymnasium still imports; a warning says why.

``python -m ips_envs_plugin install`` / ``uninstall`` / ``status`` manage the start-up file of the running
interpreter; ``IPS_RL_NO_GYMNASIUM_PLUGIN=1`` turns the hook off for one process.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
import types
import warnings
from collections.abc import Sequence

PTH_NAME = "ips_rl_gymnasium.pth"
# one line, run by Python's site module at start-up; a missing module (ips-rl uninstalled) is not an error
PTH_LINE = (
    "import importlib.util as _u; "
    "_u.find_spec('ips_envs_plugin') and __import__('ips_envs_plugin').install_hook(); del _u\n"
)
DISABLE_VARIABLE = "IPS_RL_NO_GYMNASIUM_PLUGIN"


def _register(module: types.ModuleType) -> None:
    """Register the IPS/ ids once ``gymnasium`` (``module``) has finished importing."""
    try:
        from ips_envs.registration import register_all

        register_all()
    except Exception as error:  # noqa: BLE001 - Gymnasium must keep working whatever happens here
        warnings.warn(f"ips-rl could not register its IPS/ Gymnasium ids at import: {error!r}", stacklevel=2)


class _Loader(importlib.abc.Loader):
    """Gymnasium's own loader, then :func:`_register`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        _register(module)

    def __getattr__(self, name: str):  # get_resource_reader, is_package, ... of the wrapped loader
        return getattr(self._loader, name)


class GymnasiumFinder(importlib.abc.MetaPathFinder):
    """Finds ``gymnasium`` with the other finders and wraps its loader (used once, then removed)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None):
        if fullname != "gymnasium":
            return None
        uninstall_hook()
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


def install_hook() -> None:
    """Add the finder to :data:`sys.meta_path` (no-op when Gymnasium is already imported, or it is turned off)."""
    if os.environ.get(DISABLE_VARIABLE, "") not in ("", "0"):
        return
    if "gymnasium" in sys.modules:
        _register(sys.modules["gymnasium"])
        return
    if not any(isinstance(finder, GymnasiumFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, GymnasiumFinder())


def uninstall_hook() -> None:
    """Remove the finder from :data:`sys.meta_path`."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, GymnasiumFinder)]


def pth_path(directory: str | os.PathLike[str] | None = None) -> str:
    """The start-up file's path: in ``directory``, by default the running interpreter's site-packages."""
    return os.path.join(os.fspath(directory) if directory is not None else sysconfig.get_path("purelib"), PTH_NAME)


def install(directory: str | os.PathLike[str] | None = None) -> str:
    """Write the start-up file (atomically) into ``directory`` (default: site-packages) and return its path."""
    path = pth_path(directory)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(PTH_LINE)
    os.replace(tmp, path)
    return path


def uninstall(directory: str | os.PathLike[str] | None = None) -> bool:
    """Remove the start-up file; True if there was one."""
    path = pth_path(directory)
    if not os.path.exists(path):
        return False
    os.remove(path)
    return True


def installed(directory: str | os.PathLike[str] | None = None) -> bool:
    """Whether the start-up file is in ``directory`` (default: site-packages) with the current contents."""
    try:
        with open(pth_path(directory), encoding="utf-8") as handle:
            return handle.read() == PTH_LINE
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ips_envs_plugin install|uninstall|status``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in ("install", "uninstall", "status"):
        print(f"usage: python -m ips_envs_plugin install|uninstall|status (got {' '.join(args) or 'nothing'})",
              file=sys.stderr)
        return 2
    if args[0] == "install":
        print(f"wrote {install()}")
    elif args[0] == "uninstall":
        print(f"removed {pth_path()}" if uninstall() else f"{pth_path()} was not there")
    else:
        print(f"{pth_path()}: {'installed' if installed() else 'not installed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
