"""What a run's checkpoint holds, and how a file is known to be the one the trainer wrote.

``checkpoints/last.pt`` (after every epoch, and on a stop) and ``checkpoints/best.pt`` (when validation
improves) are ``torch.save`` archives (``training.engine.checkpoint`` reads and writes them; this package
needs no torch) of a dict with ``WEIGHTS_KEYS`` for predicting and ``RESUME_KEYS`` for continuing the run.
Each ``checkpoint`` event records the file's SHA-256, so a file that changed after it was written (bit rot,
a copy gone wrong, someone else's file) is found, not loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FORMAT = 1
WEIGHTS_KEYS = ("model",)  # the model's state dict: enough to predict
RESUME_KEYS = ("model", "optimizer", "schedule", "early_stopping", "rng", "aug_rng", "epoch", "next_step", "partial",
               "global_step", "best")  # and to continue from the exact step


def digest(data: bytes) -> str:
    """The SHA-256 a checkpoint event records for the bytes written."""
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
