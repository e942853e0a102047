"""Run folders: what the trainer writes and anyone may read while it grows.

    runs/<run-id>/
        config.json        recipe, data, split, versions, git commit
        events.jsonl       append-only event log (see training.run.events)
        checkpoints/       last.pt, best.pt (atomic writes)
        predictions.csv    id, path, split, label, probability
        lock               present while a trainer writes the run
        threshold.json     the operating point chosen for the run (optional)
        review.json        review notes (optional)
"""

from __future__ import annotations

import csv
import glob
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.run.events import read_events
from training.run.lock import holder_alive, read_holder

DEFAULT_RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def threshold(self) -> Path:
        return self.root / "threshold.json"

    @property
    def review(self) -> Path:
        return self.root / "review.json"

    @property
    def log(self) -> Path:
        """stdout/stderr of a detached trainer started by the app."""
        return self.root / "train.log"


def new_run_dir(runs_dir: Path, model: str) -> Path:
    """A fresh, unique run folder named ``<date>-<time>-<model>``."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]', '_', model)}"
    for n in range(1000):
        path = runs_dir / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"cannot create a run folder in {runs_dir}")


def is_run_dir(path: Path) -> bool:
    return (Path(path) / "config.json").is_file() or (Path(path) / "events.jsonl").is_file()


def resolve_run(ref: str | Path, runs_dir: Path = DEFAULT_RUNS_DIR) -> Path:
    """A run given as a path, or as a run id (or unique prefix) inside ``runs_dir``."""
    path = Path(ref)
    if is_run_dir(path):
        return path
    if path.is_absolute() or len(path.parts) > 1:
        raise FileNotFoundError(f"{ref} is not a run folder (no config.json or events.jsonl)")
    candidates = sorted(p for p in Path(runs_dir).glob(f"{glob.escape(str(ref))}*") if is_run_dir(p))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise FileNotFoundError(f"no run named {ref!r} (looked at {path} and in {runs_dir}/)")
    raise FileNotFoundError(f"{ref!r} matches several runs: {', '.join(p.name for p in candidates)}")


def load_config(run_dir: Path) -> dict:
    try:
        return json.loads(RunPaths(Path(run_dir)).config.read_text())
    except (OSError, ValueError):
        return {}


def run_status(run_dir: Path, events: list[dict] | None = None) -> str:
    """running, finished, failed or stale (the writer died without saying so)."""
    paths = RunPaths(Path(run_dir))
    events = read_events(paths.events) if events is None else events
    last = next((e["event"] for e in reversed(events) if e["event"] in _TERMINAL + ("run_started", "run_resumed")),
                None)
    if last == "run_finished":
        return "finished"
    if last == "run_failed":
        return "failed"
    holder = read_holder(paths.lock)
    if holder is not None and holder_alive(holder):
        return "running"
    if holder is None and paths.lock.exists():
        return "running"  # lock being created this instant
    return "stale"


_TERMINAL = ("run_finished", "run_failed")


@dataclass
class RunSummary:
    """One line of ``pneumo runs``: enough to pick a run, without loading it."""

    path: Path
    run_id: str
    status: str
    model: str
    epochs_done: int
    epochs_planned: int | None
    best_metric: str | None = None
    best_value: float | None = None
    best_epoch: int | None = None
    val_auc: float | None = None
    test: dict = field(default_factory=dict)
    started: float | None = None
    synthetic: bool = False

    def to_json(self) -> dict:
        d = self.__dict__.copy()
        d["path"] = str(self.path)
        return d


def summarize_run(run_dir: Path) -> RunSummary:
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    events = read_events(RunPaths(run_dir).events)
    epochs = [e for e in events if e["event"] == "epoch"]
    best = [e for e in events if e["event"] == "checkpoint" and e.get("kind") == "best"]
    evals = [e for e in events if e["event"] == "eval" and e.get("split") == "test"]
    started = next((e for e in events if e["event"] == "run_started"), {})
    best_epoch = best[-1].get("epoch") if best else None
    best_row = next((e for e in epochs if e.get("epoch") == best_epoch), None)
    recipe = config.get("recipe", {})
    return RunSummary(
        path=run_dir,
        run_id=run_dir.name,
        status=run_status(run_dir, events),
        model=config.get("model") or started.get("model", "?"),
        epochs_done=len({e.get("epoch") for e in epochs}),
        epochs_planned=recipe.get("epochs") or started.get("epochs"),
        best_metric=best[-1].get("metric") if best else None,
        best_value=best[-1].get("value") if best else None,
        best_epoch=best_epoch,
        val_auc=(best_row or {}).get("val_auc"),
        test=({k: evals[-1][k] for k in ("accuracy", "sensitivity", "specificity", "auc") if k in evals[-1]}
              if evals else {}),
        started=started.get("time"),
        synthetic=bool(config.get("data", {}).get("synthetic", False)),
    )


def list_runs(runs_dir: Path = DEFAULT_RUNS_DIR) -> list[RunSummary]:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    dirs = sorted((p for p in runs_dir.iterdir() if p.is_dir() and is_run_dir(p)), key=lambda p: p.name)
    return [summarize_run(p) for p in dirs]


def read_predictions(run_dir: Path) -> list[dict]:
    """Rows of predictions.csv with label as int and probability as float."""
    path = RunPaths(Path(run_dir)).predictions
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["label"] = int(row["label"])
        row["probability"] = float(row["probability"])
    return rows


PREDICTION_FIELDS = ("id", "path", "split", "label", "probability", "subtype", "patient")
