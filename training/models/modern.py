"""A modern small network for this data, meant to beat the study's models.

``resnet_small``: a compact residual network (BatchNorm, ReLU, strided
stages, global average pooling, dropout). Chest X-rays need resolution more
than width, so it downsamples early and stays narrow: about 1.6M parameters,
fast enough to train on a laptop CPU at 128-224 px.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from training.models.registry import register
from training.models.study import Logit


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
    )


class ResidualBlock(nn.Module):
    """The ResNet basic block: two 3x3 convs plus a (projected) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c_in, c_out, stride), nn.ReLU(inplace=True), conv_bn(c_out, c_out))
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        # Start each residual branch at zero so the deep net trains like a shallow one at first.
        nn.init.zeros_(self.body[-1][1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNetSmall(nn.Module):
    """Stem, residual stages (two blocks each, the first may halve), global pooling, one logit.

    The defaults are ``resnet_small``: a strided 5x5 stem and every stage halving. Small images
    (``resnet_tiny``) keep full resolution with a 3x3 stride-1 stem and a first stage that does not halve.
    """

    def __init__(self, widths=(24, 48, 96, 192), dropout: float = 0.3, stem_kernel: int = 5,
                 stem_stride: int = 2, first_stride: int = 2):
        super().__init__()
        stem_width = widths[0]
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem_width, stem_kernel, stride=stem_stride, padding=stem_kernel // 2, bias=False),
            nn.BatchNorm2d(stem_width),
            nn.ReLU(inplace=True),
        )
        stages, c_in = [], stem_width
        for i, c_out in enumerate(widths):
            stages.append(ResidualBlock(c_in, c_out, stride=first_stride if i == 0 else 2))
            stages.append(ResidualBlock(c_out, c_out, stride=1))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, 1), Logit()
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Centre the [0, 1] input: BatchNorm follows, but the stem conv sees raw pixels.
        return self.head(self.stages(self.stem(x - 0.5)))


@register("resnet_small", "compact ResNet (BatchNorm, global pooling, dropout), ~1.6M params")
def resnet_small(image_size: int, dropout: float = 0.3) -> nn.Module:
    return ResNetSmall(dropout=dropout)
