"""Run folders written by hand for the review tests (no trainer needed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.run.predictions import PREDICTION_FIELDS


def write_run(run_dir: Path, n_val: int = 40, n_test: int = 60, seed: int = 0, images: bool = True,
              separation: float = 1.5, shuffle: bool = False, model: str = "cnn_tiny") -> Path:
    """A finished-looking run: config.json, events.jsonl and predictions.csv (val + test rows).

    Test ids are the same for every seed, so two such runs can be compared.
    Images (tiny PNGs) are written next to the run when ``images``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    label_rng = np.random.default_rng(1234)  # same labels and ids in every run
    rows = []
    for split, n in (("val", n_val), ("test", n_test)):
        labels = label_rng.integers(0, 2, n)
        scores = labels * separation + rng.normal(0, 1, n)
        probs = np.round(1 / (1 + np.exp(-(scores - separation / 2))), 4)
        for i, (label, p) in enumerate(zip(labels, probs, strict=True)):
            cls = "PNEUMONIA" if label else "NORMAL"
            case_id = f"{split}/{cls}/case-{i:03d}.png"
            path = run_dir.parent / "images" / case_id
            if images and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                pixels = (np.add.outer(np.arange(48), np.arange(40)) * 2 + 40 * label + i % 7).astype(np.uint8)
                Image.fromarray(pixels).save(path)
            rows.append({"id": case_id, "path": str(path), "split": split, "label": int(label), "probability": float(p),
                         "subtype": ("bacteria" if i % 2 else "virus") if label else "",
                         "patient": f"p{i // 2:03d}"})
    if shuffle:
        rows = [rows[i] for i in np.random.default_rng(seed + 99).permutation(len(rows))]
    with open(run_dir / "predictions.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PREDICTION_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (run_dir / "config.json").write_text(json.dumps({
        "run_id": run_dir.name, "model": model, "recipe": {"image_size": 32, "epochs": 1},
        "data": {"path": None, "synthetic": True, "source": "hand-written test rows"}}))
    (run_dir / "events.jsonl").write_text(
        json.dumps({"event": "run_finished", "time": 0, "reason": "completed"}) + "\n")
    return run_dir
