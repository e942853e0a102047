"""Validation-only probe of finished runs, for choosing between recipes without the test split.

Run: .venv/bin/python tests/quality_val_probe.py OFFICIAL_VAL_DIR RUN [RUN ...]
     (not a test: prints figures for BENCHMARKS.md "Model quality")

Per run: val AUC from its predictions.csv val rows (the run's own test-time views), and the mean logit of each class
on the official val originals (chest_xray/val: 16 images from outside chest_xray_224/train, so never trained on),
single view. No test row or test image is read.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from training.data.arrays import SplitData
from training.data.records import Record
from training.engine.checkpoint import load_model_from_run
from training.engine.device import device_setup
from training.engine.inference import predict_split
from training.evaluation.predict import load_for_model
from training.metrics.binary import roc_auc
from training.run.predictions import read_predictions


def probe(run: Path, images: list[Path], labels: np.ndarray) -> tuple[float, float, float]:
    val = [r for r in read_predictions(run) if r["split"] == "val"]
    auc = roc_auc([r["label"] for r in val], [r["probability"] for r in val])
    model, config = load_model_from_run(run)
    size, fit = config["recipe"]["image_size"], config["recipe"].get("fit", "squash")
    pixels = np.stack([load_for_model(p, size, fit) for p in images])
    split = SplitData([Record(id=str(p), split="probe", label=0) for p in images], pixels)
    with torch.inference_mode():
        p = np.clip(predict_split(model, split, device_setup("cpu", amp=False, channels_last=False))[0], 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p))
    return auc, float(logit[labels == 0].mean()), float(logit[labels == 1].mean())


def main() -> None:
    official_val, runs = Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]
    images = sorted(p for p in official_val.glob("*/*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    labels = np.array([int(p.parent.name.upper() == "PNEUMONIA") for p in images])
    rows = [probe(run, images, labels) for run in runs]
    for run, (auc, normal, pneumonia) in zip(runs, rows, strict=True):
        print(f"{run.name}: val AUC {auc:.4f}  official-val logit NORMAL {normal:+.2f}  PNEUMONIA {pneumonia:+.2f}")
    auc, normal, pneumonia = np.mean(rows, axis=0)
    print(f"mean of {len(rows)}: val AUC {auc:.4f}  "
          f"official-val logit NORMAL {normal:+.2f}  PNEUMONIA {pneumonia:+.2f}")


if __name__ == "__main__":
    main()
