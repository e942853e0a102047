"""A small synthetic dataset in the Kermany layout, for first runs and tests.

The images are drawn, not real: a bright body, two dark lungs, a spine and
ribs; PNEUMONIA adds bright opacities inside the lungs (one dense lobar patch
for bacteria, several faint patches for virus). The signal is easy on purpose
so that a tiny CNN learns it in a few CPU seconds. A ``SYNTHETIC`` marker in
the root makes every screen and report say so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from training.core.fileio import atomic_write_text
from training.data.sources import SYNTHETIC_MARKER

MARKER_TEXT = (
    "SYNTHETIC demo data written by `pneumo data demo`: drawn shapes, not radiographs.\n"
    "Results on it say nothing about real chest X-rays.\n"
)


def write_demo(dir: Path, per_class: int = 40, size: int = 128, seed: int = 0) -> Path:
    """Write the demo set under ``dir`` and return ``dir``.

    ``per_class`` images per class in train; test gets a quarter and val an
    eighth (at least 4 and 2). Image sides vary by about +-10% around ``size``.
    """
    root = Path(dir)
    rng = np.random.default_rng(seed)
    counts = {"train": per_class, "val": max(2, per_class // 8), "test": max(4, per_class // 4)}
    next_patient = {"NORMAL": 1, "PNEUMONIA": 1}
    next_image = 1
    for split, n in counts.items():
        for class_name in ("NORMAL", "PNEUMONIA"):
            folder = root / split / class_name
            folder.mkdir(parents=True, exist_ok=True)
            written = 0
            while written < n:
                patient = next_patient[class_name]
                next_patient[class_name] += 1
                subtype = "bacteria" if patient % 2 else "virus"
                for visit in range(1, min(int(rng.integers(1, 4)), n - written) + 1):
                    if class_name == "NORMAL":
                        prefix = "NORMAL2-IM" if patient % 3 == 0 else "IM"
                        name = f"{prefix}-{patient:04d}-{visit:04d}.jpeg"
                    else:
                        name = f"person{patient}_{subtype}_{next_image}.jpeg"
                    next_image += 1
                    pixels = draw_chest(rng, size, class_name == "PNEUMONIA", subtype)
                    Image.fromarray(pixels).save(folder / name, quality=92)
                    written += 1
    atomic_write_text(root / SYNTHETIC_MARKER, MARKER_TEXT)
    return root


def draw_chest(rng: np.random.Generator, size: int, pneumonia: bool, subtype: str = "bacteria") -> np.ndarray:
    """One synthetic frontal chest image (2-D uint8, roughly ``size`` square)."""
    h = int(size * rng.uniform(0.9, 1.1))
    w = int(size * rng.uniform(0.9, 1.15))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = y / h, x / w
    img = np.full((h, w), 25.0, dtype=np.float32)
    img += 130.0 * _ellipse(x, y, 0.5 + rng.normal(0, 0.02), 0.55, 0.42, 0.5)  # body
    lungs = []
    for side in (-1, 1):
        cx = 0.5 + side * rng.uniform(0.16, 0.2)
        cy = rng.uniform(0.47, 0.53)
        lung = _ellipse(x, y, cx, cy, rng.uniform(0.11, 0.14), rng.uniform(0.27, 0.32))
        lungs.append((cx, cy))
        img -= 85.0 * lung
    img += 50.0 * np.exp(-(((x - 0.5) / 0.035) ** 2)) * (y > 0.1)  # spine
    ribs = 0.5 + 0.5 * np.sin(y * rng.uniform(55, 65) + 6 * (x - 0.5) ** 2)
    img += 12.0 * ribs * sum(_ellipse(x, y, cx, cy, 0.14, 0.3) for cx, cy in lungs)
    if pneumonia:
        img += _opacities(rng, x, y, lungs, subtype)
    img += rng.uniform(-15, 15)  # exposure differs between films
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _opacities(rng, x, y, lungs, subtype) -> np.ndarray:
    extra = np.zeros_like(x)
    n, radius, strength = (1, (0.07, 0.1), (70, 95)) if subtype == "bacteria" else (3, (0.045, 0.065), (50, 75))
    for _ in range(n):
        cx, cy = lungs[int(rng.integers(0, 2))]
        bx, by = cx + rng.normal(0, 0.04), cy + rng.normal(0, 0.1)
        r = rng.uniform(*radius)
        extra += rng.uniform(*strength) * np.exp(-(((x - bx) ** 2 + (y - by) ** 2) / (2 * r * r)))
    return extra


def _ellipse(x, y, cx, cy, rx, ry) -> np.ndarray:
    """A soft-edged ellipse mask in [0, 1]."""
    d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    return np.clip(1.5 - d, 0, 1) ** 0.5 * (d < 1.5)
