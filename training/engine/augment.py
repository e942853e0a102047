"""Augmentation on whole batches of tensors, on the training device.

Geometry: one random affine transform per image (rotation, zoom, shift, optional flip),
applied with ``F.affine_grid`` + ``F.grid_sample``: a single batched kernel,
no per-image Python. The ranges follow Keras' ImageDataGenerator, which the
reproduced study used: rotation in degrees, zoom as a per-axis factor in
[1 - z, 1 + z], shifts as fractions of the image side, and edge pixels
repeated into the uncovered border (Keras' default fill_mode "nearest").

Exposure: one random gamma, contrast and brightness per image. Films from
another machine, year or technician differ first in exposure; a model that
has seen a range of exposures leans less on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineAugment:
    rotation: float = 20.0  # degrees
    zoom: float = 0.2
    width_shift: float = 0.2
    height_shift: float = 0.2
    hflip: bool = False

    @classmethod
    def from_recipe(cls, recipe) -> AffineAugment:
        return cls(recipe.rotation, recipe.zoom, recipe.width_shift, recipe.height_shift, recipe.hflip)

    @property
    def is_identity(self) -> bool:
        return not (self.rotation or self.zoom or self.width_shift or self.height_shift or self.hflip)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``images``: (B, C, H, W) float. Returns a new tensor of the same shape."""
        if self.is_identity:
            return images
        theta = self.random_matrices(images.shape[0], images.device, generator)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border", align_corners=False)

    def random_matrices(self, n: int, device, generator=None) -> torch.Tensor:
        """(n, 2, 3) matrices mapping output to input coordinates in [-1, 1] units."""

        def uniform(limit: float) -> torch.Tensor:
            return (torch.rand(n, device=device, generator=generator) * 2 - 1) * limit

        angle = uniform(math.radians(self.rotation))
        # A factor > 1 samples a wider area: the content shrinks (zooms out).
        zoom_x = 1 + uniform(self.zoom)
        zoom_y = 1 + uniform(self.zoom)
        # A shift of fraction s of the side is 2s in [-1, 1] coordinates.
        shift_x = uniform(2 * self.width_shift)
        shift_y = uniform(2 * self.height_shift)
        flip = torch.ones(n, device=device)
        if self.hflip:
            flip = torch.where(torch.rand(n, device=device, generator=generator) < 0.5, -flip, flip)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [
                torch.stack([cos * zoom_x * flip, -sin * zoom_y, shift_x], dim=1),
                torch.stack([sin * zoom_x * flip, cos * zoom_y, shift_y], dim=1),
            ],
            dim=1,
        )
        return theta


@dataclass(frozen=True)
class ExposureAugment:
    gamma: float = 0.0  # x ** g with log g uniform in +-log(1 + gamma)
    contrast: float = 0.0  # (x - image mean) * c + image mean, c in [1 - contrast, 1 + contrast]
    brightness: float = 0.0  # + b, b in [-brightness, brightness] (pixels in [0, 1])

    @property
    def is_identity(self) -> bool:
        return not (self.gamma or self.contrast or self.brightness)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``images``: (B, C, H, W) float in [0, 1]. Returns a new tensor, clamped to [0, 1]."""
        if self.is_identity:
            return images
        n = images.shape[0]

        def uniform(limit: float) -> torch.Tensor:
            u = torch.rand(n, device=images.device, generator=generator) * 2 - 1
            return (u * limit).to(images.dtype).view(n, 1, 1, 1)

        out = images.clamp(0, 1) ** torch.exp(uniform(math.log1p(self.gamma)))
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * (1 + uniform(self.contrast)) + mean + uniform(self.brightness)
        return out.clamp(0, 1)


@dataclass(frozen=True)
class BatchAugment:
    """Geometry, then exposure: the training batches' whole augmentation."""

    affine: AffineAugment
    exposure: ExposureAugment = ExposureAugment()

    @classmethod
    def from_recipe(cls, recipe) -> BatchAugment:
        return cls(AffineAugment.from_recipe(recipe), ExposureAugment(recipe.gamma, recipe.contrast, recipe.brightness))

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.exposure(self.affine(images, generator), generator)
