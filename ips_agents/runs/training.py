"""Training runs on disk (``ips-rl train``): a config, a lock, atomic checkpoints, logs that only grow, resuming.

A run folder holds ``config.json`` (the run's settings), ``model.zip`` (the latest checkpoint: parameters,
optimizer state, counters, learning-rate schedule progress and every random generator's state),
``logs/progress.csv`` (one row per update, appended across resumes) and TensorBoard events under ``logs/``,
and ``run.lock`` while a run writes to it.

* Checkpoints are written atomically every ``checkpoint_every`` recorded transitions *and* every
  ``checkpoint_seconds`` seconds, at the start of training, on SIGINT / SIGTERM (the current batch is
  finished, saved, and the run ends with :class:`RunInterrupted`; a second signal stops at once) and at the end.
  They are always taken between two updates, so a resumed run continues exactly as the uninterrupted
  run would have (the same parameters, bit for bit, on the same machine).
* A second writer on the same folder is refused (:class:`~ips_agents.runs.files.RunLocked`); the lock of
  a killed run is taken over, and the temporary files a SIGKILL left are removed.
* ``resume=True`` refuses settings that differ from the saved ones (:class:`ResumeConflict`, listing saved
  and given values); only ``timesteps`` may change, and only upwards.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HumanOutputFormat, KVWriter, Logger, TensorBoardOutputFormat

from ips_agents.algorithms.ips_grpo import IPSGRPO
from ips_agents.runs.config import ALGOS, CONFIG_FILE, MODEL_FILE, PROGRESS_FILE, RunConfig
from ips_agents.runs.files import AppendingCSV, RunLock, atomic_save, check_folder, clean_temp_files, naming_file
from ips_envs.core.validation import check_float, check_int

EXIT_STOPPED_AT_ONCE = 130
"""Exit status of a run stopped by a second SIGINT / SIGTERM (128 + SIGINT, as a shell reports Ctrl-C)."""
CHANGEABLE_ON_RESUME = ("timesteps",)
"""Settings ``resume=True`` applies instead of refusing (``timesteps``: only a larger one)."""


class ResumeConflict(ValueError):
    """``resume=True`` was given settings that differ from the saved run's."""


class RunInterrupted(KeyboardInterrupt):
    """The run stopped on SIGINT / SIGTERM after saving a checkpoint; ``--resume`` continues it."""

    def __init__(self, message: str, signal_name: str, timesteps: int) -> None:
        super().__init__(message)
        self.signal_name, self.timesteps = signal_name, timesteps


# ------------------------------------------------------------------------------------------- logging
class TensorBoardOutput(TensorBoardOutputFormat):
    """SB3's TensorBoard output whose write errors (a full disk) name the events file and come once.

    TensorBoard writes from a background thread; a failed write there is kept by TensorBoard and raised again
    by the next write, flush or close in the training thread. That is where it is reported (naming the file);
    the thread's own traceback is not printed (:func:`quiet_tensorboard_threads`).
    """

    def events_file(self) -> str:
        """The events file this output writes."""
        writer = self.writer.file_writer.event_writer
        return str(getattr(writer, "_file_name", None) or writer.get_logdir())

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        with naming_file(self.events_file()):
            super().write(key_values, key_excluded, step)

    def close(self) -> None:
        with naming_file(self.events_file()):
            if self.writer is not None:
                worker = getattr(getattr(self.writer.file_writer.event_writer, "_async_writer", None), "_worker", None)
                super().close()
                if getattr(worker, "exception", None) is not None:  # failed after the last write: not raised yet
                    raise worker.exception


@contextmanager
def quiet_tensorboard_threads() -> Iterator[None]:
    """While the block runs, an exception in TensorBoard's writer thread prints nothing (see
    :class:`TensorBoardOutput`: the training thread raises it); other threads' exceptions print as usual."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if type(args.thread).__module__.startswith("tensorboard.") and isinstance(args.exc_value, OSError):
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def run_logger(folder: str | Path, verbose: int = 0) -> Logger:
    """The logger of a run: ``logs/progress.csv`` (appended), TensorBoard events, and stdout when ``verbose``."""
    logs = Path(folder) / "logs"
    outputs: list[KVWriter] = [AppendingCSV(logs / PROGRESS_FILE), TensorBoardOutput(str(logs))]
    if verbose:
        outputs.append(HumanOutputFormat(sys.stdout))
    return Logger(folder=str(logs), output_formats=outputs)


# ------------------------------------------------------------------------------------------- signals
class StopRequest:
    """Set by the first SIGINT / SIGTERM while :func:`stop_on_signals` is active."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self.signal_name is not None


@contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[StopRequest]:
    """Turn the first of ``signals`` into a :class:`StopRequest`; a second one ends the process at once.

    The second signal goes to :func:`exit_at_once` (one line, exit status 130). The previous handlers are back
    after the block; ``ips-rl train`` then calls :func:`exit_at_once_on_signals`, so a second signal that comes
    after the checkpoint was saved, while the process ends, exits the same way. Outside the main thread (where
    Python cannot install handlers) the default handlers stay, and so does a signal the process ignores.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    names = {int(s): signal.Signals(s).name for s in signals}

    def handler(signum: int, frame: Any) -> None:
        if stop.requested:
            exit_at_once(signum, frame)
        stop.signal_name = names.get(signum, str(signum))  # first thing: a second signal from here on exits
        name = stop.signal_name
        print(f"\n{name} received: saving a checkpoint after the current batch (send it again to stop at once)",
              file=sys.stderr, flush=True)

    # a signal the process was started ignoring (``nohup``, ``cmd &`` in a script) stays ignored, as Python does
    previous = {s: signal.signal(s, handler) for s in signals if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            # a process that ends after a stop (the CLI) keeps exit_at_once, so no second signal ever meets the
            # default handler between this block and the exit
            signal.signal(s, exit_at_once if stop.requested and _EXIT_AFTER_STOP[0] else h)


_EXIT_AFTER_STOP = [False]


def exit_after_stop(enabled: bool = True) -> None:
    """Whether a stopped run leaves :func:`exit_at_once` installed (the CLI: the process ends after a stop) instead of
    putting the previous handlers back (the default: a library caller, e.g. a notebook, keeps its own Ctrl-C)."""
    _EXIT_AFTER_STOP[0] = bool(enabled)


def exit_at_once(signum: int, frame: Any) -> None:
    """Signal handler of a run already stopping: one line on stderr, then exit status 130 at once.

    ``os._exit``: no traceback and no clean-up, which is safe here: checkpoints are written atomically (the last
    one stays whole, a temporary file left behind is removed by the next run) and the kernel releases the lock,
    which the next run takes over.
    """
    name = signal.Signals(signum).name
    print(f"\n{name} received twice: stopped at once (exit status {EXIT_STOPPED_AT_ONCE}); the last checkpoint is "
          f"kept and --resume continues from it", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(EXIT_STOPPED_AT_ONCE)


def exit_at_once_on_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
    """From now on, ``signals`` end the process through :func:`exit_at_once` (for a command whose run has
    stopped and saved: a second Ctrl-C before it exits ends it one way). Ignored signals stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in signals:
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, exit_at_once)


# ---------------------------------------------------------------------------------------- checkpoints
class AtomicCheckpoint(BaseCallback):
    """Save the model atomically to ``path`` between updates: every ``every`` recorded transitions, every
    ``seconds`` seconds (None: no time interval), at the first batch when ``save_first``, when ``stop`` is
    requested (then training ends) and at the end.

    Saves happen at the start of a rollout, before its tasks are drawn: the saved state is exactly the state
    the next update starts from.
    """

    def __init__(self, path: str | Path, every: int, seconds: float | None = None, stop: StopRequest | None = None,
                 save_first: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.every = check_int("checkpoint interval (steps)", every, 1)
        self.seconds = None if seconds is None else check_float("checkpoint interval (seconds)", seconds, 0.0,
                                                                  low_open=True)
        self.stop, self.save_first = stop, save_first
        self.stopped = False
        self.saves = 0
        self.saved_timesteps = 0
        """``num_timesteps`` of the last checkpoint written."""
        self._next = self.every
        self._last = time.monotonic()

    def _save(self) -> None:
        atomic_save(self.model, self.path)
        self.saves += 1
        self.saved_timesteps = self.model.num_timesteps
        self._next = self.model.num_timesteps + self.every
        self._last = time.monotonic()

    def _on_training_start(self) -> None:
        self._next = self.model.num_timesteps + self.every
        self._last = time.monotonic()

    def _on_rollout_start(self) -> None:
        if self.stopped:
            return
        if self.stop is not None and self.stop.requested:
            self._save()
            self.stopped = True
            return
        due_time = self.seconds is not None and time.monotonic() - self._last >= self.seconds
        if (self.save_first and self.saves == 0) or self.model.num_timesteps >= self._next or due_time:
            self._save()

    def _on_step(self) -> bool:
        return not self.stopped

    def _on_training_end(self) -> None:
        if not self.stopped:
            self._save()


# ------------------------------------------------------------------------------------------- resuming
def _given_settings(given: RunConfig | Mapping[str, Any]) -> dict[str, Any]:
    settings = asdict(given) if isinstance(given, RunConfig) else dict(given)
    names = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ValueError(f"unknown run setting(s) {unknown}; expected some of {sorted(names)}")
    return settings


_MISSING = object()


def resume_config(saved: RunConfig, given: RunConfig | Mapping[str, Any] | None, model: IPSGRPO,
                  folder: str | Path = "the run folder") -> RunConfig:
    """The config a resumed run continues with: ``saved``, with a larger ``timesteps`` from ``given`` applied.

    ``given`` is a full :class:`RunConfig` or a mapping of only the settings the user gave (the CLI passes
    the flags actually typed), ``algo_kwargs`` compared key by key against the saved ones (or the loaded
    model's attribute when the saved config lacks the key). Raises :class:`ResumeConflict` listing every
    setting whose given value differs from the saved one.
    """
    if given is None:
        return saved
    settings = _given_settings(given)
    conflicts: list[tuple[str, Any, Any]] = []
    for key in ("env", "algo", "policy", "seed", "env_kwargs", "task"):
        if key in settings and settings[key] != getattr(saved, key):
            conflicts.append((key, getattr(saved, key), settings[key]))
    for key, value in dict(settings.get("algo_kwargs") or {}).items():
        before = saved.algo_kwargs.get(key)
        if before is None:  # not saved, or saved as "the default": what the model resolved it to
            before = getattr(model, key, _MISSING)
        if value is not None and (before is _MISSING or before != value):
            conflicts.append((key, None if before is _MISSING else before, value))
    timesteps = saved.timesteps
    if "timesteps" in settings:
        t = check_int("timesteps", settings["timesteps"], 1)
        if t < saved.timesteps:
            conflicts.append(("timesteps", saved.timesteps, t))
        timesteps = max(t, saved.timesteps)
    if conflicts:
        listed = "; ".join(f"{k}: saved {s!r}, given {g!r}" for k, s, g in conflicts)
        raise ResumeConflict(
            f"--resume conflicts with the run saved in {str(folder)!r}: {listed} (a resumed run keeps its settings; "
            f"only a larger timesteps can be applied; start a new run in another folder to change the others)"
        )
    return RunConfig(**{**asdict(saved), "timesteps": timesteps})


# ------------------------------------------------------------------------------------------- training
def train_run(
    folder: str | Path,
    config: RunConfig | Mapping[str, Any] | None = None,
    resume: bool = False,
    checkpoint_every: int = 50_000,
    checkpoint_seconds: float | None = 300.0,
    progress_bar: bool = True,
    verbose: int = 0,
) -> IPSGRPO:
    """Train (or resume) the run in ``folder``; the model ends in ``folder/model.zip``.

    A fresh run needs ``config`` (a :class:`RunConfig`) and refuses a folder that already holds a model.
    ``resume=True`` reloads ``folder/config.json`` and ``folder/model.zip`` and continues until
    ``timesteps`` recorded transitions in total; ``config`` (optional) then lists the settings the caller
    expects (see :func:`resume_config`).

    Checkpoints: every ``checkpoint_every`` transitions and every ``checkpoint_seconds`` seconds (None: steps
    only), plus at the start, on SIGINT / SIGTERM and at the end. On SIGINT / SIGTERM the current batch is
    finished and saved, then :class:`RunInterrupted` is raised. The folder is locked for the whole call
    (:class:`~ips_agents.runs.files.RunLocked` if another process holds it).
    """
    folder = Path(check_folder(folder))
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1)
    if checkpoint_seconds is not None:
        checkpoint_seconds = check_float("checkpoint_seconds", checkpoint_seconds, 0.0, low_open=True)
    if not resume and not isinstance(config, RunConfig):
        raise ValueError(f"a new run needs a RunConfig, got {config!r}")
    model_path = folder / MODEL_FILE
    nothing = f"nothing to resume in {str(folder)!r}: no {CONFIG_FILE} (start a new run without --resume)"
    if resume and not folder.is_dir():
        raise FileNotFoundError(nothing)
    created = not folder.exists()
    try:
        return _train_locked(folder, config, resume, checkpoint_every, checkpoint_seconds, progress_bar, verbose)
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a new run that failed before writing anything leaves no empty folder behind
        raise


def _train_locked(folder: Path, config: RunConfig | Mapping[str, Any] | None, resume: bool, checkpoint_every: int,
                  checkpoint_seconds: float | None, progress_bar: bool, verbose: int) -> IPSGRPO:
    model_path = folder / MODEL_FILE
    nothing = f"nothing to resume in {str(folder)!r}: no {CONFIG_FILE} (start a new run without --resume)"
    with RunLock(folder) as lock, stop_on_signals() as stop, quiet_tensorboard_threads():
        if lock.stale is not None and verbose:
            print(f"took over the lock of a run that is no longer running ({lock.stale.get('pid')})", file=sys.stderr)
        clean_temp_files(folder)
        if resume:
            if not (folder / CONFIG_FILE).is_file():
                raise FileNotFoundError(nothing)
            saved = RunConfig.load(folder)
            if not model_path.is_file():
                raise FileNotFoundError(f"nothing to resume in {str(folder)!r}: no {MODEL_FILE} (the run stopped "
                                        f"before its first checkpoint; start it again without --resume)")
            model = ALGOS[saved.algo].load(model_path)
            config = resume_config(saved, config, model, folder)
            model.set_env(config.env, env_kwargs=config.env_kwargs_with_task())
        else:
            if model_path.exists():
                raise FileExistsError(f"{str(model_path)!r} exists: pass resume=True (--resume) or choose another "
                                      f"folder")
            assert isinstance(config, RunConfig)
            model = config.build_model()
        config.save(folder)
        model.set_logger(run_logger(folder, verbose))
        checkpoint = AtomicCheckpoint(model_path, checkpoint_every, checkpoint_seconds, stop=stop,
                                      save_first=not resume)
        remaining = config.timesteps - model.num_timesteps
        try:
            if remaining > 0:
                model.learn(remaining, callback=checkpoint, progress_bar=progress_bar, reset_num_timesteps=not resume,
                            tb_log_name=config.algo)
        finally:
            model.logger.close()
        if checkpoint.stopped:
            assert stop.signal_name is not None
            raise RunInterrupted(
                f"stopped by {stop.signal_name}: saved {str(model_path)!r} at {checkpoint.saved_timesteps:,} steps; "
                f"continue with --resume", stop.signal_name, checkpoint.saved_timesteps)
    return model


def load_run(folder: str | Path) -> tuple[RunConfig, IPSGRPO]:
    """The config and trained model of a run folder."""
    config = RunConfig.load(Path(folder))
    model_path = Path(folder) / MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"{str(model_path)!r} not found: the run in {str(folder)!r} has no checkpoint yet")
    return config, ALGOS[config.algo].load(model_path)
