"""Review timings: Grad-CAM per image (CPU) and bootstrap CIs for a Kermany-sized test set.

Run: .venv/bin/python tests/bench_review.py  (not a test: prints figures for BENCHMARKS.md)
"""
import time

import numpy as np
import torch

from training.evaluation.gradcam import explain_image
from training.metrics.bootstrap import bootstrap_cis
from training.metrics.significance import delong
from training.models import build_model

torch.set_num_threads(2)
rng = np.random.default_rng(0)
image = rng.integers(0, 256, (1400, 1800), dtype=np.uint8)  # a typical Kermany JPEG size
for name, size in (("cnn3", 200), ("resnet_small", 200), ("resnet50", 200)):
    model = build_model(name, size).eval()
    explain_image(model, image, size)  # warm-up
    n = 3
    t = time.perf_counter()
    for _ in range(n):
        explain_image(model, image, size)
    print(f"Grad-CAM {name} @ {size}px, 1800x1400 image: {(time.perf_counter() - t) / n * 1000:.0f} ms")
labels = np.r_[np.ones(390, int), np.zeros(234, int)]
probs = np.clip(labels * 0.3 + rng.random(624) * 0.7, 0, 1)
t = time.perf_counter()
bootstrap_cis(labels, probs, 0.5, n_boot=2000)
print(f"bootstrap 2000 x 624 cases: {(time.perf_counter() - t) * 1000:.0f} ms")
t = time.perf_counter()
delong(labels, probs, np.sqrt(probs))
print(f"DeLong 624 cases: {(time.perf_counter() - t) * 1000:.1f} ms")
