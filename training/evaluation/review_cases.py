"""The cases a reviewer looks at: predictions.csv rows judged at the run's threshold.

FN: PNEUMONIA called NORMAL (a missed case, the costly error in screening).
FP: NORMAL called PNEUMONIA. TP/TN: correct calls, shown on request.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.run.operating_point import load_threshold
from training.run.paths import RunPaths
from training.run.predictions import read_predictions
from training.run.review_notes import ReviewNotes
from training.run.store import load_config

ERROR_KINDS = ("FN", "FP")


def kind_of(label: int, probability: float, threshold: float) -> str:
    called = probability >= threshold
    if label == 1:
        return "TP" if called else "FN"
    return "FP" if called else "TN"


def confidence(case: dict, threshold: float = 0.5) -> float:
    """How sure the call was at this operating point, in [0, 1]: 0 on the threshold,
    1 at probability 1 (called PNEUMONIA) or 0 (called NORMAL).

    Measured from the threshold, not from 0.5: at a screening threshold of 0.2
    a case at 0.25 is called PNEUMONIA, but only just.
    """
    p = case["probability"]
    if p >= threshold:
        return (p - threshold) / (1.0 - threshold) if threshold < 1 else 0.0
    return (threshold - p) / threshold


def load_rows(run_dir: Path) -> list[dict]:
    """predictions.csv rows; a one-line FileNotFoundError/ValueError when missing or malformed."""
    path = RunPaths(Path(run_dir)).predictions
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {path.name} yet (the run writes it when it evaluates)")
    try:
        return read_predictions(run_dir)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: malformed {path.name} ({exc.__class__.__name__}: {exc})") from None


def split_rows(rows: list[dict], split: str) -> list[dict]:
    chosen = [r for r in rows if r.get("split") == split]
    if not chosen:
        present = sorted({r.get("split") or "?" for r in rows})
        raise ValueError(f"no {split} rows in predictions.csv (splits present: {', '.join(present) or 'none'})")
    return chosen


def review_cases(run_dir: Path, split: str = "test", include_correct: bool = False,
                 threshold: float | None = None, notes: ReviewNotes | None = None) -> list[dict]:
    """Cases of ``split`` with kind, verdict and note; the errors only unless ``include_correct``.

    Sorted by confidence, most confident first: a confident error is the most
    worrying one (or a label to doubt).
    """
    threshold = load_threshold(run_dir) if threshold is None else threshold
    notes = notes if notes is not None else ReviewNotes(run_dir)
    cases = []
    for row in split_rows(load_rows(run_dir), split):
        kind = kind_of(row["label"], row["probability"], threshold)
        if kind in ERROR_KINDS or include_correct:
            note = notes.get(row["id"])
            cases.append({**row, "kind": kind, "verdict": note.verdict, "note": note.text})
    cases.sort(key=lambda c: (-confidence(c, threshold), c["id"]))
    return cases


def labels_and_probabilities(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([r["label"] for r in rows], dtype=int), np.array([r["probability"] for r in rows], dtype=float))


class CaseImages:
    """Loads a case's X-ray (uint8, 2-D, native size) for display, thumbnails and Grad-CAM.

    Plain image files are read directly; anything else (an .npz row, DICOM)
    goes through the run's data source, matched by id.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.config = load_config(self.run_dir)
        self._sources: dict[str, tuple] = {}

    def _locate(self, path: str) -> Path:
        """Relative paths are relative to where training ran: usually the folder above ``runs/``."""
        p = Path(path)
        if p.is_absolute() or p.exists():
            return p
        guess = self.run_dir.resolve().parent.parent / p
        return guess if guess.exists() else p

    def load(self, case: dict) -> np.ndarray:
        path = self._locate(case.get("path") or "")
        if path.suffix.lower() in (".jpeg", ".jpg", ".png", ".bmp", ".tif", ".tiff") and path.is_file():
            from PIL import Image, ImageOps

            try:
                with Image.open(path) as im:
                    return np.asarray(ImageOps.exif_transpose(im).convert("L"))
            except OSError as exc:
                raise OSError(f"{path}: unreadable image ({exc})") from None
        return self._load_from_source(case)

    def _load_from_source(self, case: dict) -> np.ndarray:
        data = self.config.get("data") or {}
        where = data.get("test_path") if case.get("split") == "test" and data.get("test_path") else data.get("path")
        if not where:
            raise FileNotFoundError(f"{case['id']}: image not found ({case.get('path') or 'no path'}) "
                                    f"and no data path in config.json")
        if where not in self._sources:
            from training.data.sources import open_source

            source = open_source(self._locate(where))
            self._sources[where] = (source, {r.id: r for r in source.records()})
        source, by_id = self._sources[where]
        record = by_id.get(case["id"])
        if record is None:
            raise FileNotFoundError(f"{case['id']}: not in {where}")
        return source.load(record)
