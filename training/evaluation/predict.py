"""Predictions for image files, with a run's best checkpoint and its operating point."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from training.core.tasks import task_of_config
from training.data.records import UnreadableImage


@dataclass
class ImagePrediction:
    path: str
    probability: float | None  # of PNEUMONIA
    label: str | None  # NORMAL | PNEUMONIA at ``threshold``
    threshold: float
    error: str | None = None  # why the image was skipped

    def to_json(self) -> dict:
        return asdict(self)


def predict_images(run_dir: Path, paths: list[Path], threshold: float | None = None,
                   which: str = "best") -> list[ImagePrediction]:
    """One prediction per path, in order; an unreadable image is reported, not raised.

    Images go through the run's own preprocessing (grayscale, resized to its
    image_size with its fit) and its own test-time views (``tta``), so a
    probability is on the same scale as the one its threshold was chosen on.
    """
    import torch

    from training.data.arrays import SplitData
    from training.data.records import Record
    from training.engine.checkpoint import load_model_from_run
    from training.engine.device import device_setup
    from training.engine.tta import predict_views, recipe_views
    from training.run.operating_point import load_threshold

    run_dir = Path(run_dir)
    threshold = load_threshold(run_dir) if threshold is None else float(threshold)
    model, config = load_model_from_run(run_dir, which)
    recipe = config.get("recipe", {})
    task = task_of_config(config)  # a subtype model names BACTERIAL or VIRAL, and is meant for pneumonia films
    size, fit = recipe.get("image_size", 200), recipe.get("fit", "squash")

    results: list[ImagePrediction] = []
    readable, pixels = [], []
    for path in paths:
        try:
            pixels.append(load_for_model(Path(path), size, fit))
            readable.append(len(results))
        except UnreadableImage as exc:
            results.append(ImagePrediction(str(path), None, None, threshold, str(exc)))
            continue
        results.append(ImagePrediction(str(path), None, None, threshold))
    if pixels:
        records = [Record(id=results[i].path, split="predict", label=0) for i in readable]
        split = SplitData(records, np.stack(pixels))
        setup = device_setup(None, amp=False, channels_last=False)
        with torch.inference_mode():
            probabilities = predict_views(model.to(setup.device), split, setup, recipe_views(recipe))
        for i, p in zip(readable, probabilities, strict=True):
            results[i].probability = float(p)
            results[i].label = task.class_name(int(p >= threshold))
    return results


def load_for_model(path: Path, size: int, fit: str) -> np.ndarray:
    """``path`` decoded to grayscale and resized exactly as the preprocessing cache does."""
    from training.data.decode import decode_image, resize

    if not path.is_file():
        raise UnreadableImage("no such file")
    if path.suffix.lower() in (".dcm", ".dicom"):
        from training.data.sources.dicom import decode_dicom

        gray = decode_dicom(path)
    else:
        gray = decode_image(path, draft=size)
    return resize(gray, size, fit)
