"""One writer per run: a lock file that names its holder, held with ``flock`` while the trainer lives.

The trainer keeps ``run_dir/lock`` open with an exclusive ``flock``, which the
kernel drops the moment the process dies, however it dies. So on the machine
that wrote it, "is the run being written?" is answered by the lock itself, not
by a pid that a reboot or a long uptime may have given to another process:
a pid in the file is only shown to people and, for Stop, checked to be that
same process before it is signalled.

A lock written on another host cannot be tested from here; it is honoured,
and ``pneumo unlock RUN --force`` breaks it once you know no trainer there
still writes the run. Lock files from before the flock (no ``"lock": "flock"``)
are judged by their pid and its start time.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from training.core.errors import PneumoError
from training.run.paths import RunPaths

FORMAT = "flock"
ACQUIRE_PATIENCE_S = 1.0  # a reader's probe holds the lock for microseconds; ride it out


class RunLocked(PneumoError):
    """Another live process is writing this run."""


@dataclass
class LockHolder:
    pid: int
    host: str
    started: float  # wall-clock time the lock was taken (0: unknown)
    flock: bool = False  # held with flock (this format), so liveness can be tested on its host

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"

    @property
    def here(self) -> bool:
        return self.host == socket.gethostname()


def read_holder(lock_path: Path) -> LockHolder | None:
    try:
        data = json.loads(Path(lock_path).read_text())
        return LockHolder(int(data["pid"]), str(data["host"]), float(data.get("started", 0)),
                          data.get("lock") == FORMAT)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def lock_held(lock_path: Path) -> bool | None:
    """Whether a live process on this machine holds ``lock_path`` with flock (None: cannot tell)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the probe's shared lock
    return False


def holder_alive(holder: LockHolder, lock_path: Path | None = None) -> bool:
    """True unless we can tell the holder is gone.

    On this host a flock lock is alive exactly while it is held; an older lock
    while its pid runs a process that started before the lock was taken. A lock
    of another host is taken to be alive (nothing here can tell).
    """
    if not holder.here:
        return True
    if holder.flock and lock_path is not None:
        held = lock_held(lock_path)
        return True if held is None else held
    return _is_the_holder(holder.pid, holder.started)


def is_lock_holder(holder: LockHolder) -> bool:
    """``holder.pid`` on this host is the very process that took the lock (not one that got its pid later)."""
    return holder.here and _is_the_holder(holder.pid, holder.started)


def _is_the_holder(pid: int, lock_started: float) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (not Linux): the pid runs, assume it is ours
    if stat[0] == "Z":
        return False
    started = _process_start_time(stat)
    # A process that started after the lock was taken cannot have taken it: its pid was reused.
    return not (lock_started and started is not None and started > lock_started + 2.0)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()  # [state, ppid, ...]: field 3 of stat is index 0


def _process_start_time(stat: list[str]) -> float | None:
    """The wall-clock time the process started, from its start time in clock ticks since boot."""
    try:
        ticks = int(stat[19])  # field 22 of /proc/<pid>/stat
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return None


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


class RunLock:
    """``with RunLock(run_dir):`` holds ``run_dir/lock`` for this process.

    Two writers cannot both win: the kernel grants the exclusive flock to one,
    also when several race to take over a dead holder's lock.
    """

    def __init__(self, run_dir: Path):
        self.path = RunPaths(Path(run_dir)).lock
        self.held = False
        self._fd: int | None = None

    def acquire(self, force: bool = False) -> None:
        """Take the lock or raise ``RunLocked`` naming its holder. ``force`` breaks a lock of another host."""
        deadline = time.monotonic() + ACQUIRE_PATIENCE_S
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise RunLocked(self._held_by()) from None
            if not _same_file(fd, self.path):  # the file we locked was released and removed meanwhile
                os.close(fd)
                continue
            break
        holder = read_holder(self.path)
        if holder is not None and not holder.flock and holder.here and _is_the_holder(holder.pid, holder.started):
            os.close(fd)  # an older trainer, which does not flock, still runs
            raise RunLocked(self._held_by())
        if holder is not None and not holder.here and not force:
            os.close(fd)
            raise RunLocked(f"{self._held_by()}; if no trainer runs there any more, break it with "
                            f"pneumo unlock {self.path.parent} --force")
        payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                              "lock": FORMAT}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, payload, 0)
        os.fsync(fd)
        self._fd, self.held = fd, True

    def _held_by(self) -> str:
        holder = read_holder(self.path)
        who = holder.describe() if holder else "another process"
        return f"run is being written by {who} ({self.path})"

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)  # before closing: nobody may lock a file we then remove
            os.close(self._fd)
            self._fd, self.held = None, False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def break_lock(run_dir: Path, force: bool = False) -> LockHolder | None:
    """Remove a run's stale lock (or, with ``force``, one of another host); return the holder it named.

    ``RunLocked`` when a live trainer on this host holds it: stop that trainer instead.
    """
    path = RunPaths(Path(run_dir)).lock
    holder = read_holder(path)
    if not path.exists():
        return None
    lock = RunLock(run_dir)
    lock.acquire(force=force)  # raises while a live trainer holds it
    lock.release()
    return holder


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
