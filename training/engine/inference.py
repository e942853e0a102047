"""Running a trained model over a split: probabilities (and the loss) per image."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from training.data.arrays import BatchLoader, SplitData
from training.engine.device import DeviceSetup


@torch.inference_mode()
def predict_split(model: torch.nn.Module, split: SplitData, setup: DeviceSetup, batch_size: int = 64):
    """``(probabilities, mean BCE loss)`` for every image of ``split``, in its order."""
    model.eval()
    probabilities = np.empty(len(split), dtype=np.float64)
    loss_sum = 0.0
    for batch in BatchLoader(split, batch_size, setup.device).batches():
        with setup.autocast():
            logits = model(setup.prepare_batch(batch.images)).float()
        loss_sum += F.binary_cross_entropy_with_logits(logits, batch.labels, reduction="sum").item()
        probabilities[batch.indices] = torch.sigmoid(logits).cpu().numpy()
    return probabilities, loss_sum / max(1, len(split))
