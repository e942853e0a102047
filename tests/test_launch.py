"""The detached launcher: own session, output to a log, run folder found, SIGINT stop."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pneumo_tui.launch import StopError, TrainSettings, launch, pneumo_command, stop_training
from training.run.events import read_events
from training.run.paths import RunPaths

WRITER = [sys.executable, str(Path(__file__).parent / "app_run_writer.py")]


def test_settings_become_pneumo_train_arguments(tmp_path):
    s = TrainSettings("cnn3", tmp_path / "data", tmp_path / "runs", epochs=2, image_size=64, overrides={"lr": "0.01"})
    assert s.arguments() == [
        "train", "cnn3", "--data", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"),
        "--epochs", "2", "--image-size", "64", "--set", "lr=0.01",
    ]


def test_seed_device_and_test_data_are_arguments_and_the_command_line_is_quoted_for_a_shell(tmp_path):
    from typer.testing import CliRunner

    from pneumo_tui.cli import app

    s = TrainSettings("demo", Path("my data"), Path("runs"), test_data=Path("site b/test"), seed=3, device="cuda:1",
                      overrides={"threshold": "sensitivity>=0.95"})
    assert s.arguments()[-6:] == ["--seed", "3", "--device", "cuda:1", "--set", "threshold=sensitivity>=0.95"]
    assert s.command_line() == ("pneumo train demo --data 'my data' --runs runs --test-data 'site b/test' --seed 3 "
                                "--device cuda:1 --set 'threshold=sensitivity>=0.95'")
    # every option the command names is one pneumo train takes
    help_text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--data", "--runs", "--test-data", "--seed", "--device", "--set"):
        assert option in help_text


def test_a_trainer_started_from_the_app_shows_as_pneumo_train_in_ps(tmp_path):
    # It used to show as `python3 -c from pneumo_tui.cli import main; main() train ...`.
    launched = launch(["train", "--resume", str(tmp_path / "no-such-run"), "--runs", str(tmp_path)], tmp_path,
                      program=None)
    try:
        proc = Path(f"/proc/{launched.pid}/cmdline")
        assert _wait(lambda: proc.read_bytes(), timeout=10)  # empty until the new program is in place
        cmdline = proc.read_bytes().replace(b"\0", b" ").decode()
        assert "pneumo train --resume" in cmdline and " -c " not in cmdline
        probe = subprocess.run(pneumo_command() + ["--help"], capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0 and "Usage: pneumo" in probe.stdout
    finally:
        launched.process.wait(timeout=60)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_launched_trainer_is_detached_found_and_stopped_cleanly(tmp_path):
    runs = tmp_path / "runs"
    launched = launch([str(runs), "--interval", "0.05"], runs, program=WRITER)
    try:
        run = launched.wait_for_run_dir(timeout=15)
        assert run == runs / "20260101-020000-writer"
        assert os.getsid(launched.pid) != os.getsid(0)  # its own session: our hangup is not its hangup
        assert RunPaths(run).log.read_text().strip() == str(run)  # the log is also the run's train.log
        assert _wait(lambda: any(e["event"] == "step" for e in read_events(RunPaths(run).events)))
        assert stop_training(run) == launched.pid
        assert _wait(lambda: launched.exited() is not None)
        assert read_events(RunPaths(run).events)[-1]["reason"] == "interrupted"
        with pytest.raises(StopError):
            stop_training(run)  # nobody holds the lock any more
    finally:
        if launched.exited() is None:
            launched.process.kill()
            launched.process.wait()


def test_run_folder_found_from_the_lock_when_nothing_is_printed(tmp_path):
    runs = tmp_path / "runs"
    silent = [sys.executable, "-c",
              "import runpy, sys, os; sys.stdout = open(os.devnull, 'w'); sys.argv = sys.argv[:1] + sys.argv[1:]; "
              f"runpy.run_path({str(WRITER[1])!r}, run_name='__main__')"]
    launched = launch([str(runs), "--interval", "0.05", "--steps", "40"], runs, program=silent)
    try:
        assert launched.wait_for_run_dir(timeout=15) == runs / "20260101-020000-writer"
        assert launched.log.read_text() == ""
    finally:
        launched.process.kill()
        launched.process.wait()
