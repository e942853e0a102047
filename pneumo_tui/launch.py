"""Start, stop and resume ``pneumo train`` as a detached process.

The trainer must outlive the app: users quit it, or their SSH session drops,
and come back later. So it runs in its own session (no controlling terminal,
no SIGHUP from ours), reads nothing from us and writes its output to a log
file rather than to a pipe that would break when the app exits.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.core.errors import PneumoError
from training.run.lock import holder_alive, is_lock_holder, read_holder
from training.run.paths import RunPaths, launch_dir
from training.run.state import read_run
from training.run.store import is_run_dir


def pneumo_command() -> list[str]:
    """How to run ``pneumo`` with the same interpreter as the app, named so that ``ps``, ``htop`` and
    ``pgrep -f "pneumo train"`` show what it is: the installed ``pneumo`` script beside the interpreter
    (``python .../bin/pneumo train ...``), else ``python -m pneumo_tui``. Neither needs ``pneumo`` on PATH."""
    script = Path(sys.executable).with_name("pneumo")
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "pneumo_tui"]


@dataclass
class TrainSettings:
    model: str
    data: Path
    runs_dir: Path
    epochs: int | None = None
    image_size: int | None = None
    test_data: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # --set key=value (batch_size, lr, recipe...)
    seed: int | None = None
    device: str | None = None  # cuda, cuda:1, mps, cpu; None: the best available

    def arguments(self) -> list[str]:
        args = ["train", self.model, "--data", str(self.data), "--runs", str(self.runs_dir)]
        if self.test_data:
            args += ["--test-data", str(self.test_data)]
        if self.epochs is not None:
            args += ["--epochs", str(self.epochs)]
        if self.image_size is not None:
            args += ["--image-size", str(self.image_size)]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if self.device:
            args += ["--device", self.device]
        for key, value in self.overrides.items():
            args += ["--set", f"{key}={value}"]
        return args

    def command_line(self) -> str:
        """The ``pneumo train ...`` command these settings run, quoted for a POSIX shell (what the app shows)."""
        return shlex.join(["pneumo", *self.arguments()])


@dataclass
class Launched:
    """A trainer we started: its process, and its log until we know its run folder."""

    process: subprocess.Popen
    log: Path
    runs_dir: Path
    started: float
    run_dir: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        """The exit code once it ended (also reaps it, so it never lingers as a zombie)."""
        return self.process.poll()

    def find_run_dir(self) -> Path | None:
        """The run folder, once the trainer has made it: the path it prints, or the run whose
        lock/events name our pid."""
        if self.run_dir is None:
            self.run_dir = (_printed_run_dir(self.log, self.runs_dir)
                            or _run_dir_of_pid(self.runs_dir, self.pid, self.started))
            if self.run_dir is not None:
                _link_log(self.log, RunPaths(self.run_dir).log)
        return self.run_dir

    def wait_for_run_dir(self, timeout: float = 30.0, interval: float = 0.1) -> Path | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.find_run_dir() is not None:
                return self.run_dir
            if self.exited() is not None:
                return self.find_run_dir()
            time.sleep(interval)
        return None

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def launch(arguments: list[str], runs_dir: Path, env: dict | None = None, program: list[str] | None = None) -> Launched:
    """Run ``pneumo <arguments>`` (or ``program``) detached; its output goes to ``<runs>/.launch/<stamp>.log``."""
    runs_dir = Path(runs_dir)
    log_dir = launch_dir(runs_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}.log"
    started = time.time()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            (program or pneumo_command()) + arguments,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session: no SIGHUP/SIGINT from the app's terminal
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    return Launched(process=process, log=log, runs_dir=runs_dir, started=started)


def start_training(settings: TrainSettings, env: dict | None = None) -> Launched:
    return launch(settings.arguments(), settings.runs_dir, env=env)


def resume_training(run_dir: Path, runs_dir: Path, env: dict | None = None) -> Launched:
    launched = launch(["train", "--resume", str(run_dir)], runs_dir, env=env)
    launched.run_dir = Path(run_dir)
    _link_log(launched.log, RunPaths(Path(run_dir)).log)
    return launched


class StopError(PneumoError):
    """The run cannot be stopped from here (not running, or on another host)."""


def stop_training(run_dir: Path) -> int:
    """Ask the trainer writing ``run_dir`` to stop: SIGINT, on which it checkpoints and exits cleanly."""
    lock = RunPaths(Path(run_dir)).lock
    holder = read_holder(lock)
    if holder is None or not holder_alive(holder, lock):
        raise StopError("the run is not running")
    if not holder.here:
        raise StopError(f"the run is written on {holder.host}; stop it there")
    if not is_lock_holder(holder):  # never signal a process that merely has the pid the lock names
        raise StopError(f"pid {holder.pid} is not the trainer that holds the run's lock; not signalled")
    try:
        os.kill(holder.pid, signal.SIGINT)
    except ProcessLookupError:
        raise StopError("the trainer already exited") from None
    except PermissionError:
        raise StopError(f"not allowed to signal pid {holder.pid}") from None
    return holder.pid


def _printed_run_dir(log: Path, runs_dir: Path) -> Path | None:
    """The run folder named in the trainer's output: its "run <id>: ..." start line, or the bare path it prints."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        line = line.strip()
        started = re.match(r"run (\S+):", line)
        candidates = [runs_dir / started.group(1)] if started else [Path(line)] if line else []
        for candidate in candidates:
            if is_run_dir(candidate):
                return candidate
    return None


def _run_dir_of_pid(runs_dir: Path, pid: int, since: float) -> Path | None:
    """The run folder created after ``since`` whose lock or run_started names ``pid``."""
    if not runs_dir.is_dir():
        return None
    for path in runs_dir.iterdir():
        try:
            if not path.is_dir() or path.stat().st_mtime < since - 2:
                continue
        except OSError:
            continue
        holder = read_holder(RunPaths(path).lock)
        if holder is not None and holder.pid == pid:
            return path
        if read_run(path).state.started.get("pid") == pid:
            return path
    return None


def _link_log(log: Path, target: Path) -> None:
    """Make the launch log also readable as ``<run>/train.log`` (a hard link: the trainer keeps writing one file)."""
    if target.exists():
        return
    try:
        os.link(log, target)
    except OSError:
        pass  # another filesystem or no permission: the log stays under .launch/
