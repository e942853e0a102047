"""What a trainer writes into its run folder: config, events, checkpoints, predictions.

Rank 0 of a run writes through a ``RunLog``; the other ranks of a DDP run get
a ``SilentLog`` with the same methods, so the training loop has no
``if rank == 0`` branches. Checkpoints arrive as a state dict and are turned
into bytes by the ``encode`` function the engine passes (``torch.save``), so
this package never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training.core.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, temporaries_of
from training.run.checkpoints import digest
from training.run.events import EventWriter
from training.run.lock import RunLock
from training.run.paths import RunPaths
from training.run.predictions import predictions_csv


class RunLog:
    def __init__(self, run_dir: Path, on_event: Callable[[dict], None] | None = None,
                 encode: Callable[[dict], bytes] | None = None):
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)
        self.on_event = on_event
        self.encode = encode
        self._lock = RunLock(self.run_dir)
        self._events: EventWriter | None = None

    def __enter__(self):
        self._lock.acquire()  # RunLocked when another live process writes this run
        try:
            self._remove_stale_temporaries()
            self._events = EventWriter(self.paths.events)
        except BaseException:
            self._lock.release()
            raise
        return self

    def _remove_stale_temporaries(self) -> None:
        """Temp files of writes that a kill cut short (a checkpoint's can be tens of MB). Only the lock holder
        writes these files, and we hold the lock: whatever temporaries they have are dead."""
        for path in self.paths.written_by_the_trainer():
            for stale in temporaries_of(path):
                stale.unlink(missing_ok=True)

    def __exit__(self, *exc):
        try:
            if self._events is not None:
                self._events.close()
        finally:
            self._lock.release()  # on every way out: a run never keeps a lock nobody holds

    def event(self, event: str, /, **fields) -> None:
        record = self._events.write(event, **fields)
        if self.on_event is not None:
            self.on_event(record)

    def sync(self) -> None:
        self._events.sync()

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.paths.config, config)

    def save_checkpoint(self, kind: str, state: dict, epoch: int, metric: str, value) -> None:
        """Write ``checkpoints/<kind>.pt`` atomically, then log its ``checkpoint`` event."""
        if self.encode is None:
            raise TypeError("this RunLog was made without an encode function for checkpoints")
        path = self.paths.checkpoint(kind)
        data = self.encode(state)
        atomic_write_bytes(path, data)
        self.event("checkpoint", kind=kind, epoch=epoch, path=self.paths.relative(path), metric=metric, value=value,
                   sha256=digest(data))

    def write_predictions(self, rows: list[dict]) -> None:
        atomic_write_text(self.paths.predictions, predictions_csv(rows))


class SilentLog(RunLog):
    """A non-writing rank's log: every write is dropped."""

    def __init__(self, run_dir: Path, on_event=None, encode=None):
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
