"""Grad-CAM (Selvaraju et al. 2017) with our own hooks, for any model of the zoo.

The map says which regions of the last convolutional block's features pushed
the score up. It is saliency, not localisation: a bright region is where the
model looked, not proof that the pathology is there.

Zoo models map (B, 1, S, S) in [0, 1] to (B,) logits; two-logit models
(B, 2) are handled too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training.core.errors import PneumoError

_CONTAINERS = (nn.Sequential, nn.ModuleList)
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Hardswish)


class GradCamUnavailable(PneumoError, ValueError):
    """The model has no convolutional layer to explain."""


def _has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in module.modules())


def find_target_layer(model: nn.Module) -> nn.Module:
    """The last convolutional block: the output Grad-CAM explains.

    Descends through plain containers into the last child that holds a
    Conv2d, and stops at a block (a module with its own forward, like a
    residual block) or at a container whose last conv child is a bare
    Conv2d. In a flat Sequential (conv, relu, pool, ..., flatten, linear) the
    activation right after the last conv is used.
    """
    if not _has_conv(model):
        raise GradCamUnavailable(f"{model.__class__.__name__} has no convolutional layer; Grad-CAM needs one")
    module, at_root = model, True
    while True:
        children = list(module.children())
        index = max(i for i, c in enumerate(children) if _has_conv(c))
        last = children[index]
        if isinstance(last, nn.Conv2d):
            if not at_root:
                return module
            following = children[index + 1] if index + 1 < len(children) else None
            return following if isinstance(following, _ACTIVATIONS) else last
        if not isinstance(last, _CONTAINERS):
            return last
        module, at_root = last, False


@dataclass
class CamResult:
    heatmap: np.ndarray  # (H, W) float32 in [0, 1], at the input's size
    probability: float  # the model's PNEUMONIA probability
    target: int  # the class explained (1 PNEUMONIA, 0 NORMAL)


def _class_score(output: torch.Tensor, target: int) -> torch.Tensor:
    """The score whose gradient we follow: +logit for PNEUMONIA, -logit for NORMAL."""
    out = output.reshape(output.shape[0], -1)
    if out.shape[1] == 2:
        return out[0, target] - out[0, 1 - target]
    return out[0, 0] if target == 1 else -out[0, 0]


def _probability(output: torch.Tensor) -> float:
    out = output.detach().reshape(output.shape[0], -1)
    if out.shape[1] == 2:
        return float(torch.softmax(out[0], dim=0)[1])
    return float(torch.sigmoid(out[0, 0]))


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | None = None,
             layer: nn.Module | None = None) -> CamResult:
    """Grad-CAM of one input ``x`` (1, C, H, W); ``target`` None explains the predicted class."""
    layer = layer or find_target_layer(model)
    saved: dict[str, torch.Tensor] = {}

    def keep_activation(_module, _inputs, output):
        activation = output[0] if isinstance(output, tuple) else output
        saved["activation"] = activation
        # a tensor hook, not a module backward hook: it tolerates in-place ops after the block
        activation.register_hook(lambda grad: saved.__setitem__("gradient", grad))

    handle = layer.register_forward_hook(keep_activation)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = x.detach().clone().requires_grad_(True)  # a graph even if the weights are frozen
            output = model(x)
            probability = _probability(output)
            target = int(probability >= 0.5) if target is None else int(target)
            model.zero_grad(set_to_none=True)
            _class_score(output, target).backward()
    finally:
        handle.remove()
        model.train(was_training)
    activation, gradient = saved["activation"].detach(), saved["gradient"].detach()
    weights = gradient.mean(dim=(2, 3), keepdim=True)  # one weight per channel: pooled gradient
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else cam).numpy().astype(np.float32)
    return CamResult(heatmap, probability, target)


def image_to_input(image: np.ndarray, size: int, fit: str = "squash") -> tuple[torch.Tensor, tuple]:
    """A native-size uint8 image as the model's (1, 1, size, size) [0, 1] input, and how it was placed."""
    from PIL import Image

    h, w = image.shape
    if fit == "letterbox":
        side = max(h, w)
        canvas = np.zeros((side, side), dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        canvas[top:top + h, left:left + w] = image
        placement = (top, left, side)
        image = canvas
    else:
        placement = None
    resized = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
    return torch.from_numpy(resized)[None, None], placement


def heatmap_at_image_size(heatmap: np.ndarray, shape: tuple[int, int], placement) -> np.ndarray:
    """Map a model-size heatmap back onto the native image (undoing squash or letterbox)."""
    from PIL import Image

    h, w = shape
    side = placement[2] if placement else None
    target = (side, side) if side else (w, h)
    big = np.asarray(Image.fromarray(heatmap.astype(np.float32)).resize(target, Image.BILINEAR))
    if placement:
        top, left, _ = placement
        big = big[top:top + h, left:left + w]
    return np.clip(big, 0.0, 1.0)


def explain_image(model: nn.Module, image: np.ndarray, size: int, fit: str = "squash",
                  target: int | None = None) -> CamResult:
    """Grad-CAM of a native-size uint8 X-ray; the heatmap comes back at the image's size."""
    x, placement = image_to_input(image, size, fit)
    result = grad_cam(model, x, target)
    result.heatmap = heatmap_at_image_size(result.heatmap, image.shape, placement)
    return result
