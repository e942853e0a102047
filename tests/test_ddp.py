"""Multi-process training with torchrun: 2 gloo processes on CPU, one run written by rank 0."""

import subprocess
import sys
from pathlib import Path

from training.run.events import read_events
from training.run.paths import RunPaths
from training.run.predictions import read_predictions
from training.run.state import run_status

PNEUMO = str(Path(sys.executable).with_name("pneumo"))


def test_torchrun_with_two_gloo_processes_writes_exactly_one_run(demo_root, tmp_path):
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", PNEUMO,
               "train", "cnn3", "--data", str(demo_root), "--epochs", "2", "--image-size", "32",
               "--set", "batch_size=4", "--out", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    (run,) = list(runs.iterdir())
    assert done.stdout.strip().splitlines() == [str(run)]  # only rank 0 prints
    events = read_events(RunPaths(run).events)
    started = events[0]
    assert started["event"] == "run_started" and started["world_size"] == 2
    steps = [(e["epoch"], e["step"]) for e in events if e["event"] == "step"]
    assert len(steps) == len(set(steps)) == 2 * started["steps_per_epoch"]  # one writer, no duplicate lines
    # Each rank trains on half of every epoch: ceil(n_train / 2) images in batches of 4.
    half = -(-started["n_train"] // 2)  # ceil(n_train / 2)
    assert started["steps_per_epoch"] == -(-half // 4)
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    assert events[-1]["event"] == "run_finished" and run_status(run) == "finished"
    assert {r["split"] for r in read_predictions(run)} == {"val", "test"}
