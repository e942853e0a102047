"""A reviewer's verdict and note per case, kept in ``review.json`` in the run folder.

Every save is an atomic replace, so a crash mid-save leaves the previous file
whole. Writers (two app windows, the app and ``pneumo review``) take turns:
each change is made under an exclusive lock (``review.json.lock``) on the
file as it is on disk then, so no writer's note is lost and no writer writes
back a stale copy of notes it did not change. A file that cannot be parsed is
never overwritten: it is moved aside to ``review.json.unreadable-<time>``
(a new name each time) on the next save, so no note is lost.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from training.core.fileio import atomic_write_json
from training.run.paths import RunPaths

VERDICTS = ("model wrong", "label doubtful", "unsure", "agree")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Note:
    verdict: str | None = None
    text: str = ""
    updated: float | None = None

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "note": self.text, "updated": self.updated}


class ReviewNotes:
    """Notes of one run, keyed by the prediction id (as in predictions.csv)."""

    def __init__(self, run_dir: Path):
        paths = RunPaths(Path(run_dir))
        self.path = paths.review
        self.lock_path = paths.review_lock
        self.notes: dict[str, Note] = {}
        self.problem: str | None = None  # why the file on disk could not be read
        self.skipped = 0  # malformed entries ignored while loading
        self.load()

    def load(self) -> None:
        self.notes, self.problem, self.skipped = {}, None, 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.problem = f"{self.path.name} is unreadable ({exc.__class__.__name__}); it will be kept aside on save"
            return
        entries = data.get("notes") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            self.problem = f"{self.path.name} has no 'notes' object; it will be kept aside on save"
            return
        for case_id, entry in entries.items():
            note = _parse_note(entry)
            if note is None:
                self.skipped += 1
            else:
                self.notes[str(case_id)] = note

    def get(self, case_id: str) -> Note:
        return self.notes.get(case_id, Note())

    def set(self, case_id: str, verdict: str | None = ..., text: str | None = None) -> Note:
        """Change the verdict and/or the note of a case and save at once, on top of the notes on disk now."""
        if verdict is not ... and verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; one of: {', '.join(VERDICTS)}")
        with self._writing():
            mine = self.notes
            self.load()  # under the lock: the file as every other writer left it
            if self.problem:
                self.notes = mine  # unreadable now: keep what we have; the save moves the bad file aside
            old = self.get(case_id)
            note = Note(
                verdict=old.verdict if verdict is ... else verdict,
                text=old.text if text is None else text,
                updated=time.time(),
            )
            self.notes[case_id] = note
            self._save_locked()
        return note

    def save(self) -> None:
        """Write the notes held here (all of them) under the writers' lock."""
        with self._writing():
            self._save_locked()

    def _save_locked(self) -> None:
        if self.problem and self.path.exists():
            self.path.rename(self._quarantine_name())
        payload = {"version": FORMAT_VERSION, "notes": {k: v.to_json() for k, v in sorted(self.notes.items())}}
        atomic_write_json(self.path, payload)
        self.problem = None

    def _quarantine_name(self) -> Path:
        """``review.json.unreadable-<time>``, never an existing one (two in one second keep both)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(10_000):
            candidate = self.path.with_name(f"{self.path.name}.unreadable-{stamp}" + (f"-{n}" if n else ""))
            if not candidate.exists():
                return candidate
        raise OSError(f"too many unreadable copies of {self.path.name} kept aside")

    @contextmanager
    def _writing(self):
        """The writers' exclusive lock: one read-change-write at a time, across processes."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def export_csv(self, out: Path, cases: list[dict] | None = None) -> int:
        """Write notes to CSV; with ``cases`` (prediction rows) one line per case, else one per note."""
        fields = ["id", "path", "label", "probability", "kind", "verdict", "note"]
        rows = cases if cases is not None else [{"id": k} for k in sorted(self.notes)]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                note = self.get(row["id"])
                cells = {**{k: row.get(k) for k in fields}, "verdict": note.verdict or "", "note": note.text}
                writer.writerow({k: spreadsheet_safe(v) for k, v in cells.items()})
        return len(rows)


def spreadsheet_safe(value):
    """A cell a spreadsheet shows as text, never runs: text starting with = + - @ (or a tab or carriage return,
    which some spreadsheets skip first) gets a leading ' (OWASP's advice against CSV injection); numbers pass."""
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        return "'" + value
    return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _parse_note(entry) -> Note | None:
    if not isinstance(entry, dict):
        return None
    verdict = entry.get("verdict")
    text = entry.get("note", "")
    if verdict is not None and verdict not in VERDICTS:
        return None
    if not isinstance(text, str):
        return None
    updated = entry.get("updated")
    return Note(verdict, text, updated if isinstance(updated, (int, float)) else None)
