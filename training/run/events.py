"""The append-only event log of a run (``events.jsonl``): one writer, many followers.

Every line is one JSON object with at least ``event`` (its kind) and ``time``
(Unix seconds). The kinds and their fields are documented in the README.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

EVENT_KINDS = (
    "run_started",
    "run_resumed",
    "step",
    "epoch",
    "checkpoint",
    "eval",
    "run_finished",
    "run_failed",
)


class EventWriter:
    """Appends events, flushing each one so that followers see it at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, event: str, **fields) -> dict:
        record = {"event": event, "time": time.time(), **fields}
        self._file.write(json.dumps(record, default=_jsonable) + "\n")
        self._file.flush()
        return record

    def sync(self) -> None:
        """Force the log to disk (at epoch ends, not per step: fsync is slow)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EventFollower:
    """Reads only what was appended since the last call.

    A last line without its newline is a write in progress: it is kept back
    until it is complete. A line that is not valid JSON (a writer killed
    mid-line, then resumed) is skipped.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self._pending = b""

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()  # b"" when data ended with a newline
        return [e for e in map(_parse, lines) if e is not None]


def read_events(path: Path) -> list[dict]:
    """Every complete event of a log, for one-shot readers (CLI, tests)."""
    return EventFollower(path).poll()


def _parse(line: bytes) -> dict | None:
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and "event" in obj else None


def _jsonable(value):
    # numpy / torch scalars and paths end up in events; store them plainly.
    if hasattr(value, "item"):
        return value.item()
    return str(value)
