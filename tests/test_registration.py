"""The IPS/ ids resolve in processes that never imported ips_envs: plain ids through the start-up hook, and the
"ips_envs:IPS/..." form."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import gymnasium as gym

import pytest

import ips_envs
import ips_envs_plugin
from ips_envs.registration import register_all
from tests.isolated_process import run_process

FRESH = """
import sys, gymnasium as gym
env = gym.make("ips_envs:IPS/CausalDAG-v0")
envs = gym.make_vec("ips_envs:IPS/HyperGrid-v0", num_envs=3, autoreset_mode="SameStep")
env.reset(seed=0); envs.reset(seed=0)
print(type(env.unwrapped).__name__, type(envs.unwrapped).__name__, envs.autoreset_mode.name)
"""


def test_module_prefixed_ids_resolve_without_importing_ips_envs():
    run = run_process([sys.executable, "-c", FRESH], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["CausalDAGEnv", "HyperGridVectorEnv", "SAME_STEP"]


def test_gymnasium_plugin_entry_point_is_declared_and_registers():
    (plugin,) = [ep for ep in entry_points(group="gymnasium.envs") if ep.name == "IPS"]
    assert plugin.value == "ips_envs.registration:register_all" and plugin.load() is register_all
    with gym.envs.registration.namespace("IPS"):  # how Gymnasium's plugin loader (0.26-0.29) calls it
        plugin.load()()
    assert all(env_id in gym.registry for env_id in ips_envs.ENV_IDS)


PLAIN = """
import sys, gymnasium as gym
assert "ips_envs" in sys.modules  # registered when Gymnasium finished importing, not before
env = gym.make("IPS/CausalDAG-v0")
envs = gym.make_vec("IPS/HyperGrid-v0", num_envs=2)
env.reset(seed=0); envs.reset(seed=0)
print(type(env.unwrapped).__name__, type(envs.unwrapped).__name__)
"""


def test_startup_file_makes_plain_ids_resolve_in_a_fresh_interpreter(tmp_path):
    path = ips_envs_plugin.install(tmp_path)
    assert ips_envs_plugin.installed(tmp_path) and open(path).read() == ips_envs_plugin.PTH_LINE
    run = run_process([sys.executable, "-c", f"import site; site.addsitedir({str(tmp_path)!r})\n" + PLAIN],
                      capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["CausalDAGEnv", "HyperGridVectorEnv"]


def test_hook_waits_for_gymnasium_and_can_be_turned_off(tmp_path):
    ips_envs_plugin.install(tmp_path)
    check = f"import site, sys; site.addsitedir({str(tmp_path)!r}); print('ips_envs' in sys.modules)\n"
    run = run_process([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert run.stdout.split() == ["False"], run.stderr  # nothing of ips-rl is imported until Gymnasium is
    off = {**os.environ, ips_envs_plugin.DISABLE_VARIABLE: "1"}
    code = check + "import gymnasium as gym; print('IPS/CausalDAG-v0' in gym.registry)"
    run = run_process([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=off)
    assert run.stdout.split() == ["False", "False"], run.stderr


def test_startup_file_install_uninstall(tmp_path):
    assert not ips_envs_plugin.installed(tmp_path) and not ips_envs_plugin.uninstall(tmp_path)
    ips_envs_plugin.install(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [ips_envs_plugin.PTH_NAME]  # no temp file left
    assert ips_envs_plugin.uninstall(tmp_path) and not ips_envs_plugin.installed(tmp_path)
    assert ips_envs_plugin.main(["bogus"]) == 2


def test_this_environment_has_the_startup_file():
    """`make install` writes it (an editable install gets no .pth from the wheel)."""
    if not ips_envs_plugin.installed():
        pytest.fail(f"{ips_envs_plugin.pth_path()} is missing: run `python -m ips_envs_plugin install`")
    run = run_process([sys.executable, "-c", PLAIN], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
