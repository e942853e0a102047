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
from training.run.checkpoints import FORMAT, WEIGHTS_KEYS, file_digest
from training.run.paths import RunPaths
from training.run.state import read_run
from training.run.store import load_config


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


def load_checkpoint(path: Path, map_location="cpu", sha256: str | None = None,
                    needs: tuple[str, ...] = WEIGHTS_KEYS) -> dict:
    """The checkpoint at ``path`` as plain data, with ``needs`` present and checked; ``sha256``: the digest its
    checkpoint event recorded, checked before anything is read from the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}" + (" (a folder is there)" if path.is_dir() else ""))
    if sha256 is not None and file_digest(path) != sha256:
        raise CheckpointError(f"{path} is not the file its run wrote (its SHA-256 differs from the one recorded "
                              "when it was saved: damaged or replaced); it is not loaded")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot read checkpoint {path}: not a PyTorch checkpoint (not the zip archive "
                              "torch.save writes)")
    return _checked(path, _load(path, map_location), needs)


def _checked(path: Path, checkpoint, needs: tuple[str, ...]) -> dict:
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint (a dict of the model's "
                              "weights and the training state)")
    missing = [key for key in needs if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint pneumo train wrote: it lacks {', '.join(missing)}")
    weights = checkpoint.get("model")
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{path}: its 'model' is not a state dict of tensors")
    return checkpoint


def _load(path: Path, map_location):
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


def load_run_checkpoint(run_dir: Path, which: str = "best", needs: tuple[str, ...] = WEIGHTS_KEYS,
                        map_location="cpu") -> dict:
    """``checkpoints/<which>.pt`` of a run, checked against the SHA-256 its run recorded for it (older runs
    recorded none, and are read unchecked)."""
    paths = RunPaths(Path(run_dir))
    event = read_run(run_dir).state.checkpoints.get(which, {})
    return load_checkpoint(paths.checkpoint(which), map_location, sha256=event.get("sha256"), needs=needs)


def load_model_from_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu"):
    """The run's model with its ``best`` (or ``last``) weights, in eval mode, and the run's config.

    Returns ``(model, config)``; ``config["recipe"]["image_size"]`` and
    ``["fit"]`` say how images must be prepared for it.
    """
    from training.models import build_model

    run_dir = Path(run_dir)
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', not {which!r}")
    checkpoint = load_run_checkpoint(run_dir, which)
    config = load_config(run_dir)
    recipe = config.get("recipe") if isinstance(config.get("recipe"), dict) else checkpoint.get("recipe", {})
    name = config.get("model") or checkpoint.get("model_name")
    if not isinstance(recipe, dict) or not isinstance(name, str):
        raise CheckpointError(f"{run_dir.name}: neither its config.json nor its checkpoint names the model")
    size = recipe.get("image_size", 200)
    # The weights come from the checkpoint: never look for pretrained ones again.
    model = build_model(name, size, **{**recipe, "pretrained": False})
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:  # missing or unexpected keys, tensors of the wrong shape
        raise CheckpointError(f"{RunPaths(run_dir).checkpoint(which)}: its weights do not fit model {name} at "
                              f"{size} px ({one_line(exc)[:200]})") from None
    return model.to(device).eval(), config
