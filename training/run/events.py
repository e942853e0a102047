"""The append-only event log of a run (``events.jsonl``): one writer, many followers.

Every line is one JSON object with at least ``event`` (its kind) and ``time``
(Unix seconds); ``training.run.schema`` says which kinds exist and what their
fields hold. Readers keep back a last line without its newline (a write in
progress) and skip, and count, any line that is not a valid event.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from pathlib import Path

from training.core.errors import PneumoError
from training.core.jsontext import finite
from training.run.schema import parse_event_line


class EventLogError(PneumoError):
    """The event log cannot be written (disk full, file size limit, a failing disk)."""


class EventWriter:
    """Appends events, one ``write`` of a whole line each, so that followers see it at once.

    The log stays line-atomic: a write that fails part-way (disk full) is taken
    back, and a log that ends in a torn line (a writer killed mid-line) is ended
    with a newline before anything is appended, so a reader loses no event.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        self._end_torn_line()

    def write(self, event: str, **fields) -> dict:
        record = {"event": event, "time": time.time(), **{k: finite(v) for k, v in fields.items()}}
        self._append((json.dumps(record, default=_jsonable, allow_nan=False) + "\n").encode("utf-8"))
        return record

    def _append(self, data: bytes) -> None:
        start = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, data)  # O_APPEND: at the end, in one piece or not at all (below)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"only {written} of {len(data)} bytes written")
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)  # take back the part of the line that made it
            except OSError:
                pass
            raise EventLogError(f"cannot write the event log {self.path}: {exc.strerror or exc}") from None

    def _end_torn_line(self) -> None:
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            self._append(b"\n")  # the torn line stands alone, and readers skip it as invalid

    def sync(self) -> None:
        """Force the log to disk (at epoch ends, not per step: fsync is slow)."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise EventLogError(f"cannot write the event log {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        except OSError:
            pass  # nothing more can be saved; a torn end is repaired by the next writer
        finally:
            os.close(fd)

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
        self.problem: str | None = None  # why the log cannot be read at all
        self._pending = b""

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:  # a folder in its place, no permission, a failing disk
            self.problem = f"{self.path.name} cannot be read ({type(exc).__name__})"
            return []
        self.problem = None
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
