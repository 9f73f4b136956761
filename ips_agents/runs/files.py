"""Writing a run folder safely: atomic files, an append-only CSV log, temp-file clean-up and the folder lock.

* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_save` write through a temporary file
  in the same folder (``.<name>.<random>.tmp``), flushed to disk, then renamed over the target: a reader
  (or a kill at any moment) sees the old file or the new one, never half of one.
* :func:`clean_temp_files` removes the temporaries a SIGKILL leaves behind (run by the lock holder only).
* :class:`AppendingCSV` is the ``progress.csv`` writer: it appends to an existing log (keeping every earlier
  row), drops a half-written last line, and widens the header in place (atomically) when new keys appear.
* :class:`RunLock` is an exclusive lock on a run folder (``run.lock``, an ``flock`` plus the holder's pid,
  host and start time); a second writer gets :class:`RunLocked` naming the holder, and the lock of a process
  that died (even by SIGKILL) is taken over.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import socket
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from stable_baselines3.common.logger import KVWriter, filter_excluded_keys

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the lock falls back to the pid check alone
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "run.lock"
TEMP_SUFFIX = ".tmp"


@contextmanager
def naming_file(path: str | Path) -> Iterator[None]:
    """Re-raise an OSError that names no file (a full disk reported by a write or a close) naming ``path``."""
    try:
        yield
    except OSError as e:
        if e.filename is not None or e.errno is None:
            raise
        raise OSError(e.errno, e.strerror, str(path)) from e


def check_folder(folder: str | Path) -> str | Path:
    """``folder`` unless it is an empty path (which would mean the current directory): ValueError then."""
    if not str(folder).strip():
        raise ValueError(f"the folder path is empty ({str(folder)!r}): give a folder such as 'runs/x'")
    return folder


# ------------------------------------------------------------------------------------------ atomic writes
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, flush it to disk and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with naming_file(path), os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode())


def atomic_save(model: Any, path: str | Path) -> None:
    """``model.save`` to ``path`` atomically (the zip is written to a temporary file object first)."""
    atomic_write(path, lambda f: model.save(f))


def clean_temp_files(folder: str | Path) -> list[Path]:
    """Remove the temporary files interrupted atomic writes left in ``folder`` and ``folder/logs``.

    Only the holder of the folder's :class:`RunLock` may call this (a live writer's temporaries look the same).
    Returns the removed paths.
    """
    removed = []
    for sub in (Path(folder), Path(folder) / "logs"):
        if not sub.is_dir():
            continue
        for p in sub.iterdir():
            if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX) and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


# -------------------------------------------------------------------------------------------- CSV log
class AppendingCSV(KVWriter):
    """SB3 logger output that appends rows to ``path`` and never drops a row already written.

    On opening, an existing file keeps its header and rows (a half-written last line, left by a kill in the
    middle of a write, is cut off). A file that is not UTF-8 text (damaged, or edited by another program) is
    moved aside to ``<name>.unreadable`` (``.unreadable.1``, ... if taken) with a RuntimeWarning naming both
    files, and a new log starts: nothing is deleted. When a row brings keys the header lacks, the file is
    rewritten atomically with the wider header and the earlier rows padded with empty cells. Every row is
    flushed as it is written.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keys: list[str] = []
        data = self.path.read_bytes() if self.path.exists() else b""
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]  # drop the partial last line
            with open(self.path, "r+b") as f:
                f.truncate(len(data))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self._move_aside(e)
            text = ""
        if text:
            self.keys = next(csv.reader(io.StringIO(text)))
        self.file: IO[str] = open(self.path, "a", newline="", encoding="utf-8")

    def _move_aside(self, error: UnicodeDecodeError) -> None:
        """Rename the unreadable log to a free ``<name>.unreadable[.N]`` and warn naming both files."""
        aside = self.path.with_name(self.path.name + ".unreadable")
        n = 0
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.unreadable.{n}")
        os.replace(self.path, aside)
        warnings.warn(f"{str(self.path)!r} is not UTF-8 text ({error.reason} at byte {error.start}): moved it to "
                      f"{str(aside)!r} and started a new log", RuntimeWarning, stacklevel=3)

    def _widen(self, new_keys: list[str]) -> None:
        self.file.close()
        text = self.path.read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text)))[1:] if text else []
        self.keys = self.keys + new_keys
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.keys)
        for row in rows:
            writer.writerow(row + [""] * (len(self.keys) - len(row)))
        atomic_write_text(self.path, out.getvalue())
        self.file = open(self.path, "a", newline="", encoding="utf-8")

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        values = {k: v for k, v in filter_excluded_keys(key_values, key_excluded, "csv").items()
                  if v is None or isinstance(v, str | int | float) or hasattr(v, "item")}
        new_keys = [k for k in values if k not in self.keys]
        if new_keys:
            if self.file.tell() == 0 and not self.keys:
                self.keys = new_keys
                self.file.write(_csv_line(self.keys))
            else:
                self._widen(new_keys)
        with naming_file(self.path):
            self.file.write(_csv_line(["" if values.get(k) is None else values[k] for k in self.keys]))
            self.file.flush()

    def close(self) -> None:
        with naming_file(self.path):
            self.file.close()


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ lock
class RunLocked(RuntimeError):
    """The run folder is locked by another live process (the message names its pid and host)."""


def _proc_start(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), to tell a live holder from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_alive(holder: Mapping[str, Any]) -> bool:
    """Whether the process a lock record names still runs (False when it cannot be checked from here)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or holder.get("host") != socket.gethostname() or pid == os.getpid():
        return False
    if not _alive(pid):
        return False
    start = holder.get("proc_start")
    return start is None or _proc_start(pid) in (None, start)


def describe_holder(holder: Mapping[str, Any]) -> str:
    """``pid 123 on host h (since ..., ips-rl train ...)`` for a lock record."""
    parts = [f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"]
    extra = [str(holder[k]) for k in ("started", "command") if holder.get(k)]
    return parts[0] + (f" ({', '.join(extra)})" if extra else "")


class RunLock:
    """Exclusive lock on a run folder, held by one writer (``ips-rl train``) at a time.

    ``acquire()`` takes an ``flock`` on ``folder/run.lock`` and records ``{"pid", "host", "started",
    "command", "proc_start"}`` in it. The kernel releases an ``flock`` when its process dies, so a lock left
    by a killed run is free and is taken over (:attr:`stale` then holds the dead holder's record). A held
    lock raises :class:`RunLocked` naming the holder. ``release()`` removes the file. Use as a context manager.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None
        self.stale: dict[str, Any] | None = None

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
        try:
            record = json.loads(raw.decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return record if isinstance(record, dict) else {}

    def _refuse(self, holder: Mapping[str, Any]) -> RunLocked:
        return RunLocked(
            f"run folder {str(self.folder)!r} is locked by {describe_holder(holder)}: another run is writing to it; "
            f"wait for it to end or stop it (if that process is not an ips-rl run, delete {str(self.path)!r})"
        )

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunLocked`; returns ``self``."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read(fd)
                os.close(fd)
                raise self._refuse(holder) from None
            try:  # the file may have been removed (released) between our open and our flock: start again
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self._read(fd)
        if previous and _holder_alive(previous):  # a live holder without the flock (e.g. a file system without it)
            os.close(fd)
            raise self._refuse(previous)
        self.stale = previous or None
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:500] if sys.argv else "",
            "proc_start": _proc_start(os.getpid()),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (no-op when not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
