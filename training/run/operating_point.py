"""The decision threshold saved with a run (``threshold.json``), used by eval and predict.

How a threshold is chosen (the rules) is ``training.metrics.thresholds``; this is the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from training.core.fileio import atomic_write_json
from training.metrics.thresholds import DEFAULT_THRESHOLD
from training.run.paths import RunPaths


def load_threshold(run_dir: Path) -> float:
    return load_operating_point(run_dir)["threshold"]


def load_operating_point(run_dir: Path) -> dict:
    """``{"threshold": t, "how": where it came from}``; the default 0.5 when none was saved
    or the file is unreadable."""
    try:
        info = json.loads(RunPaths(Path(run_dir)).threshold.read_text())
        return {"threshold": float(info["threshold"]), "how": info.get("how", "saved")}
    except (OSError, ValueError, KeyError, TypeError):
        return {"threshold": DEFAULT_THRESHOLD, "how": "the default: no operating point chosen yet"}


def save_threshold(run_dir: Path, threshold: float, how: str, **details) -> None:
    """``how`` says where it came from, e.g. "youden on val" or "sensitivity>=0.95 on val"."""
    atomic_write_json(RunPaths(Path(run_dir)).threshold, {"threshold": float(threshold), "how": how, **details})
