"""A stand-in trainer for the app's tests: writes a run folder the way ``pneumo train`` does.

    python tests/app_run_writer.py RUNS_DIR [--steps N] [--interval S] [--run-id ID]

Creates RUNS_DIR/<run-id>, holds its lock, prints the run folder, then writes
step events (and an epoch event every 10 steps) until N steps or SIGINT; on
SIGINT it writes run_finished(reason="interrupted") like the real trainer.
Runs without torch, so follow/launch/attach tests stay fast and independent of the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.run.events import EventWriter  # noqa: E402
from training.run.lock import RunLock  # noqa: E402

STEPS_PER_EPOCH = 10


def write_long_run(run: Path, steps: int) -> Path:
    """A finished one-epoch run whose log is ``steps`` step events (megabytes for tens of thousands)."""
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"run_id": run.name, "model": "writer", "recipe": {"epochs": 1}}))
    lines = [json.dumps({"event": "run_started", "time": 0.0, "run_id": run.name, "model": "writer", "epochs": 1,
                         "steps_per_epoch": steps})]
    lines += [json.dumps({"event": "step", "time": g * 0.01, "epoch": 1, "step": g, "global_step": g, "loss": 1.0 / g,
                          "lr": 1e-3, "images_per_s": 100.0}) for g in range(1, steps + 1)]
    lines.append(json.dumps({"event": "run_finished", "time": steps * 0.01, "reason": "completed", "best_epoch": 1}))
    (run / "events.jsonl").write_text("\n".join(lines) + "\n")
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--run-id", default="20260101-020000-writer")
    args = parser.parse_args()
    run = args.runs_dir / args.run_id
    run.mkdir(parents=True, exist_ok=True)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    epochs = max(1, args.steps // STEPS_PER_EPOCH)
    (run / "config.json").write_text(json.dumps({"run_id": args.run_id, "model": "writer",
                                                 "recipe": {"epochs": epochs}}))
    with RunLock(run), EventWriter(run / "events.jsonl") as log:
        log.write("run_started", run_id=args.run_id, model="writer", device="cpu", epochs=epochs,
                  steps_per_epoch=STEPS_PER_EPOCH, batch_size=8, image_size=32, n_train=80, n_val=8, n_test=8,
                  pid=os.getpid(), host=socket.gethostname(), amp=False, synthetic=True)
        print(run, flush=True)
        for g in range(1, args.steps + 1):
            if stop:
                log.write("run_finished", reason="interrupted", best_epoch=None)
                return
            epoch, step = (g - 1) // STEPS_PER_EPOCH + 1, (g - 1) % STEPS_PER_EPOCH + 1
            log.write("step", epoch=epoch, step=step, global_step=g, loss=1.0 / g, lr=1e-3, images_per_s=100.0)
            if step == STEPS_PER_EPOCH:
                log.write("epoch", epoch=epoch, train_loss=1.0 / g, val_loss=1.2 / g, train_accuracy=0.5,
                          val_accuracy=0.5, val_sensitivity=0.5, val_specificity=0.5, val_auc=0.5 + 0.01 * epoch,
                          lr=1e-3)
            time.sleep(args.interval)
        log.write("run_finished", reason="completed", best_epoch=epochs)


if __name__ == "__main__":
    main()
