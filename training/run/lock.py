"""One writer per run: a lock file that names its holder and can be found stale."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from training.core.errors import PneumoError
from training.run.paths import RunPaths


class RunLocked(PneumoError):
    """Another live process is writing this run."""


@dataclass
class LockHolder:
    pid: int
    host: str
    started: float

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def read_holder(lock_path: Path) -> LockHolder | None:
    try:
        data = json.loads(Path(lock_path).read_text())
        return LockHolder(int(data["pid"]), str(data["host"]), float(data.get("started", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def holder_alive(holder: LockHolder) -> bool:
    """True unless we can tell the holder is gone (same host, pid not running)."""
    if holder.host != socket.gethostname():
        return True  # cannot check another machine; assume alive
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(holder.pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


class RunLock:
    """``with RunLock(run_dir):`` holds ``run_dir/lock`` for this process.

    Created with O_EXCL so two writers cannot both win. A lock whose holder is
    dead is stale and is taken over.
    """

    def __init__(self, run_dir: Path):
        self.path = RunPaths(Path(run_dir)).lock
        self.held = False

    def acquire(self) -> None:
        payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_holder(self.path)
                if holder is not None and holder_alive(holder):
                    raise RunLocked(f"run is being written by {holder.describe()} ({self.path})") from None
                if holder is None and time.time() - _mtime(self.path) < 5:
                    raise RunLocked(f"run lock is being created by another process ({self.path})") from None
                self.path.unlink(missing_ok=True)  # stale: the holder died
                continue
            with os.fdopen(fd, "w") as f:
                f.write(payload)
            self.held = True
            return
        raise RunLocked(f"could not take the run lock {self.path}")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
