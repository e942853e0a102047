"""``resnet_tiny``: a residual network for small images (PneumoniaMNIST's 28 px, up to ~64 px).

resnet_small halves the image five times, which leaves nothing of a 28 px
image; this one keeps full resolution in its first stage and halves twice
(28 -> 14 -> 7), with the same BatchNorm residual blocks and global pooling.
"""

from __future__ import annotations

import torch.nn as nn

from training.models.modern import ResNetSmall
from training.models.registry import register


@register("resnet_tiny", "small-image ResNet (28-64 px: full-resolution first stage, BatchNorm, global pooling)")
def resnet_tiny(image_size: int, dropout: float = 0.3) -> nn.Module:
    return ResNetSmall(widths=(32, 64, 128), dropout=dropout, stem_kernel=3, stem_stride=1, first_stride=1)
