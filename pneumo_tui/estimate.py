"""How long a training will take, before it starts: from throughput measured on this machine.

Two sources, the first that applies wins, and the estimate says which it used:

- a timing of a few training steps made here (``time_steps``: ``pneumo bench``
  in a child process, on random tensors of the run's size);
- the images/s that earlier runs of the same model recorded in their epoch
  events (``recorded_throughput``), scaled by the pixels per image when their
  image size differs.

Only the training steps are estimated; validation each epoch and the final
test evaluation come on top (a few percent for the recipes shipped).
Nothing here imports torch.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from training.run.state import read_run
from training.run.store import run_dirs


@dataclass(frozen=True)
class Throughput:
    """Training images per second, and where the figure comes from (said beside the estimate)."""

    images_per_s: float
    basis: str


def device_kind(device: str | None) -> str | None:
    """``cuda`` for ``cuda:0 (NVIDIA H200)``, ``cpu`` for ``cpu``; None for none (the best available)."""
    if not device or device == "auto":
        return None
    return device.split(":")[0].split()[0].strip().lower()


def recorded_throughput(runs_dir: Path, model: str, image_size: int, device: str | None = None) -> Throughput | None:
    """The median training images/s of the latest run of ``model`` on the same kind of device, from its epoch
    events; a run at another image size is scaled by the pixels per image (an approximation, said so)."""
    candidates = []
    for path in run_dirs(Path(runs_dir)):
        run = read_run(path)
        if run.model != model:
            continue
        speeds = [e["images_per_s"] for e in run.state.epochs.values()
                  if isinstance(e.get("images_per_s"), (int, float)) and e["images_per_s"] > 0]
        size = run.state.started.get("image_size") or (run.config.get("recipe") or {}).get("image_size")
        ran_on = run.state.started.get("device") or run.config.get("device")
        if not speeds or not isinstance(size, int) or size <= 0:
            continue
        kind = device_kind(ran_on)
        if device_kind(device) is not None and kind != device_kind(device):
            continue
        started = run.state.started.get("time") or 0
        candidates.append((size == image_size, started, run.run_id, statistics.median(speeds), size, kind))
    if not candidates:
        return None
    _, _, run_id, speed, size, kind = max(candidates)
    scaled = speed * (size / image_size) ** 2
    how = f"{size} px" if size == image_size else f"{size} px scaled to {image_size} px"
    return Throughput(scaled, f"run {run_id} ({how}, {kind or '?'})")


def train_images(data: Path, runs_dir: Path, val_fraction: float = 0.1) -> tuple[int, str] | None:
    """How many images an epoch trains on, and how it is known: the n_train of a run on the same data, else the
    data's train images counted, less the validation share a carved split takes."""
    data = Path(data)
    for path in reversed(run_dirs(Path(runs_dir))):
        run = read_run(path)
        info = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
        n = run.state.started.get("n_train")
        if isinstance(n, int) and info.get("path") and Path(info["path"]) == data:
            return n, "as in run " + run.run_id
    try:
        from training.data.sources import open_source

        records = open_source(data).records()
    except Exception:  # an unreadable dataset: no estimate, the start will say why
        return None
    if not records:
        return None
    train = sum(r.split in ("train", "val") for r in records) or len(records)
    return max(1, round(train * (1 - val_fraction))), "counted"


def estimate_seconds(epochs: int, n_train: int, throughput: Throughput) -> float:
    """Seconds of training steps: every epoch's images at the measured rate."""
    return epochs * n_train / max(throughput.images_per_s, 1e-9)


# The recipe keys that change what a training step costs besides the model, size and batch (passed to the bench).
STEP_KEYS = ("rotation", "zoom", "width_shift", "height_shift", "hflip", "gamma", "contrast", "brightness",
             "equalize", "amp", "channels_last")


def time_steps(model: str, image_size: int, batch_size: int, device: str | None = None, steps: int = 5,
               settings: dict[str, str] | None = None, timeout: float = 300.0) -> Throughput:
    """Time ``steps`` training steps of ``model`` here: ``pneumo bench --json`` in a child process (random tensors
    on the device, after 2 warm-up steps), so that the app never loads torch. The compute limit: slightly above
    what a run with its data loading reaches. ``settings``: recipe keys (STEP_KEYS) as the run will have them, so
    that the timed step augments as the run's does. Raises RuntimeError in one line when the timing fails."""
    import json
    import subprocess

    from .launch import pneumo_command

    command = pneumo_command() + ["bench", "--model", model, "--image-size", str(image_size), "--batch-size",
                                  str(batch_size), "--steps", str(steps), "--json"]
    if device:
        command += ["--device", device]
    for key, value in (settings or {}).items():
        command += ["--set", f"{key}={value}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"pneumo bench took over {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"pneumo bench exited {done.returncode}: {last}")
    train = next(r for r in json.loads(done.stdout) if r["mode"] == "train")
    return Throughput(train["images_per_s"], f"{steps} steps timed here by pneumo bench ({train['device']})")
