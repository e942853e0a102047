"""``resnet_tiny``: a residual network for small images (PneumoniaMNIST's 28 px, up to ~64 px).

resnet_small halves the image five times, which leaves nothing of a 28 px
image; this one keeps full resolution in its first stage and halves twice
(28 -> 14 -> 7), with the same BatchNorm residual blocks and global pooling.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .modern import ResidualBlock
from .registry import register
from .study import Logit


class ResNetTiny(nn.Module):
    def __init__(self, widths=(32, 64, 128), dropout: float = 0.3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        stages, c_in = [], widths[0]
        for i, c_out in enumerate(widths):
            stages += [ResidualBlock(c_in, c_out, stride=1 if i == 0 else 2), ResidualBlock(c_out, c_out, stride=1)]
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, 1),
                                  Logit())
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x - 0.5)))


@register("resnet_tiny", "small-image ResNet (28-64 px: full-resolution first stage, BatchNorm, global pooling)")
def resnet_tiny(image_size: int, dropout: float = 0.3) -> nn.Module:
    return ResNetTiny(dropout=dropout)
