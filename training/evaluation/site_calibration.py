"""A run's operating point chosen on a labelled sample from the site where it will be used.

Validation comes from the training data's own acquisition. Films from another
scanner, year or hospital can score differently: on Kermany's official test
split the normals score higher than any held-out part of train, so a threshold
chosen on val over-calls them (BENCHMARKS.md, "Model quality"). A small
labelled sample of the new site's films places the threshold where that
site's scores lie.

The sample must be new to the run: not its training data and not its test
split (choosing there would be choosing on test, and its test figures would
no longer be an honest estimate), which is checked by folder and by file name.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.records import DataError


@dataclass
class SiteThreshold:
    threshold: float
    how: str  # for threshold.json, e.g. "youden on 40 site images (/data/site-a)"
    labels: np.ndarray  # of the sample's readable images
    probabilities: np.ndarray
    skipped: list[tuple[str, str]]  # (path, why) of unreadable images


def choose_site_threshold(run_dir: Path, folder: Path, rule: str) -> SiteThreshold:
    """Predict the labelled ``folder`` (NORMAL/ and PNEUMONIA/ inside) with the run, then apply ``rule``
    ("youden" or "sensitivity>=s") to it. ``DataError`` (one line) if the sample is not fit for it."""
    from training.core.tasks import task_of_config
    from training.data.sources import open_source
    from training.data.tasks import select_for_task
    from training.evaluation.predict import predict_images
    from training.metrics.thresholds import choose_threshold, parse_threshold_rule
    from training.run.store import load_config

    if parse_threshold_rule(rule)[0] == "fixed":
        raise ValueError("a fixed threshold needs no sample: give youden or sensitivity>=s")
    config = load_config(run_dir)
    task = task_of_config(config)  # a subtype run is calibrated on the sample's pneumonia films, by subtype
    records = select_for_task([r for r in open_source(folder).records() if r.path is not None], task).records
    refuse_overlap(folder, [r.path for r in records], config.get("data", {}), _test_paths(run_dir))
    predictions = predict_images(run_dir, [r.path for r in records])
    kept = [(r.label, p.probability) for r, p in zip(records, predictions, strict=True) if p.error is None]
    skipped = [(p.path, p.error) for p in predictions if p.error is not None]
    labels = np.array([label for label, _ in kept], dtype=int)
    probabilities = np.array([p for _, p in kept], dtype=float)
    if len(set(labels.tolist())) < 2:
        raise DataError(f"{folder}: the sample needs readable {task.negative} and {task.positive} images "
                        f"({int((labels == 0).sum())} {task.negative}, {int((labels == 1).sum())} {task.positive})")
    where = f"{len(labels)} site images ({os.path.abspath(folder)})"
    chosen, how = choose_threshold(rule, labels, probabilities, where=where)
    return SiteThreshold(float(chosen), how, labels, probabilities, skipped)


def refuse_overlap(folder: Path, images: list[Path], data: dict, test_paths: list[str]) -> None:
    """``DataError`` if the sample holds, or sits inside, the run's training or test data (symlinks followed),
    or holds any of its test images: by file name, and by content (a renamed copy)."""
    sample = Path(os.path.realpath(folder))
    used_folders = []
    for key, what in (("path", "training data"), ("test_path", "test data")):
        if not isinstance(data.get(key), str) or not data[key]:
            continue
        used = Path(os.path.realpath(data[key]))
        used_folders.append((used, what))
        if sample == used or used in sample.parents or sample in used.parents:
            raise DataError(f"{folder} overlaps the run's {what} ({used}): choose on images the run has not seen")
    for image in images:  # a symlink, or a folder of them, into the run's own data
        real = Path(os.path.realpath(image))
        for used, what in used_folders:
            if used in real.parents:
                raise DataError(f"{image} is a link into the run's {what} ({used}): choose on images the run has "
                                "not seen")
    test_names = {Path(p).name.lower() for p in test_paths}
    shared = sum(Path(p).name.lower() in test_names for p in images)
    if shared:
        raise DataError(f"{shared} of the sample's images have the file names of this run's test images (a copy of "
                        "its test split?): choosing there would be choosing on test")
    test_digests = {d for d in map(_digest, test_paths) if d is not None}
    copies = sum(_digest(p) in test_digests for p in images)
    if copies:
        raise DataError(f"{copies} of the sample's images are byte for byte images of this run's test split (renamed "
                        "copies): choosing there would be choosing on test")


def _digest(path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "md5").hexdigest()
    except OSError:
        return None


def _test_paths(run_dir: Path) -> list[str]:
    from training.run.predictions import read_predictions

    try:  # a run still training has no predictions yet, and no test rows to protect
        return [r["path"] for r in read_predictions(run_dir) if r["split"] == "test" and r.get("path")]
    except FileNotFoundError:
        return []
