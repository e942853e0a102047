"""The four models of the reproduced study, on 1-channel input.

Layer for layer as the study describes them, so that the parameter counts at
200x200 match: baseline 4,000,201; cnn1 40,145,473; cnn3 8,768,257.
The dense head of ``cnn3`` has no activations between its Linear layers,
as in the study's description.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from training.core.errors import PneumoError
from training.models.registry import register


class Logit(nn.Module):
    """(B, 1) -> (B,): every model returns one logit per image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(1)


def _after_conv_pool(size: int, blocks: int) -> int:
    # Each block: 3x3 conv without padding (-2), then 2x2 max pooling (floor /2).
    for _ in range(blocks):
        size = (size - 2) // 2
    if size < 1:
        raise ValueError(f"image too small for {blocks} conv blocks")
    return size


@register("baseline", "MLP: Flatten, Linear 100, ReLU, Linear 1", study=True)
def baseline(image_size: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(image_size * image_size, 100),
        nn.ReLU(),
        nn.Linear(100, 1),
        Logit(),
    )


@register("cnn1", "one conv block (32) and a dense head of 128", study=True)
def cnn1(image_size: int) -> nn.Module:
    side = _after_conv_pool(image_size, 1)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * side * side, 128),
        nn.ReLU(),
        nn.Linear(128, 1),
        Logit(),
    )


@register("cnn3", "three conv blocks (32/64/128) and dense 128, 64", study=True)
def cnn3(image_size: int) -> nn.Module:
    side = _after_conv_pool(image_size, 3)
    blocks = []
    for c_in, c_out in ((1, 32), (32, 64), (64, 128)):
        blocks += [nn.Conv2d(c_in, c_out, 3), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(
        *blocks,
        nn.Flatten(),
        nn.Linear(128 * side * side, 128),
        nn.Linear(128, 64),
        nn.Linear(64, 1),
        Logit(),
    )


@register("resnet50", "torchvision ResNet50, 1-channel stem, dropout 0.5", study=True)
def resnet50(image_size: int, pretrained: bool = False, dropout: float = 0.5) -> nn.Module:
    from torchvision.models import resnet50 as tv_resnet50

    model = tv_resnet50(weights=None)
    if pretrained:
        model.load_state_dict(_cached_imagenet_weights())
    rgb_stem = model.conv1.weight.data
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if pretrained:
        # A gray image is R = G = B, so summing the RGB filters keeps their response.
        model.conv1.weight.data.copy_(rgb_stem.sum(dim=1, keepdim=True))
    model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(model.fc.in_features, 1), Logit())
    return model  # torchvision's ResNet already pools globally (AdaptiveAvgPool2d)


class PretrainedWeightsMissing(PneumoError, FileNotFoundError):
    """ImageNet weights asked for but not in the local torch hub cache."""


def _cached_imagenet_weights() -> dict:
    """The IMAGENET1K_V2 weights from the local cache only: never download (no hanging)."""
    from pathlib import Path

    from torch.hub import get_dir
    from torchvision.models import ResNet50_Weights

    url = ResNet50_Weights.IMAGENET1K_V2.url
    path = Path(get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if not path.is_file():
        raise PretrainedWeightsMissing(
            f"pretrained=true needs the ImageNet ResNet50 weights at {path} (download {url} there), "
            "or set pretrained=false"
        )
    return torch.load(path, map_location="cpu", weights_only=True)
