"""Build hooks: ship the start-up file that lets Gymnasium resolve ``IPS/`` ids with no import (see ips_envs_plugin).

The wheel carries ``ips_rl_gymnasium.pth`` at its top (``build_py``), and so does the editable wheel that
``pip install -e .`` builds (``editable_wheel``), so a bare editable install registers the plain ``IPS/...`` ids
in fresh processes as well. Everything else about the package is in pyproject.toml.
"""

import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_ips_envs_plugin", os.path.join(_HERE, "ips_envs_plugin.py"))
_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugin)


class BuildPyWithStartupFile(build_py):
    """build_py, plus ``ips_rl_gymnasium.pth`` at the top of the wheel (it lands in site-packages)."""

    def run(self) -> None:
        super().run()
        with open(os.path.join(self.build_lib, _plugin.PTH_NAME), "w", encoding="utf-8") as handle:
            handle.write(_plugin.PTH_LINE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, _plugin.PTH_NAME)]


class _StrategyWithStartupFile:
    """An editable-install strategy of setuptools that also writes the start-up file into the editable wheel."""

    def __init__(self, strategy) -> None:
        self._strategy = strategy

    def __call__(self, wheel, files, mapping) -> None:
        self._strategy(wheel, files, mapping)
        wheel.writestr(_plugin.PTH_NAME, _plugin.PTH_LINE)

    def __enter__(self) -> "_StrategyWithStartupFile":
        self._strategy.__enter__()
        return self

    def __exit__(self, *exc_info) -> object:
        return self._strategy.__exit__(*exc_info)


class EditableWheelWithStartupFile(editable_wheel):
    """editable_wheel, plus ``ips_rl_gymnasium.pth`` beside the editable finder in site-packages."""

    def _select_strategy(self, *args, **kwargs):
        return _StrategyWithStartupFile(super()._select_strategy(*args, **kwargs))


setup(cmdclass={"build_py": BuildPyWithStartupFile, "editable_wheel": EditableWheelWithStartupFile})
