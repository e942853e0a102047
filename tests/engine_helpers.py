"""Small in-memory datasets and run readers for the engine's tests."""

from __future__ import annotations

import numpy as np

from training.data import SplitData, arrays_data
from training.records import Record


def square_split(n: int, split: str, seed: int, size: int = 32) -> SplitData:
    """Noise images; PNEUMONIA ones have a bright square in the middle (easy to learn)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 120, (n, size, size)).astype(np.uint8)
    images[labels == 1, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] += 100
    records = [Record(id=f"{split}/{i}", split=split, label=int(y), patient=f"p{i}") for i, y in enumerate(labels)]
    return SplitData(records, images)


def square_data(n_train: int = 32, size: int = 32):
    return arrays_data(square_split(n_train, "train", 0, size), square_split(12, "val", 1, size),
                       square_split(12, "test", 2, size))
