"""A reviewer's verdict and note per case, kept in ``review.json`` in the run folder.

Every save is an atomic replace, so a crash mid-save leaves the previous file
whole. A file that cannot be parsed is never overwritten: it is moved aside to
``review.json.unreadable-<time>`` on the next save, so no note is lost.
"""

from __future__ import annotations

import csv
import json
import time
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
        self.path = RunPaths(Path(run_dir)).review
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
        """Change the verdict and/or the note of a case and save at once."""
        if verdict is not ... and verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; one of: {', '.join(VERDICTS)}")
        self._merge_from_disk()
        old = self.get(case_id)
        note = Note(
            verdict=old.verdict if verdict is ... else verdict,
            text=old.text if text is None else text,
            updated=time.time(),
        )
        self.notes[case_id] = note
        self.save()
        return note

    def _merge_from_disk(self) -> None:
        """Take in notes another reviewer (another app or process) saved since we loaded."""
        mine = dict(self.notes)
        self.load()
        if self.problem:  # unreadable now: keep what we have; save() moves the bad file aside
            self.notes = mine
            return
        for case_id, note in mine.items():
            theirs = self.notes.get(case_id)
            if theirs is None or (note.updated or 0) > (theirs.updated or 0):
                self.notes[case_id] = note

    def save(self) -> None:
        if self.problem and self.path.exists():
            self.path.rename(self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}"))
        payload = {"version": FORMAT_VERSION, "notes": {k: v.to_json() for k, v in sorted(self.notes.items())}}
        atomic_write_json(self.path, payload)
        self.problem = None

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
                writer.writerow({**row, "verdict": note.verdict or "", "note": note.text})
        return len(rows)


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
