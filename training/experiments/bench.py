"""Throughput on this machine: how fast each model trains and infers, and what
the input pipeline costs.

Two measurements, each side by side in one process (these machines are noisy,
so ratios mean more than absolute figures):

- ``bench_models``: train and inference images/s per model on random tensors
  already on the device: the compute limit.
- ``bench_pipeline``: one model trained from (a) random tensors on the device,
  (b) the uint8 preprocessing cache, as the trainer reads it, and (c) JPEGs
  decoded and resized for every batch, the way a plain image-folder loader
  works. Every mode runs the same augmentation and optimiser step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from training.engine.augment import BatchAugment
from training.engine.device import DeviceSetup, device_setup
from training.engine.recipes import load_recipe
from training.models import build_model, count_parameters

Feed = Iterator[tuple[torch.Tensor, torch.Tensor]]  # (B, 1, S, S) float in [0, 1], (B,) labels


@dataclass
class BenchResult:
    model: str
    mode: str  # "train" | "infer"
    input: str  # "random" (tensors on the device) | "cache" | "decode"
    image_size: int
    batch_size: int
    images_per_s: float
    steps: int
    device: str
    parameters: int
    amp: bool
    channels_last: bool

    def to_json(self) -> dict:
        return asdict(self)


def bench_models(models: list[str], image_size: int = 200, batch_size: int = 32, steps: int = 10,
                 warmup: int = 2, device: str | None = None, overrides: list[str] | None = None) -> list[BenchResult]:
    """Train and inference images/s of each model on random tensors (the compute limit).

    ``overrides`` are recipe settings such as ``amp=false`` or ``channels_last=false``."""
    results = []
    for name in models:
        setup, model, step = _training_step(name, image_size, device, overrides)
        feed = random_feed(batch_size, image_size, setup)
        results.append(_result(name, "train", "random", image_size, batch_size, steps, setup, model,
                               _images_per_s(step, feed, steps, warmup, setup)))
        results.append(_result(name, "infer", "random", image_size, batch_size, steps, setup, model,
                               _images_per_s(_inference_step(model, setup), feed, steps, warmup, setup)))
    return results


def bench_pipeline(model_name: str, data: Path, image_size: int = 200, batch_size: int = 32, steps: int = 10,
                   warmup: int = 2, device: str | None = None, workers: int | None = None,
                   overrides: list[str] | None = None) -> list[BenchResult]:
    """Training images/s of one model fed from random tensors, the cache, and JPEG decoding."""
    from training.data.cache import cached_images
    from training.data.sources import open_source

    source = open_source(data)
    records = [r for r in source.records() if r.split == "train"] or source.records()
    cached = cached_images(source, records, size=image_size)  # built (or found) before timing
    setup, model, step = _training_step(model_name, image_size, device, overrides)
    feeds: dict[str, Callable[[], Feed]] = {
        "random": lambda: random_feed(batch_size, image_size, setup),
        "cache": lambda: cache_feed(cached.images, cached.records, batch_size, setup),
        "decode": lambda: decode_feed(source, cached.records, image_size, batch_size, setup, workers),
    }
    return [
        _result(model_name, "train", mode, image_size, batch_size, steps, setup, model,
                _images_per_s(step, make(), steps, warmup, setup))
        for mode, make in feeds.items()
    ]


# --------------------------------------------------------------------------- feeds


def random_feed(batch_size: int, image_size: int, setup: DeviceSetup) -> Feed:
    images = torch.rand(batch_size, 1, image_size, image_size, device=setup.device)
    labels = (torch.arange(batch_size, device=setup.device) % 2).float()
    while True:
        yield images, labels


def cache_feed(images: np.ndarray, records, batch_size: int, setup: DeviceSetup) -> Feed:
    from training.data.arrays import BatchLoader, SplitData

    loader = BatchLoader(SplitData(list(records), images), batch_size, setup.device, shuffle=True)
    epoch = 0
    while True:
        for batch in loader.batches(epoch):
            yield batch.images, batch.labels
        epoch += 1


def decode_feed(source, records, image_size: int, batch_size: int, setup: DeviceSetup,
                workers: int | None = None) -> Feed:
    """A torch DataLoader that decodes and resizes every image on every pass (worker processes)."""
    import os

    from torch.utils.data import DataLoader, Dataset

    from training.data.decode import resize

    class DecodingDataset(Dataset):
        def __len__(self):
            return len(records)

        def __getitem__(self, i):
            r = records[i]
            pixels = np.array(resize(source.load(r), image_size))  # writable copy for torch
            return torch.from_numpy(pixels).unsqueeze(0), float(r.label)

    workers = os.cpu_count() if workers is None else workers
    loader = DataLoader(DecodingDataset(), batch_size=batch_size, shuffle=True, num_workers=workers,
                        drop_last=True, persistent_workers=workers > 0, pin_memory=setup.device.type == "cuda")
    while True:
        for pixels, labels in loader:
            yield (pixels.to(setup.device, non_blocking=True).float().div_(255.0),
                   labels.to(setup.device, non_blocking=True).float())


# --------------------------------------------------------------------------- timing


def _training_step(name: str, image_size: int, device: str | None, overrides: list[str] | None = None):
    """The trainer's step (augment, forward under autocast, weighted BCE, backward, update)."""
    from training.engine.optim import build_optimizer
    from training.engine.trainer import weighted_bce

    recipe = load_recipe(name, list(overrides or []) + [f"image_size={image_size}"])
    setup = device_setup(device, recipe.amp, recipe.channels_last)
    torch.manual_seed(0)
    model = setup.prepare_model(build_model(name, image_size, **recipe.to_dict()))
    optimizer = build_optimizer(model, recipe)
    augment = BatchAugment.from_recipe(recipe)
    weights = torch.ones(2, device=setup.device)

    def step(images: torch.Tensor, labels: torch.Tensor) -> None:
        model.train()
        with setup.autocast():
            logits = model(setup.prepare_batch(augment(images))).float()
        loss = weighted_bce(logits, labels, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return setup, model, step


def _inference_step(model: torch.nn.Module, setup: DeviceSetup):
    @torch.inference_mode()
    def step(images: torch.Tensor, labels: torch.Tensor) -> None:
        model.eval()
        with setup.autocast():
            model(setup.prepare_batch(images))

    return step


def _images_per_s(step, feed: Feed, steps: int, warmup: int, setup: DeviceSetup) -> float:
    for _ in range(warmup):
        step(*next(feed))
    _sync(setup)
    seen, start = 0, time.perf_counter()
    for _ in range(steps):
        images, labels = next(feed)
        step(images, labels)
        seen += len(labels)
    _sync(setup)
    return seen / (time.perf_counter() - start)


def _sync(setup: DeviceSetup) -> None:
    if setup.device.type == "cuda":
        torch.cuda.synchronize(setup.device)


def _result(model_name, mode, input, image_size, batch_size, steps, setup, model, ips) -> BenchResult:
    return BenchResult(model_name, mode, input, image_size, batch_size, round(ips, 2), steps, setup.name,
                       count_parameters(model), setup.amp, setup.channels_last)
