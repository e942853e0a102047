"""Runs survive SIGKILL and Ctrl-C, resume exactly, and have one writer at a time."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from training.data.arrays import DataSpec
from training.engine.recipes import load_recipe
from training.engine.trainer import resume_run, train
from training.run.events import read_events
from training.run.paths import RunPaths
from training.run.state import run_status

PNEUMO = str(Path(sys.executable).with_name("pneumo"))
TRAIN_ARGS = ["--epochs", "3", "--image-size", "32", "--set", "batch_size=4"]


def start_training(demo_root: Path, runs: Path, delay: str = "0.1") -> subprocess.Popen:
    # PNEUMO_STEP_DELAY slows each step so that the test can act in the middle of an epoch.
    env = {**os.environ, "PNEUMO_STEP_DELAY": delay}
    return subprocess.Popen([PNEUMO, "train", "cnn3", "--data", str(demo_root), "--out", str(runs), *TRAIN_ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_step(runs: Path, proc: subprocess.Popen, epoch: int, step: int = 1, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs.glob("*"):
            events = read_events(RunPaths(run).events)
            if any(e["event"] == "step" and e["epoch"] == epoch and e["step"] >= step for e in events):
                return run
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no step {step} of epoch {epoch} within {timeout}s")


def losses_by_step(run: Path) -> dict:
    # A step logged twice (before a kill and again after resuming) counts once: the later one.
    return {(e["epoch"], e["step"]): e["loss"] for e in read_events(RunPaths(run).events) if e["event"] == "step"}


def test_sigkill_mid_epoch_2_then_resume_finishes_and_eval_reads_it(demo_root, tmp_path):
    runs = tmp_path / "runs"
    proc = start_training(demo_root, runs, delay="0.5")  # room to kill inside epoch 2 on a loaded machine
    run = wait_for_step(runs, proc, epoch=2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    last = torch.load(RunPaths(run).last_checkpoint, weights_only=True)
    assert last["epoch"] == 1 and last["next_step"] == 0  # only the epoch in progress was lost
    assert run_status(run) == "stale"  # the lock names a dead pid

    done = subprocess.run([PNEUMO, "train", "--resume", run.name, "--out", str(runs)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(run)
    events = read_events(RunPaths(run).events)
    resumed = next(e for e in events if e["event"] == "run_resumed")
    assert resumed["epoch"] == 2
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2, 3]
    assert events[-1]["event"] == "run_finished" and events[-1]["reason"] == "completed"
    assert run_status(run) == "finished"

    evaluated = subprocess.run([PNEUMO, "eval", str(run), "--json"], capture_output=True, text=True, timeout=120)
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)
    assert set(metrics) >= {"accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "confusion",
                            "threshold", "n"}
    assert metrics["n"] == 8 and set(metrics["confusion"]) == {"tp", "fp", "tn", "fn"}


def test_sigint_checkpoints_mid_epoch_refuses_a_second_writer_and_resumes_exactly(demo_root, tmp_path):
    runs = tmp_path / "runs"
    # Slow steps: the run must still be going once the second process (a cold torch import) gets to the lock.
    proc = start_training(demo_root, runs, delay="2.0")
    run = wait_for_step(runs, proc, epoch=1, step=2)

    second = subprocess.run([PNEUMO, "train", "--resume", str(run)], capture_output=True, text=True, timeout=120)
    assert second.returncode == 1
    assert second.stderr.startswith("error: run is being written by pid") and "Traceback" not in second.stderr

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    events = read_events(RunPaths(run).events)
    assert events[-1]["event"] == "run_finished" and events[-1]["reason"] == "interrupted"
    assert events[-2]["event"] == "checkpoint" and events[-2]["kind"] == "last"
    stopped = torch.load(RunPaths(run).last_checkpoint, weights_only=True)
    assert (stopped["epoch"], stopped["next_step"]) != (0, 0)
    assert not RunPaths(run).lock.exists()

    resume_run(run)  # in-process: the data path comes from config.json
    assert read_events(RunPaths(run).events)[-1]["reason"] == "completed"

    # The interrupted-and-resumed run took exactly the steps of an uninterrupted one.
    recipe = load_recipe("cnn3", ["epochs=3", "image_size=32", "batch_size=4"])
    straight = train(recipe, DataSpec(demo_root), tmp_path / "straight")
    assert losses_by_step(run) == losses_by_step(straight)
