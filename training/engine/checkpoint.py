"""Checkpoints: written atomically, read back only as tensors and plain data.

A checkpoint is a dict of state dicts, tensors, numbers and strings. Loading
uses ``torch.load(weights_only=True)``, which refuses any pickled object
(a file that could run code when opened); that refusal becomes a one-line
``CheckpointRefused``.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from pathlib import Path

import torch

from training.core.errors import PneumoError, one_line
from training.core.fileio import atomic_write_bytes
from training.run.paths import RunPaths
from training.run.store import load_config

FORMAT = 1


class CheckpointError(PneumoError):
    """A checkpoint that is missing or cannot be read."""


class CheckpointRefused(CheckpointError):
    """A checkpoint holding objects other than tensors and plain data: not loaded."""


def encode_checkpoint(state: dict) -> bytes:
    """The bytes of a checkpoint holding ``state`` (what ``RunLog.save_checkpoint`` writes)."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    return buffer.getvalue()


def save_checkpoint(path: Path, state: dict) -> None:
    """Temp file, fsync, rename: a reader or a crash never sees half a checkpoint."""
    atomic_write_bytes(Path(path), encode_checkpoint(state))


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}" + (" (a folder is there)" if path.is_dir() else ""))
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot read checkpoint {path}: not a PyTorch checkpoint (not the zip archive "
                              "torch.save writes)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _UNSAFE.search(str(exc))
        if found is None:
            raise CheckpointError(f"cannot read checkpoint {path}: its contents are damaged") from None
        raise CheckpointRefused(
            f"refused to load {path}: it holds a Python object ({found.group(1)[:80]}) besides tensors and plain "
            "data, and an object like that can run code when it is opened; pneumo will not open it"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {one_line(exc)}") from None


# How torch names the object a weights-only load refused (only the name is kept, never torch's advice).
_UNSAFE = re.compile(r"Unsupported global: GLOBAL ([A-Za-z_][\w.]*)")


def load_model_from_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu"):
    """The run's model with its ``best`` (or ``last``) weights, in eval mode, and the run's config.

    Returns ``(model, config)``; ``config["recipe"]["image_size"]`` and
    ``["fit"]`` say how images must be prepared for it.
    """
    from training.models import build_model

    run_dir = Path(run_dir)
    paths = RunPaths(run_dir)
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', not {which!r}")
    checkpoint = load_checkpoint(paths.best_checkpoint if which == "best" else paths.last_checkpoint)
    config = load_config(run_dir)
    recipe = config.get("recipe") or checkpoint.get("recipe", {})
    name = config.get("model") or checkpoint.get("model_name")
    # The weights come from the checkpoint: never look for pretrained ones again.
    model = build_model(name, recipe.get("image_size", 200), **{**recipe, "pretrained": False})
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), config
