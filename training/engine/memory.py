"""Will a training fit the machine? The memory one step needs, measured on one image before any run exists.

A forward pass of two images at the recipe's size, in training mode, counts the
bytes autograd keeps for the backward pass; a step needs that per image of the
batch, plus the weights, their gradients and the optimizer's two moments. A
recipe that needs more than the device has free is refused with the figures,
instead of dying with an out-of-memory error minutes later (or taking a shared
server's memory from everyone else).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from training.core.errors import PneumoError


class DoesNotFit(PneumoError):
    """The recipe's image size and batch need more memory than the device has free."""


@dataclass(frozen=True)
class StepMemory:
    per_image: int  # bytes of activations kept for the backward pass, per image
    fixed: int  # weights, gradients, optimizer state

    def for_batch(self, batch_size: int) -> int:
        return self.per_image * batch_size + self.fixed


def step_memory(model: torch.nn.Module, image_size: int, half_precision: bool = False) -> StepMemory:
    """Measure a CPU copy of ``model`` on two images of ``image_size`` (the sizes are any device's too).

    The model itself is not touched (its BatchNorm statistics stay as they are) and the random number
    generators are left where they were, so a measured run trains exactly as an unmeasured one.
    ``half_precision``: activations are kept in 16 bits (bfloat16 autocast), half the bytes.
    """
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    probe = copy.deepcopy(model).to("cpu").train()
    with torch.random.fork_rng(devices=[]), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        probe(torch.rand(2, 1, image_size, image_size))  # two: BatchNorm cannot train on one value per channel
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    per_image = sum(saved.values()) // 2 // (2 if half_precision else 1)
    return StepMemory(per_image=per_image, fixed=4 * params)


def free_memory(device: torch.device) -> int | None:
    """Bytes free for tensors on ``device`` (None where it cannot be told)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
    return None


def check_fits(model: torch.nn.Module, image_size: int, batch_size: int, device: torch.device,
               half_precision: bool = False) -> StepMemory | None:
    """``DoesNotFit`` with the figures when a training step would need more memory than ``device`` has free."""
    free = free_memory(device)
    if free is None:
        return None
    need = step_memory(model, image_size, half_precision)
    total = need.for_batch(batch_size)
    if total > free:
        per_image_mb = need.per_image / 1e6
        raise DoesNotFit(f"at image_size {image_size} and batch_size {batch_size} a training step needs about "
                         f"{total / 1e9:.1f} GB of {device.type} memory ({per_image_mb:,.0f} MB per image, "
                         f"{need.fixed / 1e9:.2f} GB for the weights and optimizer) and {free / 1e9:.1f} GB are free: "
                         "lower image_size or batch_size")
    return need
