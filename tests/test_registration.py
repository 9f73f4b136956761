"""The IPS/ ids resolve in processes that never imported ips_envs, through the "ips_envs:IPS/..." form."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import gymnasium as gym

import ips_envs
from ips_envs.registration import register_all

FRESH = """
import sys, gymnasium as gym
env = gym.make("ips_envs:IPS/CausalDAG-v0")
envs = gym.make_vec("ips_envs:IPS/HyperGrid-v0", num_envs=3, autoreset_mode="SameStep")
env.reset(seed=0); envs.reset(seed=0)
print(type(env.unwrapped).__name__, type(envs.unwrapped).__name__, envs.autoreset_mode.name)
"""


def test_module_prefixed_ids_resolve_without_importing_ips_envs():
    run = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["CausalDAGEnv", "HyperGridVectorEnv", "SAME_STEP"]


def test_gymnasium_plugin_entry_point_is_declared_and_registers():
    (plugin,) = [ep for ep in entry_points(group="gymnasium.envs") if ep.name == "IPS"]
    assert plugin.value == "ips_envs.registration:register_all" and plugin.load() is register_all
    with gym.envs.registration.namespace("IPS"):  # how Gymnasium's plugin loader (0.26-0.29) calls it
        plugin.load()()
    assert all(env_id in gym.registry for env_id in ips_envs.ENV_IDS)
