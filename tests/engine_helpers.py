"""Small in-memory datasets and run readers for the engine's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.arrays import SplitData, arrays_data
from training.data.records import Record


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


def write_tiny_npz(path: Path, sizes: dict[str, int], side: int = 28) -> Path:
    """A MedMNIST-style .npz of noise: ``{split}_images`` (n, side, side) and ``{split}_labels`` (n, 1),
    classes alternating."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in sizes.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1)
    np.savez(path, **arrays)
    return path
