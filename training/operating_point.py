"""The decision threshold saved with a run (``threshold.json``), used by eval and predict."""

from __future__ import annotations

import json
from pathlib import Path

from .fileio import atomic_write_json
from .runstore import RunPaths

DEFAULT_THRESHOLD = 0.5


def load_threshold(run_dir: Path) -> float:
    try:
        return float(json.loads(RunPaths(Path(run_dir)).threshold.read_text())["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_THRESHOLD


def save_threshold(run_dir: Path, threshold: float, how: str, **details) -> None:
    """``how`` says where it came from, e.g. "youden on val" or "sensitivity>=0.95 on val"."""
    atomic_write_json(RunPaths(Path(run_dir)).threshold, {"threshold": float(threshold), "how": how, **details})
