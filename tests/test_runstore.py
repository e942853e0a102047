"""The run store contract: the event log, the lock and run status."""

import json
import os
import subprocess
import sys

import pytest

from training.run.events import EventFollower, EventWriter, read_events
from training.run.lock import RunLock, RunLocked
from training.run.paths import RunPaths
from training.run.state import list_runs, run_status
from training.run.store import new_run_dir


def test_follower_reads_incrementally_and_waits_for_partial_lines(tmp_path):
    log = tmp_path / "events.jsonl"
    follower = EventFollower(log)
    assert follower.poll() == []
    with EventWriter(log) as w:
        w.write("run_started", model="cnn3")
        assert [e["event"] for e in follower.poll()] == ["run_started"]
        assert follower.poll() == []
    with open(log, "a") as f:
        f.write('{"event": "step", "time": 1, "loss": 0.')
    assert follower.poll() == []  # half-written line is held back
    with open(log, "a") as f:
        f.write('5}\n')
    events = follower.poll()
    assert [(e["event"], e["loss"]) for e in events] == [("step", 0.5)]


def test_garbage_line_is_skipped(tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_text('{"event": "run_started", "time": 0}\nnot json\n{"event": "step", "time": 1}\n')
    assert [e["event"] for e in read_events(log)] == ["run_started", "step"]


def test_second_writer_is_refused_and_named(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire()  # released: free again


def test_dead_holder_is_stale_and_taken_over(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(proc.stdout)
    import socket

    (tmp_path / "lock").write_text(json.dumps({"pid": dead_pid, "host": socket.gethostname(), "started": 0}))
    (tmp_path / "events.jsonl").write_text('{"event": "run_started", "time": 0}\n')
    assert run_status(tmp_path) == "stale"
    with RunLock(tmp_path):
        assert run_status(tmp_path) == "running"


def test_status_and_summary(tmp_path):
    run = new_run_dir(tmp_path, "cnn3")
    paths = RunPaths(run)
    paths.config.write_text(json.dumps({"model": "cnn3", "recipe": {"epochs": 2}}))
    with EventWriter(paths.events) as w:
        w.write("run_started", model="cnn3")
        w.write("epoch", epoch=1, val_auc=0.8)
        w.write("checkpoint", kind="best", epoch=1, metric="val_auc", value=0.8)
        w.write("eval", split="test", accuracy=0.9, sensitivity=0.95, specificity=0.8, auc=0.93)
        w.write("run_finished", reason="completed")
    (summary,) = list_runs(tmp_path)
    assert summary.status == "finished"
    assert summary.model == "cnn3"
    assert summary.epochs_done == 1 and summary.epochs_planned == 2
    assert summary.val_auc == 0.8
    assert summary.test["accuracy"] == 0.9


def test_resolve_run_by_path_prefix_and_clear_errors(tmp_path):
    from training.run.store import resolve_run

    run = new_run_dir(tmp_path, "cnn3")
    RunPaths(run).config.write_text("{}")
    assert resolve_run(run) == run
    assert resolve_run(run.name[:10], tmp_path) == run
    for bad in (tmp_path / "nope", "/absolutely/not/a/run", "nothing-like-this"):
        with pytest.raises(FileNotFoundError, match="run"):
            resolve_run(bad, tmp_path)
