"""The event log on a failing disk: line-atomic, repaired on resume, the lock released, one clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.run.events import EventLogError, EventWriter, read_events
from training.run.paths import RunPaths

ROOT = Path(__file__).resolve().parents[1]


def test_a_write_past_the_file_size_limit_leaves_whole_lines_and_one_clear_error(tmp_path):
    # A failed write of events.jsonl left a half line behind (then three chained tracebacks).
    log = tmp_path / "events.jsonl"
    code = f"""
import resource, signal, sys
sys.path.insert(0, {str(ROOT)!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))
from training.run.events import EventLogError, EventWriter
w = EventWriter({str(log)!r})
try:
    for i in range(100):
        w.write("step", epoch=1, step=i + 1, global_step=i + 1, loss=0.123456789, note="x" * 40)
except EventLogError as exc:
    print("ERROR", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR cannot write the event log") and "Traceback" not in out.stderr
    data = log.read_bytes()
    assert data.endswith(b"\n") and len(data) <= 500
    assert len(read_events(log)) == data.count(b"\n") > 0  # every line that is there is a whole event


def test_a_resume_first_ends_a_torn_last_line(tmp_path):
    # The next resume appended onto the half line, so a reader lost an event.
    log = tmp_path / "events.jsonl"
    log.write_text('{"event": "run_started", "time": 1}\n{"event": "step", "time": 2, "glob')
    with EventWriter(log) as w:
        w.write("run_resumed", epoch=1, step=1)
    assert [e["event"] for e in read_events(log)] == ["run_started", "run_resumed"]


def test_a_training_whose_log_fails_ends_with_one_error_and_no_lock(demo_root, tmp_path, monkeypatch):
    # The failed write left the lock behind and three chained tracebacks; now: one error line, no lock.
    calls = {"n": 0}
    original = EventWriter._append

    def disk_full_after_a_while(self, data):
        calls["n"] += 1
        if calls["n"] > 12:  # as the real _append ends when the disk is full (test above)
            raise EventLogError(f"cannot write the event log {self.path}: No space left on device")
        original(self, data)

    monkeypatch.setattr(EventWriter, "_append", disk_full_after_a_while)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", "cnn3", "--data", str(demo_root), "--epochs", "2", "--image-size",
                                      "32", "--set", "batch_size=8", "--runs", str(runs)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "Traceback" not in result.stderr
    (run,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert not RunPaths(run).lock.exists()
    assert RunPaths(run).events.read_bytes().endswith(b"\n")


def test_opening_a_run_for_writing_removes_its_own_stale_temporaries(tmp_path):
    # Seven of ten kills mid-checkpoint left a .tmp of up to 47 MB, never cleaned.
    from training.run.writer import RunLog

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / "checkpoints" / ".last.pt.k2j3h4.tmp", run / "checkpoints" / ".best.pt.zz.tmp",
             run / ".config.json.a1.tmp", run / ".predictions.csv.b2.tmp"]
    others = [run / ".review.json.c3.tmp", run / "checkpoints" / "last.pt"]  # notes are not the trainer's to remove
    for path in stale + others:
        path.write_bytes(b"x" * 100)
    with RunLog(run):
        assert not any(p.exists() for p in stale) and all(p.exists() for p in others)
