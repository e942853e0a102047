"""RunReader: incremental, tolerant of partial lines, notices a dead writer; chart maths."""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from pneumo_tui.widgets.charts import LogAxisFormatter, downsample, ema_smooth, run_colour
from pneumo_tui.widgets.progress import format_duration
from training.run.state import RunReader, read_run

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
CNN3 = FIXTURES / "20260101-000000-cnn3"


def _lines(run: Path) -> list[str]:
    return (run / "events.jsonl").read_text().splitlines(keepends=True)


def test_series_grow_incrementally_and_partial_line_waits(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(CNN3 / "config.json", run)
    lines = _lines(CNN3)
    log = run / "events.jsonl"
    follower = RunReader(run)
    assert follower.poll() is False or follower.series.step_x == []
    with open(log, "a") as f:
        f.writelines(lines[:11])  # run_started + 10 steps
    assert follower.poll() is True
    assert follower.series.step_x == list(range(1, 11))
    half = lines[11][: len(lines[11]) // 2]
    with open(log, "a") as f:
        f.write(half)
    follower.poll()
    assert len(follower.series.step_x) == 10  # the half-written step is held back
    with open(log, "a") as f:
        f.write(lines[11][len(half):])
        f.writelines(lines[12:])
    follower.poll()
    assert follower.series.step_x[-1] == 100
    assert sorted(follower.series.epochs) == [1, 2, 3, 4]
    assert follower.series.best_epoch == 3
    assert follower.series.evals["test"]["accuracy"] == 0.875
    assert follower.status == "finished"


def test_poll_reads_only_new_bytes(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(CNN3, run)
    follower = RunReader(run)
    follower.poll()
    n = len(follower.series.step_x)
    size = (run / "events.jsonl").stat().st_size
    assert follower._events.offset == size
    # Scribble over what was already read: a follower that re-read the file would lose its series.
    with open(run / "events.jsonl", "r+b") as f:
        f.write(b"x" * 200)
    version = follower.version
    assert follower.poll() is False and follower.version == version
    assert len(follower.series.step_x) == n


def test_running_then_stale_when_the_writer_dies(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_text(_lines(CNN3)[0])
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run / "lock").write_text(json.dumps({"pid": proc.pid, "host": socket.gethostname(), "started": 0}))
        follower = RunReader(run)
        follower.poll()
        assert follower.status == "running"
        assert follower.pid == proc.pid
    finally:
        proc.kill()
        proc.wait()
    assert follower.poll() is True  # nothing new was written, but the status changed
    assert follower.status == "stale"


def test_resumed_run_overwrites_repeated_steps(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = [
        {"event": "run_started", "time": 0, "epochs": 2, "steps_per_epoch": 3},
        *({"event": "step", "time": g, "epoch": 1 + (g - 1) // 3, "step": 1 + (g - 1) % 3, "global_step": g,
           "loss": 1.0} for g in range(1, 6)),
        {"event": "run_resumed", "time": 10, "epoch": 2},
        *({"event": "step", "time": 10 + g, "epoch": 2, "step": g - 3, "global_step": g, "loss": 0.5}
          for g in range(4, 7)),
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    follower = RunReader(run)
    follower.poll()
    assert follower.series.step_x == [1, 2, 3, 4, 5, 6]
    assert follower.series.step_loss == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]


def test_progress_and_eta_come_from_event_times(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = _lines(CNN3)
    # run_started, 25 steps, epoch 1, checkpoints, 2 steps of epoch 2
    (run / "events.jsonl").write_text("".join(lines[:31]))
    follower = RunReader(run)
    follower.poll()
    p = follower.progress()
    assert (p.epoch, p.step, p.epochs, p.steps_per_epoch) == (2, 2, 4, 25)
    assert p.device == "cpu" and p.images_per_s == 64.0
    assert follower.status == "stale" and p.eta_s is None  # nobody holds the lock: no ETA for a dead run
    follower.status = "running"
    eta = follower._eta(p)
    remaining_steps = 4 * 25 - ((p.epoch - 1) * 25 + p.step)
    assert eta is not None and math.isclose(eta, remaining_steps * 0.5, rel_tol=0.2)


def test_format_duration():
    assert format_duration(None) == "-"
    assert format_duration(61) == "1:01"
    assert format_duration(3661) == "1:01:01"


def test_ema_matches_tensorboard_debiased_average():
    values = [1.0, 0.0, 1.0, 0.0]
    smoothed = ema_smooth(values, 0.5)
    assert smoothed[0] == 1.0  # debiasing: the first point is not pulled towards zero
    # TensorBoard: last = last*w + (1-w)*v; smoothed = last / (1 - w**n)
    assert math.isclose(smoothed[1], (0.5 * 0.5 + 0.0) / (1 - 0.25))
    assert ema_smooth(values, 0.0) == values


def test_downsample_keeps_extremes_within_budget():
    xs = list(range(10_000))
    ys = [math.sin(x / 50) for x in xs]
    ys[5001] = 10.0  # a spike must survive
    dx, dy = downsample(xs, ys, 200)
    assert len(dx) <= 200
    assert max(dy) == 10.0 and min(dy) == min(ys)
    assert dx == sorted(dx)
    assert downsample([1, 2], [3, 4], 200) == ([1, 2], [3, 4])


def test_run_colours_are_stable_and_log_ticks_read_as_values():
    assert run_colour("20260101-000000-cnn3") == run_colour("20260101-000000-cnn3")
    code = "from pneumo_tui.widgets.charts import run_colour; print(run_colour('20260101-000000-cnn3'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "7"})
    assert other.stdout.strip() == run_colour("20260101-000000-cnn3")
    fmt = LogAxisFormatter()
    ticks = fmt.get_ticks(math.log10(0.05), math.log10(2.0))
    assert fmt.get_labels_for_ticks(ticks)[:3] == ["0.05", "0.1", "0.2"]


def test_incremental_and_whole_file_reads_fold_alike(tmp_path):
    # The app folds a log a few lines at a time, the CLI all at once: one fold, the same summary.
    for fixture in FIXTURES.iterdir():
        run = tmp_path / fixture.name
        run.mkdir()
        shutil.copy(fixture / "config.json", run)
        follower = RunReader(run)
        with open(run / "events.jsonl", "a") as f:
            for line in _lines(fixture):
                f.write(line)
                f.flush()
                follower.poll()
        assert follower.summary().to_json() == read_run(run).summary().to_json()
