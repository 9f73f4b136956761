"""Training runs on disk: a config, atomic checkpoints, logs, and resuming (used by ``ips-rl train``)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure

from ips_agents.ips_grpo import GRPO, IPSGRPO

ALGOS: dict[str, type[IPSGRPO]] = {"ips-grpo": IPSGRPO, "grpo": GRPO}
MODEL_FILE = "model.zip"
CONFIG_FILE = "config.json"


@dataclass
class RunConfig:
    """Everything needed to rebuild (or resume) a training run."""

    env: str
    algo: str = "ips-grpo"
    timesteps: int = 100_000
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo_kwargs: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {sorted(ALGOS)}, got {self.algo!r}")
        if self.timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {self.timesteps}")

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / CONFIG_FILE, json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> RunConfig:
        path = Path(folder) / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: is {folder} a run folder made by `ips-rl train`?")
        return cls(**json.loads(path.read_text()))


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def atomic_save(model: IPSGRPO, path: Path) -> None:
    """``model.save`` to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".zip")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class AtomicCheckpoint(BaseCallback):
    """Save the model atomically to ``path`` every ``every`` recorded transitions (and at the end)."""

    def __init__(self, path: Path, every: int) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1, got {every}")
        self.path, self.every, self._next = Path(path), int(every), int(every)

    def _on_training_start(self) -> None:
        self._next = self.model.num_timesteps + self.every

    def _on_rollout_end(self) -> None:
        # rollout end: a whole batch was collected, the policy is about to be updated
        if self.model.num_timesteps >= self._next:
            atomic_save(self.model, self.path)
            self._next = self.model.num_timesteps + self.every

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        atomic_save(self.model, self.path)


def build_model(config: RunConfig) -> IPSGRPO:
    """A new model for ``config``."""
    return ALGOS[config.algo]("MlpPolicy", config.env, env_kwargs=env_kwargs_with_task(config), seed=config.seed,
                              **config.algo_kwargs)


def train_run(folder: str | Path, config: RunConfig | None = None, resume: bool = False,
              checkpoint_every: int = 50_000, progress_bar: bool = True, verbose: int = 0) -> IPSGRPO:
    """Train (or resume) the run in ``folder``; the model ends in ``folder/model.zip``.

    A fresh run needs ``config``; ``resume=True`` reloads ``folder/config.json`` and ``folder/model.zip`` and
    continues until ``config.timesteps`` recorded transitions in total.
    """
    folder = Path(folder)
    model_path = folder / MODEL_FILE
    if resume:
        saved = RunConfig.load(folder)
        if config is not None and config.timesteps > saved.timesteps:
            saved.timesteps = config.timesteps
        config = saved
        if not model_path.exists():
            raise FileNotFoundError(f"nothing to resume: {model_path} does not exist")
        model = ALGOS[config.algo].load(model_path)
        model.set_env(config.env, env_kwargs=env_kwargs_with_task(config))
    else:
        if config is None:
            raise ValueError("a new run needs a RunConfig")
        if model_path.exists():
            raise FileExistsError(f"{model_path} exists: pass resume=True (--resume) or choose another folder")
        model = build_model(config)
    config.save(folder)
    model.set_logger(configure(str(folder / "logs"), ["csv", "tensorboard"] + (["stdout"] if verbose else [])))
    remaining = config.timesteps - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=AtomicCheckpoint(model_path, checkpoint_every), progress_bar=progress_bar,
                    reset_num_timesteps=not resume, tb_log_name=config.algo)
    atomic_save(model, model_path)
    return model


def load_run(folder: str | Path) -> tuple[RunConfig, IPSGRPO]:
    """The config and trained model of a run folder."""
    config = RunConfig.load(Path(folder))
    return config, ALGOS[config.algo].load(Path(folder) / MODEL_FILE)


def env_kwargs_with_task(config: RunConfig) -> Mapping[str, Any]:
    """The env arguments of a run, including its fixed task (if any)."""
    kwargs = dict(config.env_kwargs)
    if config.task is not None:
        kwargs["task"] = config.task
    return kwargs
