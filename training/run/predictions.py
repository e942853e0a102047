"""``predictions.csv``: one row per val and test image, written once at the end of training.

    id, path, split (val|test), label (0 NORMAL, 1 PNEUMONIA), probability (of PNEUMONIA), subtype, patient
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from training.run.paths import RunPaths

PREDICTION_FIELDS = ("id", "path", "split", "label", "probability", "subtype", "patient")


def predictions_csv(rows: list[dict]) -> str:
    """The text of a predictions file holding ``rows`` (dicts with ``PREDICTION_FIELDS``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PREDICTION_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_predictions(run_dir: Path) -> list[dict]:
    """Rows of predictions.csv with label as int and probability as float."""
    path = RunPaths(Path(run_dir)).predictions
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["label"] = int(row["label"])
        row["probability"] = float(row["probability"])
    return rows
