"""What a run's files may hold: the per-epoch metrics, the event kinds with their fields, and their checks.

The per-epoch metric names are written out here and nowhere else: the trainer
builds its ``epoch`` events from ``EPOCH_METRICS``, recipes accept
``VAL_METRICS`` as ``best_metric``, and the CLI and the app label and chart them
from these tuples.

Every line of ``events.jsonl`` is checked against ``EVENTS`` as it is read
(``check_event``): a line of the wrong shape (a field of the wrong type, a number
that is not finite or too large to be a count, nesting deeper than any event
has) is skipped and counted, never passed on, so one bad line cannot take a
reader down.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class EpochMetric:
    """One per-epoch figure of an ``epoch`` event."""

    name: str  # the event field
    label: str  # short label for charts and legends
    higher_is_better: bool
    source: str | None = None  # the ``training.metrics.binary`` figure it is (validation at 0.5)

    @property
    def is_loss(self) -> bool:
        return not self.higher_is_better

    @property
    def abbreviation(self) -> str:
        """The name as a one-line log prints it (``val_sens``)."""
        for word, short in (("accuracy", "acc"), ("sensitivity", "sens"), ("specificity", "spec")):
            if self.name.endswith(word):
                return self.name[: -len(word)] + short
        return self.name


EPOCH_METRICS: tuple[EpochMetric, ...] = (
    EpochMetric("train_loss", "train", higher_is_better=False),
    EpochMetric("train_accuracy", "train acc", higher_is_better=True),
    EpochMetric("val_loss", "val", higher_is_better=False),
    EpochMetric("val_accuracy", "acc", higher_is_better=True, source="accuracy"),
    EpochMetric("val_precision", "prec", higher_is_better=True, source="precision"),
    EpochMetric("val_sensitivity", "sens", higher_is_better=True, source="sensitivity"),
    EpochMetric("val_specificity", "spec", higher_is_better=True, source="specificity"),
    EpochMetric("val_f1", "F1", higher_is_better=True, source="f1"),
    EpochMetric("val_auc", "AUC", higher_is_better=True, source="auc"),
)
METRICS: dict[str, EpochMetric] = {m.name: m for m in EPOCH_METRICS}
VAL_METRICS: tuple[str, ...] = tuple(m.name for m in EPOCH_METRICS if m.name.startswith("val_"))
VAL_LOSS = METRICS["val_loss"].name  # what a plateau schedule watches
TRAIN_LOSS = METRICS["train_loss"].name
TRAIN_ACCURACY = METRICS["train_accuracy"].name
BEST_VAL_SCORE = METRICS["val_auc"].name  # the validation figure a run's summary shows

# What the screens and the log line show, in their order.
LOSS_CHART: tuple[str, ...] = ("train_loss", "val_loss")
SCORE_CHART: tuple[str, ...] = ("val_accuracy", "val_sensitivity", "val_specificity", "val_auc")
OVERLAY: tuple[str, ...] = ("val_auc", "val_loss", "val_accuracy", "val_sensitivity", "val_specificity", "train_loss")
LOG_LINE: tuple[str, ...] = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_auc", "val_sensitivity",
                             "val_specificity")

# The figures a run is judged by on test, at its operating point (eval events, summaries, tables).
HEADLINE: tuple[str, ...] = ("accuracy", "sensitivity", "specificity", "auc")


def is_better(metric: str, new: float | None, old: float | None) -> bool:
    """``new`` beats ``old`` on ``metric`` (lower for losses, higher otherwise); None never wins."""
    if new is None:
        return False
    if old is None:
        return True
    return new < old if METRICS[metric].is_loss else new > old


# --------------------------------------------------------------------------- field checks

MAX_INT = 2**53  # above this a JSON integer is no count of ours (and stops being exact as a float)
MAX_DEPTH = 4  # the deepest event (eval.at_0_5.x) is 2 levels; anything far deeper is not ours
MAX_TEXT = 1 << 20  # a traceback can be long; a megabyte-long field is not one

Check = Callable[[object], bool]


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT


def _number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= MAX_INT if isinstance(value, int) else math.isfinite(value)


def _text(value) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _bool(value) -> bool:
    return isinstance(value, bool)


def _texts(value) -> bool:
    return isinstance(value, list) and len(value) <= 100 and all(_text(v) for v in value)


def _object(value) -> bool:
    return isinstance(value, dict)


def optional(check: Check) -> Check:
    """The field may be ``null`` (an undefined metric, an unknown epoch)."""
    return lambda value: value is None or check(value)


def one_of(*choices: str) -> Check:
    return lambda value: value in choices


@dataclass(frozen=True)
class EventKind:
    """The fields of one kind of event: those it cannot do without, and those checked only when present
    (older runs and hand-written logs may lack them; readers treat a missing field as unknown)."""

    required: dict[str, Check]
    optional: dict[str, Check]


_METRIC = optional(_number)
# A CUDA device's epoch (training.engine.gpu_monitor): peak bytes allocated and reserved by torch, the device's
# bytes, and NVML's mean utilisation in percent; absent on other devices (and utilisation without nvidia-ml-py).
GPU_FIELDS = {"gpu_memory_allocated": _int, "gpu_memory_reserved": _int, "gpu_memory_total": _int,
              "gpu_utilization": _number}
_BINARY = {k: _METRIC for k in ("accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "auc")}

EVENTS: dict[str, EventKind] = {
    "run_started": EventKind(
        required={},
        optional={"run_id": _text, "model": _text, "recipe": _text, "epochs": _int, "device": _text,
                  "steps_per_epoch": _int, "batch_size": _int, "image_size": _int, "n_train": _int, "n_val": _int,
                  "n_test": _int, "pid": _int, "host": _text, "amp": _bool, "synthetic": _bool, "world_size": _int,
                  "parameters": _int, "task": _text, "left_out": _int, "left_out_note": _text},
    ),
    "run_resumed": EventKind(required={}, optional={"epoch": _int, "step": _int, "pid": _int, "host": _text}),
    "step": EventKind(
        required={},
        optional={"epoch": _int, "step": _int, "global_step": _int, "loss": _number, "lr": _number,
                  "images_per_s": _number},
    ),
    "epoch": EventKind(
        required={"epoch": _int},
        optional={**{m.name: _METRIC for m in EPOCH_METRICS}, "lr": _number, "seconds": _number,
                  "images_per_s": _number, **GPU_FIELDS},
    ),
    "checkpoint": EventKind(
        required={"kind": one_of("last", "best")},
        optional={"epoch": optional(_int), "path": _text, "metric": optional(_text), "value": _METRIC,
                  "sha256": _text},
    ),
    "eval": EventKind(
        required={"split": one_of("train", "val", "test")},
        optional={**_BINARY, "threshold": _number, "n": _int, "confusion": _object, "threshold_how": _text,
                  "at_0_5": _object, "single_view": _object},
    ),
    "run_finished": EventKind(required={}, optional={"reason": _text, "best_epoch": optional(_int)}),
    "run_failed": EventKind(required={}, optional={"error": _text, "traceback": _text}),
    # a derived run (training.evaluation.site_shift): which run it came from, the site, and how it was adapted
    "adapted": EventKind(required={"from": _text}, optional={"on": _text, "methods": _texts, "transductive": _bool}),
}
LIFECYCLE = ("run_started", "run_resumed", "run_finished", "run_failed")


def check_event(obj) -> str | None:
    """Why ``obj`` is not a valid event (one line), or None when it is."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    kind = obj.get("event")
    if kind not in EVENTS:
        return f"unknown event kind {_show(kind)}"
    if not _number(obj.get("time")):
        return f"{kind}: no valid time"
    spec = EVENTS[kind]
    for name, check in spec.required.items():
        if name not in obj or not check(obj[name]):
            return f"{kind}: field {name!r} is missing or of the wrong type"
    for name, check in spec.optional.items():
        if name in obj and not check(obj[name]):
            return f"{kind}: field {name!r} is of the wrong type"
    if _depth(obj) > MAX_DEPTH:
        return f"{kind}: nested too deep"
    for name in ("confusion", "at_0_5", "single_view"):
        if name in spec.optional and name in obj and not all(_number(v) or v is None for v in obj[name].values()):
            return f"{kind}: field {name!r} holds something other than numbers"
    return None


# config.json: what readers use of it, and the types they need (other keys are free).
CONFIG_FIELDS: dict[str, Check] = {
    "run_id": _text, "model": _text, "recipe": _object, "data": _object, "command": optional(_text),
    "device": optional(_text), "world_size": _int, "versions": _object, "git_commit": optional(_text),
}
CONFIG_RECIPE_FIELDS: dict[str, Check] = {"epochs": _int, "image_size": _int, "name": _text, "fit": _text,
                                          "threshold": _text, "tta": _int}
CONFIG_DATA_FIELDS: dict[str, Check] = {
    "path": optional(_text), "test_path": optional(_text), "source": optional(_text), "synthetic": _bool,
    "n_train": _int, "n_val": _int, "n_test": _int, "use_test": _bool,
}


def check_config(obj) -> str | None:
    """Why ``obj`` is not a run's config (one line), or None when it is."""
    if not isinstance(obj, dict):
        return f"not a JSON object (a {type(obj).__name__})"
    if _depth(obj) > 2 * MAX_DEPTH:
        return "nested too deep"
    for fields, where in ((CONFIG_FIELDS, obj), (CONFIG_RECIPE_FIELDS, obj.get("recipe")),
                          (CONFIG_DATA_FIELDS, obj.get("data"))):
        if not isinstance(where, dict):
            continue
        for name, check in fields.items():
            if name in where and not check(where[name]):
                return f"field {name!r} is of the wrong type ({_show(where[name])})"
    return None


def parse_event_line(line: bytes) -> tuple[dict | None, str | None]:
    """``(event, None)`` for a valid line, ``(None, why)`` for an invalid one, ``(None, None)`` for a blank one."""
    line = line.strip()
    if not line:
        return None, None
    try:
        obj = json.loads(line, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: a line nested thousands deep
        return None, f"not valid JSON ({type(exc).__name__})"
    why = check_event(obj)
    return (obj, None) if why is None else (None, why)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
