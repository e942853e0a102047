"""The run lock on a shared server: pid reuse, racing takeovers, other hosts, and never signalling a stranger."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pneumo_tui.cli import app
from pneumo_tui.launch import StopError, stop_training
from training.run.lock import RunLock, RunLocked
from training.run.paths import RunPaths
from training.run.state import run_status

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    RunPaths(run).events.write_text('{"event": "run_started", "time": 1}\n')
    return run


@pytest.fixture
def stranger():
    """A live process that has nothing to do with any run (as after a reboot or pid reuse)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("fmt", ["flock", "pid only (older trainers)"])
def test_a_lock_naming_an_unrelated_live_process_is_stale_and_that_process_is_never_signalled(tmp_path, stranger,
                                                                                             fmt):
    # The lock's pid now belongs to another process: it was honoured forever (running) and x sent it SIGINT.
    run = _run(tmp_path)
    payload = {"pid": stranger.pid, "host": socket.gethostname(), "started": time.time() - 3600}
    if fmt == "flock":
        payload["lock"] = "flock"
    RunPaths(run).lock.write_text(json.dumps(payload))
    assert run_status(run) == "stale"
    with pytest.raises(StopError):
        stop_training(run)
    time.sleep(0.2)
    assert stranger.poll() is None  # still alive: no signal reached it
    with RunLock(run):  # and the run can be taken over
        assert run_status(run) == "running"


def test_stop_signals_the_trainer_that_holds_the_lock(tmp_path):
    run = _run(tmp_path)
    code = ("import sys, time, signal; sys.path.insert(0, sys.argv[2]); from training.run.lock import RunLock; "
            "signal.signal(signal.SIGINT, lambda *a: sys.exit(3)); "
            "lock = RunLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run), str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run_status(run) == "running"
        assert stop_training(run) == holder.pid
        assert holder.wait(timeout=10) == 3
        assert run_status(run) == "stale"  # died holding it: the kernel dropped the lock at once
    finally:
        holder.kill()
        holder.wait()


def test_racing_takeovers_of_a_dead_holders_lock_leave_one_holder(tmp_path):
    # Two of six processes racing on a dead holder's lock could both hold it.
    run = _run(tmp_path)
    RunPaths(run).lock.write_text(json.dumps({"pid": 2**22 + 7, "host": socket.gethostname(), "started": 1}))
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from training.run.lock import RunLock, RunLocked\n"
            "try:\n    lock = RunLock(sys.argv[1]); lock.acquire(); print('won', flush=True); time.sleep(2)\n"
            "except RunLocked:\n    print('lost', flush=True)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(run), str(ROOT)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    results = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(results) == ["lost"] * 5 + ["won"]


def test_a_lock_of_another_host_is_honoured_until_broken_with_force(tmp_path):
    run = _run(tmp_path)
    RunPaths(run).lock.write_text(json.dumps({"pid": 1234, "host": "other-gpu-node", "started": time.time(),
                                              "lock": "flock"}))
    assert run_status(run) == "running"
    with pytest.raises(RunLocked, match="pneumo unlock .* --force"):
        RunLock(run).acquire()
    runner = CliRunner()
    refused = runner.invoke(app, ["unlock", str(run)])
    assert refused.exit_code == 1 and "--force" in refused.output
    broken = runner.invoke(app, ["unlock", str(run), "--force"])
    assert broken.exit_code == 0 and "pid 1234 on other-gpu-node" in broken.stdout
    assert not RunPaths(run).lock.exists() and run_status(run) == "stale"


def test_unlock_removes_a_stale_lock_and_refuses_a_live_one(tmp_path):
    run = _run(tmp_path)
    RunPaths(run).lock.write_text(json.dumps({"pid": 2**22 + 9, "host": socket.gethostname(), "started": 1}))
    assert CliRunner().invoke(app, ["unlock", str(run)]).exit_code == 0 and not RunPaths(run).lock.exists()
    with RunLock(run):
        result = CliRunner().invoke(app, ["unlock", str(run)])
        assert result.exit_code == 1 and "being written by" in result.output
