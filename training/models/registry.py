"""Models by name. A builder takes the image side in pixels and keyword options
from the recipe, and returns a module mapping (B, 1, S, S) in [0, 1] to (B,) logits
(positive = PNEUMONIA)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch.nn as nn

from training.models.equalize import attach_equalization


@dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Callable[..., nn.Module]
    summary: str
    study: bool  # one of the four models of the reproduced study


MODELS: dict[str, ModelInfo] = {}


def register(name: str, summary: str, study: bool = False):
    def decorate(builder):
        MODELS[name] = ModelInfo(name, builder, summary, study)
        return builder

    return decorate


def model_names() -> list[str]:
    return list(MODELS)


def model_info(name: str) -> ModelInfo:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, image_size: int = 200, /, *, equalize: bool = False, **options) -> nn.Module:
    """``options`` may be a whole recipe: only the keys the builder takes are passed.

    ``equalize``: histogram-equalize each input image first (``training.models.equalize``), for any model.
    """
    builder = model_info(name).builder
    accepted = set(inspect.signature(builder).parameters) - {"image_size"}
    model = builder(image_size, **{k: v for k, v in options.items() if k in accepted})
    if equalize:
        attach_equalization(model)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
