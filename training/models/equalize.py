"""Per-image histogram equalization, as the first step of a model's forward pass.

Films from another machine, year or technician differ first in how grey levels
map to tissue. Equalization maps each image's grey levels through its own
cumulative histogram, so any monotone change of them (gamma, contrast,
brightness, within the 256 levels and short of clipping) gives the same input:
the model is invariant to exposure by construction, where exposure
augmentation only teaches it a range.

It runs inside the model (a forward pre-hook) rather than in the data
pipeline, so training, validation, test, ``pneumo predict``, Grad-CAM and the
review screen all see the same input without each having to remember it; a
model built from its recipe (``equalize = true``) gets it back on reload.
"""

from __future__ import annotations

import torch
import torch.nn as nn

LEVELS = 256


def equalize_histograms(images: torch.Tensor) -> torch.Tensor:
    """``images``: (B, C, H, W) in [0, 1]. Each image (all its channels together) equalized over 256 levels.

    The darkest level present maps to 0 and the brightest to 1; a flat image maps to 0.
    """
    n = images.shape[0]
    levels = (images.detach().float().clamp(0, 1) * (LEVELS - 1)).round().long().reshape(n, -1)
    counts = torch.zeros(n, LEVELS, device=images.device).scatter_add_(
        1, levels, torch.ones_like(levels, dtype=torch.float))
    cdf = counts.cumsum(1)
    # The pixels at the darkest level present: subtracting their count stretches the output to 0..1.
    darkest = torch.where(counts > 0, cdf, torch.full_like(cdf, float("inf"))).amin(1, keepdim=True)
    span = (cdf[:, -1:] - darkest).clamp(min=1)
    out = ((cdf.gather(1, levels) - darkest) / span).reshape(images.shape).to(images.dtype)
    if images.dim() == 4 and images.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)  # keep the layout the convolutions were set up for
    return out


def _equalize_input(module: nn.Module, args: tuple) -> tuple:
    images = args[0]
    equalized = equalize_histograms(images)
    if images.requires_grad:
        # Equalization has no gradient; pass it straight through so a graph still starts at the input
        # (Grad-CAM asks for one even when the weights are frozen).
        equalized = images + (equalized - images).detach()
    return (equalized, *args[1:])


def attach_equalization(model: nn.Module) -> nn.Module:
    """Equalize every input of ``model`` before its forward pass; returns ``model``.

    A hook adds no parameters, so the state dict stays the same as the bare model's.
    """
    model.register_forward_pre_hook(_equalize_input)
    model.equalizes_input = True  # hooks do not show in repr(); tests read this
    return model
