"""The decision threshold saved with a run (``threshold.json``), used by eval and predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.core.fileio import atomic_write_json
from training.run.store import RunPaths

DEFAULT_THRESHOLD = 0.5


def load_threshold(run_dir: Path) -> float:
    return load_operating_point(run_dir)["threshold"]


def load_operating_point(run_dir: Path) -> dict:
    """``{"threshold": t, "how": where it came from}``; the default 0.5 when none was saved
    or the file is unreadable."""
    try:
        info = json.loads(RunPaths(Path(run_dir)).threshold.read_text())
        return {"threshold": float(info["threshold"]), "how": info.get("how", "saved")}
    except (OSError, ValueError, KeyError, TypeError):
        return {"threshold": DEFAULT_THRESHOLD, "how": "default 0.5 (no operating point chosen yet)"}


def save_threshold(run_dir: Path, threshold: float, how: str, **details) -> None:
    """``how`` says where it came from, e.g. "youden on val" or "sensitivity>=0.95 on val"."""
    atomic_write_json(RunPaths(Path(run_dir)).threshold, {"threshold": float(threshold), "how": how, **details})


def parse_threshold_rule(rule: str) -> tuple[str, float | None]:
    """A recipe's ``threshold`` key: ("fixed", t) for a number in [0, 1], ("youden", None),
    or ("sensitivity", s) for "sensitivity>=s". ValueError says what is accepted."""
    text = str(rule).strip().lower().replace(" ", "")
    if text == "youden":
        return "youden", None
    if text.startswith("sensitivity>="):
        value = _fraction(text.removeprefix("sensitivity>="))
        if value is not None and value > 0:
            return "sensitivity", value
    else:
        value = _fraction(text)
        if value is not None:
            return "fixed", value
    raise ValueError(f'{rule!r} is not a threshold rule: give a number in [0, 1], "youden" or "sensitivity>=0.95"')


def _fraction(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def choose_threshold(rule: str, labels, probabilities, where: str = "val") -> tuple[float, str]:
    """``(threshold, how)`` for ``rule`` on the labels and probabilities of ``where`` (validation, or a site's sample).

    A rule that needs both classes falls back to 0.5 (and says so) when they lack one.
    """
    from training.metrics.thresholds import threshold_for_sensitivity, youden

    kind, value = parse_threshold_rule(rule)
    if kind == "fixed":
        return value, "fixed by the recipe"
    labels = np.asarray(labels).astype(int)
    if labels.min(initial=1) == labels.max(initial=0):
        return DEFAULT_THRESHOLD, f"{rule} impossible ({where} has one class): 0.5"
    if kind == "youden":
        return youden(labels, probabilities), f"youden on {where}"
    return threshold_for_sensitivity(labels, probabilities, value), f"sensitivity>={value:g} on {where}"
