"""The decision threshold saved with a run (``threshold.json``), used by eval, predict, review and the app.

How a threshold is chosen (the rules) is ``training.metrics.thresholds``; this is the file. A threshold is a
probability: a number in [0, 1]. One that is not (5, NaN, a string), wherever it comes from (the file, a
command line, the app), is refused with a one-line ``OperatingPointError`` naming where it came from, never
used and never replaced by 0.5 without a word.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from training.core.errors import PneumoError
from training.core.fileio import atomic_write_json
from training.metrics.thresholds import DEFAULT_THRESHOLD, parse_threshold_rule
from training.run.paths import RunPaths

DEFAULT_HOW = "the default: no operating point chosen yet"


class OperatingPointError(PneumoError, ValueError):
    """A threshold that is not a probability, or a threshold file that cannot be read."""


def check_threshold(value, where: str) -> float:
    """``value`` as a threshold in [0, 1], or ``OperatingPointError`` saying what ``where`` holds instead."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise OperatingPointError(f"{where}: the threshold must be a number in [0, 1], not {_show(value)}")
    return float(value)


def load_threshold(run_dir: Path) -> float:
    return load_operating_point(run_dir)["threshold"]


def load_operating_point(run_dir: Path) -> dict:
    """``{"threshold": t, "how": where it came from}``; the default 0.5 when none was saved.

    ``OperatingPointError`` when threshold.json is there but unreadable or holds no valid threshold.
    """
    path = RunPaths(Path(run_dir)).threshold
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"threshold": DEFAULT_THRESHOLD, "how": DEFAULT_HOW}
    except (OSError, UnicodeDecodeError) as exc:
        raise OperatingPointError(f"{path}: cannot be read ({type(exc).__name__}); fix or delete it") from None
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):
        raise OperatingPointError(f"{path}: not valid JSON; fix or delete it (pneumo threshold RUN saves a new "
                                  "one)") from None
    if not isinstance(info, dict) or "threshold" not in info:
        raise OperatingPointError(f"{path}: holds no threshold; fix or delete it")
    how = info.get("how")
    return {"threshold": check_threshold(info["threshold"], str(path)),
            "how": how if isinstance(how, str) and how else "saved"}


def load_operating_point_details(run_dir: Path) -> dict:
    """Everything threshold.json records beside the threshold (rule, support, flat optimum...); {} when none."""
    try:
        info = json.loads(RunPaths(Path(run_dir)).threshold.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


STABILITY_FIELDS = {"flat_rule": str, "flat_low": float, "flat_high": float, "flat_centre": float,
                    "flat_width_logits": float, "flat_tolerance": float, "spread_logits": float}


def saved_stability(run_dir: Path) -> dict:
    """The flat optimum and bootstrap spread threshold.json records for its rule (``rule_stability``'s fields);
    {} when it records none, or any field is missing or not what it should be (a hostile file is not shown)."""
    info = load_operating_point_details(run_dir)
    stability = {name: info.get(name) for name in STABILITY_FIELDS}
    for name, kind in STABILITY_FIELDS.items():
        value = stability[name]
        ok = isinstance(value, str) if kind is str else (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))
        if not ok:
            return {}
    try:
        parse_threshold_rule(stability["flat_rule"])  # a rule's name, so safe to show as it is
    except ValueError:
        return {}
    return stability


def stability_words(stability: dict, rule: str | None) -> list[str]:
    """Where the rule's optimum is flat and how far its choice moves over bootstrap resamples, in two lines
    (none for a fixed threshold). ``pneumo threshold``, the Evaluation screen and the report say the same."""
    if not stability:
        return []
    what = rule or f"{stability['flat_rule']} (plain)"
    return [f"flat optimum of {stability['flat_rule']}: within {stability['flat_tolerance']:g} of its best from "
            f"{stability['flat_low']:.4f} to {stability['flat_high']:.4f} ({stability['flat_width_logits']:.2f} "
            f"logits wide); its centre in logits {stability['flat_centre']:.4f}",
            f"the threshold {what} chooses moves by {stability['spread_logits']:.2f} logits (sd) over 1,000 "
            "bootstrap resamples of these images"]


def saved_rule(run_dir: Path) -> str | None:
    """The rule the saved operating point was chosen by (threshold.json's ``rule``), or None when it names
    none (a threshold set by hand, the default)."""
    rule = load_operating_point_details(run_dir).get("rule")
    try:
        return rule if isinstance(rule, str) and parse_threshold_rule(rule)[0] != "fixed" else None
    except ValueError:
        return None


def save_threshold(run_dir: Path, threshold: float, how: str, **details) -> None:
    """``how`` says where it came from, e.g. "youden on val" or "sensitivity>=0.95 on val"."""
    value = check_threshold(threshold, "the threshold to save")
    atomic_write_json(RunPaths(Path(run_dir)).threshold, {"threshold": value, "how": how, **details})


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
