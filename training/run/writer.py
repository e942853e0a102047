"""What a trainer writes into its run folder: config, events, checkpoints, predictions.

Rank 0 of a run writes through a ``RunLog``; the other ranks of a DDP run get
a ``SilentLog`` with the same methods, so the training loop has no
``if rank == 0`` branches.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable

from training.engine.checkpoint import save_checkpoint
from training.run.events import EventWriter
from training.core.fileio import atomic_write_json, atomic_write_text
from training.run.lock import RunLock
from training.run.store import PREDICTION_FIELDS, RunPaths


class RunLog:
    def __init__(self, run_dir: Path, on_event: Callable[[dict], None] | None = None):
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)
        self.on_event = on_event
        self._lock = RunLock(self.run_dir)
        self._events: EventWriter | None = None

    def __enter__(self):
        self._lock.acquire()  # RunLocked when another live process writes this run
        self._events = EventWriter(self.paths.events)
        return self

    def __exit__(self, *exc):
        if self._events is not None:
            self._events.close()
        self._lock.release()

    def event(self, event: str, /, **fields) -> None:
        record = self._events.write(event, **fields)
        if self.on_event is not None:
            self.on_event(record)

    def sync(self) -> None:
        self._events.sync()

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.paths.config, config)

    def save_checkpoint(self, kind: str, state: dict, epoch: int, metric: str, value) -> None:
        path = self.paths.best_checkpoint if kind == "best" else self.paths.last_checkpoint
        save_checkpoint(path, state)
        self.event("checkpoint", kind=kind, epoch=epoch, path=str(path.relative_to(self.run_dir)),
                   metric=metric, value=value)

    def write_predictions(self, rows: list[dict]) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=PREDICTION_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.paths.predictions, out.getvalue())


class SilentLog(RunLog):
    """A non-writing rank's log: every write is dropped."""

    def __init__(self, run_dir: Path, on_event=None):
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def event(self, event: str, /, **fields) -> None:
        pass

    def sync(self) -> None:
        pass

    def write_config(self, config: dict) -> None:
        pass

    def save_checkpoint(self, *args, **kwargs) -> None:
        pass

    def write_predictions(self, rows: list[dict]) -> None:
        pass
