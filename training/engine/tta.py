"""Test-time augmentation: the mean probability over a few fixed views of each image.

The views are small, deterministic affine moves of the kind the model saw in
training (shifts and zooms of a few percent), so each is a plausible film of
the same child; averaging them smooths out where exactly the lungs sit in the
frame. ``views=1`` is the plain prediction.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from training.data.arrays import BatchLoader, SplitData
from training.engine.device import DeviceSetup

# (zoom, shift_x, shift_y) in affine_grid units: zoom > 1 shows a wider field; a shift of 0.08 is 4% of the side.
VIEWS = (
    (1.0, 0.0, 0.0),
    (1.0, 0.08, 0.0),
    (1.0, -0.08, 0.0),
    (1.0, 0.0, 0.08),
    (1.0, 0.0, -0.08),
    (0.92, 0.0, 0.0),
    (1.08, 0.0, 0.0),
    (0.92, 0.06, 0.06),
)
MAX_VIEWS = len(VIEWS)


def recipe_views(recipe: dict) -> int:
    """The views a run averages, from its config.json recipe (1 for runs made before the key existed)."""
    return int(recipe.get("tta") or 1)


def view_matrices(views: int, device) -> torch.Tensor:
    """(views, 2, 3) matrices for ``F.affine_grid``; the first is the identity."""
    if not 1 <= views <= MAX_VIEWS:
        raise ValueError(f"tta views must be 1..{MAX_VIEWS}, got {views}")
    return torch.tensor([[[z, 0.0, x], [0.0, z, y]] for z, x, y in VIEWS[:views]], device=device)


@torch.inference_mode()
def predict_views(model: torch.nn.Module, split: SplitData, setup: DeviceSetup, views: int,
                  batch_size: int = 64) -> np.ndarray:
    """The mean probability over ``views`` views of every image of ``split``, in its order."""
    model.eval()
    thetas = view_matrices(views, setup.device)
    probabilities = np.zeros(len(split), dtype=np.float64)
    for batch in BatchLoader(split, batch_size, setup.device).batches():
        images = batch.images
        total = torch.zeros(len(images), device=setup.device)
        for theta in thetas:
            grid = F.affine_grid(theta.expand(len(images), 2, 3), list(images.shape), align_corners=False)
            view = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
            with setup.autocast():
                total += torch.sigmoid(model(setup.prepare_batch(view)).float())
        probabilities[batch.indices] = (total / len(thetas)).cpu().numpy()
    return probabilities
