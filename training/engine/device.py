"""Where training runs and how: device choice, mixed precision, memory layout, seeding."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class DeviceSetup:
    device: torch.device
    amp: bool  # bfloat16 autocast (CUDA only)
    channels_last: bool

    @property
    def name(self) -> str:
        if self.device.type == "cuda":
            return f"cuda:{self.device.index or 0} ({torch.cuda.get_device_name(self.device)})"
        return self.device.type

    def autocast(self):
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_batch(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` ("cuda", "cuda:1", "mps", "cpu") or the best available."""
    if requested and requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_setup(requested: str | None = None, amp: bool = True, channels_last: bool = True) -> DeviceSetup:
    device = pick_device(requested)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    use_amp = amp and device.type == "cuda" and torch.cuda.is_bf16_supported()
    # channels_last is faster for convolutions on CUDA and a little on CPU; MPS gains nothing.
    return DeviceSetup(device, use_amp, channels_last and device.type in ("cuda", "cpu"))


def seed_everything(seed: int, deterministic_cpu: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic_cpu and not torch.cuda.is_available():
        # Cheap on CPU, where nearly every kernel is deterministic already.
        torch.use_deterministic_algorithms(True, warn_only=True)


def rng_state() -> dict:
    """The global RNG states, as tensors and plain data (safe for weights_only loading)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
