"""Build hook: ship the start-up file that lets Gymnasium resolve ``IPS/`` ids with no import (see ips_envs_plugin).

Everything else about the package is in pyproject.toml.
"""

import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py

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


setup(cmdclass={"build_py": BuildPyWithStartupFile})
