"""The append-only event log of a run (``events.jsonl``): one writer, many followers.

Every line is one JSON object with at least ``event`` (its kind) and ``time``
(Unix seconds); ``training.run.schema`` says which kinds exist and what their
fields hold. Readers keep back a last line without its newline (a write in
progress) and skip, and count, any line that is not a valid event.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from training.core.jsontext import finite
from training.run.schema import parse_event_line


class EventWriter:
    """Appends events, flushing each one so that followers see it at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, event: str, **fields) -> dict:
        record = {"event": event, "time": time.time(), **{k: finite(v) for k, v in fields.items()}}
        self._file.write(json.dumps(record, default=_jsonable, allow_nan=False) + "\n")
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
    until it is complete. A line that is not a valid event (a writer killed
    mid-line then resumed, or a file edited by hand) is skipped and counted in
    ``invalid``, with the reason for the last one in ``last_invalid``.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self.invalid = 0
        self.last_invalid: str | None = None
        self._pending = b""

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return []
        self.offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()  # b"" when data ended with a newline
        events = []
        for line in lines:
            event, why = parse_event_line(line)
            if event is not None:
                events.append(event)
            elif why is not None:
                self.invalid += 1
                self.last_invalid = why
        return events


def read_events(path: Path) -> list[dict]:
    """Every complete, valid event of a log, for one-shot readers (CLI, tests)."""
    return EventFollower(path).poll()


def _jsonable(value):
    # numpy / torch scalars and paths end up in events; store them plainly. A value that is not a
    # finite number is written as null (undefined), never as NaN, which is not JSON.
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return str(value)
