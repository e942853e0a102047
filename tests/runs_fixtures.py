"""Small recorded runs for the Runs screen's tests: the files ``pneumo train`` leaves, written in milliseconds.

``recorded_run`` writes config.json, events.jsonl and (optionally) threshold.json of a run, with everything the
Runs table shows: recipe and model, the data's name and size, epochs, the best val AUC, the test figures at the
saved operating point. No lock is left: a run without run_finished reads as stale.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from rich.console import Console


def recorded_run(
    runs: Path,
    run_id: str,
    *,
    model: str = "resnet_small",
    recipe: str | None = "best",
    settings: dict | None = None,
    data: str = "data/chest_xray_224/train",
    n_train: int = 4708,
    n_val: int = 508,
    n_test: int = 624,
    synthetic: bool = False,
    epochs: int = 3,
    planned: int | None = None,
    steps_per_epoch: int = 10,
    val_auc: tuple[float, ...] | None = None,
    test: dict | None = None,
    threshold: float | None = None,
    how: str = "youden on val",
    finished: bool = True,
    loss_scale: float = 1.0,
) -> Path:
    """A run folder ``runs/run_id`` of ``epochs`` epochs (``planned`` of them planned), finished or not.

    ``test``: its test eval (accuracy, sensitivity, specificity, auc) at ``threshold`` (saved in
    threshold.json with ``how``), or none.
    """
    run = Path(runs) / run_id
    run.mkdir(parents=True)
    planned = planned or epochs
    recipe_json = {"name": recipe, "epochs": planned, "batch_size": 32, "image_size": 224, "lr": 0.001,
                   **(settings or {})}
    config = {"run_id": run_id, "model": model, "recipe": recipe_json,
              "data": {"path": data, "source": "folder", "synthetic": synthetic, "n_train": n_train,
                       "n_val": n_val, "n_test": n_test}}
    (run / "config.json").write_text(json.dumps(config))
    aucs = val_auc or tuple(round(0.80 + 0.05 * e / epochs, 3) for e in range(1, epochs + 1))
    t = 1767225600.0
    events = [{"event": "run_started", "time": t, "run_id": run_id, "model": model, "device": "cpu",
               "epochs": planned, "steps_per_epoch": steps_per_epoch, "n_train": n_train, "n_val": n_val,
               "n_test": n_test, "synthetic": synthetic}]
    best = max(range(epochs), key=lambda i: aucs[i]) + 1
    for epoch in range(1, epochs + 1):
        for step in range(1, steps_per_epoch + 1):
            g = (epoch - 1) * steps_per_epoch + step
            t += 1.0
            loss = loss_scale * (0.3 + 0.6 * math.exp(-g / 12) + 0.03 * math.sin(g))
            events.append({"event": "step", "time": t, "epoch": epoch, "step": step, "global_step": g,
                           "loss": round(loss, 4), "lr": 0.001, "images_per_s": 64.0})
        auc = aucs[epoch - 1]
        events.append({"event": "epoch", "time": t, "epoch": epoch, "train_loss": round(0.7 - 0.1 * epoch, 3),
                       "val_loss": round(0.75 - 0.08 * epoch, 3), "val_accuracy": round(auc - 0.05, 3),
                       "val_sensitivity": round(auc, 3), "val_specificity": round(auc - 0.1, 3), "val_auc": auc,
                       "lr": 0.001, "seconds": 10.0, "images_per_s": 64.0})
        if epoch == best:
            events.append({"event": "checkpoint", "time": t, "kind": "best", "epoch": epoch,
                           "path": "checkpoints/best.pt", "metric": "val_auc", "value": auc})
    if test is not None:
        point = {"threshold": threshold, "threshold_how": how} if threshold is not None else {}
        events.append({"event": "eval", "time": t, "split": "test", "n": n_test, **point, **test})
    if finished:
        events.append({"event": "run_finished", "time": t, "reason": "completed", "best_epoch": best})
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    if threshold is not None:
        (run / "threshold.json").write_text(json.dumps({"threshold": threshold, "how": how}))
    return run


def two_runs_of_one_model(runs: Path) -> list[Path]:
    """Two finished runs of the `best` recipe on the real data that differ only in time and learning rate."""
    return [
        recorded_run(runs, "20260315-142233-best", settings={"lr": 0.001}, val_auc=(0.91, 0.95, 0.962),
                     test={"accuracy": 0.894, "sensitivity": 0.979, "specificity": 0.752, "auc": 0.957},
                     threshold=0.213),
        recorded_run(runs, "20260315-160512-best", settings={"lr": 0.0003}, val_auc=(0.88, 0.93, 0.947),
                     test={"accuracy": 0.873, "sensitivity": 0.962, "specificity": 0.726, "auc": 0.944},
                     threshold=0.38, how="sensitivity>=0.95 on val", loss_scale=1.15),
    ]


def a_busy_runs_folder(runs: Path) -> list[Path]:
    """Nine runs a team would have after a week: several recipes and models, real and synthetic data."""
    made = two_runs_of_one_model(runs)
    made.append(recorded_run(runs, "20260316-091500-resnet_small", recipe="resnet_small", epochs=2, planned=30,
                             finished=False))
    made.append(recorded_run(runs, "20260316-101010-cnn3", model="cnn3", recipe="cnn3", data="pneumo-demo-data",
                             n_train=800, n_val=96, synthetic=True, epochs=1,
                             test={"accuracy": 0.6, "sensitivity": 0.7, "specificity": 0.5, "auc": 0.65},
                             threshold=0.5, how="fixed by the recipe"))
    for i in range(5):
        made.append(recorded_run(runs, f"20260317-0{i}0000-densenet_tiny-{i + 1}", model="densenet_tiny",
                                 recipe="densenet_tiny", settings={"seed": i}, epochs=2,
                                 test={"accuracy": 0.85 + i / 100, "sensitivity": 0.95, "specificity": 0.7,
                                       "auc": 0.93},
                                 threshold=0.3 + i / 100, how="manual"))
    return made


def screen_text(app) -> str:
    """The screen as plain text, one line per row (what ``export_screenshot`` draws, without the SVG)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
