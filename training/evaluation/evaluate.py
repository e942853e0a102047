"""Metrics of a finished (or stopped) run on one split, at its operating point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.core.errors import PneumoError
from training.metrics.binary import binary_metrics
from training.run.operating_point import load_threshold
from training.run.paths import RunPaths
from training.run.predictions import read_predictions
from training.run.store import load_config


class EvaluationError(PneumoError):
    """A run that cannot be evaluated on the asked split (one-line reason)."""


def evaluate_run(run_dir: Path, split: str = "test", threshold: float | None = None) -> dict:
    """accuracy, sensitivity, specificity, precision, npv, f1, auc, confusion{tp,fp,tn,fn}, threshold, n
    (plus ``split`` and ``source``: "predictions.csv" or "best.pt").

    ``threshold`` defaults to the run's saved operating point (0.5 when none).
    The probabilities come from predictions.csv when it has the split,
    otherwise from running the best checkpoint over the run's data.
    """
    run_dir = Path(run_dir)
    threshold = load_threshold(run_dir) if threshold is None else float(threshold)
    labels, probabilities, source = split_probabilities(run_dir, split)
    return {**binary_metrics(labels, probabilities, threshold), "split": split, "source": source}


def split_probabilities(run_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(labels, probabilities, source)`` for every image of ``split``."""
    rows = _prediction_rows(run_dir, split)
    if rows:
        labels = np.array([r["label"] for r in rows], dtype=np.int64)
        return labels, np.array([r["probability"] for r in rows], dtype=np.float64), RunPaths(run_dir).predictions.name
    return _rerun_best(run_dir, split)


def _prediction_rows(run_dir: Path, split: str) -> list[dict]:
    if not RunPaths(run_dir).predictions.is_file():
        return []
    try:
        return [r for r in read_predictions(run_dir) if r["split"] == split]
    except (OSError, KeyError, ValueError) as exc:
        raise EvaluationError(f"{RunPaths(run_dir).predictions} is unreadable: {exc}") from None


def _rerun_best(run_dir: Path, split: str):
    """No stored predictions (a run stopped before its end): run best.pt over the split."""
    from training.data.arrays import DataSpec, prepare_data
    from training.engine.checkpoint import load_model_from_run
    from training.engine.device import device_setup
    from training.engine.tta import predict_views, recipe_views

    config = load_config(run_dir)
    info, recipe = config.get("data", {}), config.get("recipe", {})
    if not info.get("path"):
        raise EvaluationError(f"{run_dir.name} has no {split} predictions and no data path to compute them")
    model, _ = load_model_from_run(run_dir, "best")
    spec = DataSpec(Path(info["path"]), Path(info["test_path"]) if info.get("test_path") else None)
    data = prepare_data(spec, recipe["image_size"], recipe.get("fit", "squash"),
                        info.get("val_fraction", 0.1), info.get("split_seed", 0),
                        val_split=recipe.get("val_split", "auto"))
    chosen = {"train": data.train, "val": data.val, "test": data.test}.get(split)
    if chosen is None or len(chosen) == 0:
        raise EvaluationError(f"{run_dir.name}: its data has no {split} split")
    setup = device_setup(None, amp=recipe.get("amp", True), channels_last=False)
    # The run's own test-time views: the same probabilities its threshold was chosen on.
    probabilities = predict_views(model.to(setup.device), chosen, setup, recipe_views(recipe))
    return chosen.labels, probabilities, RunPaths(run_dir).best_checkpoint.name
