"""The training loop: one run, from data to predictions, written as it goes.

    run_dir = train(load_recipe("cnn3"), DataSpec(Path("data/chest_xray")))
    run_dir = resume_run(run_dir)            # after a kill or a Ctrl-C

A run folder grows while training (see training.run.store): config.json first,
then events.jsonl one line per step / epoch / checkpoint, checkpoints/last.pt
after every epoch and best.pt whenever the recipe's validation metric
improves. After the last epoch the best checkpoint predicts val, the recipe's
``threshold`` rule picks the operating point on those predictions
(threshold.json), and only then are the test images read, once: their
probabilities go to predictions.csv and an ``eval`` event at that threshold
(with the figures at 0.5 beside them in ``at_0_5``).

Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes last.pt and ends
with run_finished(reason="interrupted"); ``resume_run`` continues from that
exact step. A SIGKILL loses at most the epoch in progress.
"""

from __future__ import annotations

import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training.core.errors import PneumoError, one_line
from training.core.tasks import DEFAULT_TASK
from training.data.arrays import BatchLoader, DataSpec, PreparedData, SplitData, prepare_data
from training.engine import distributed
from training.engine.augment import BatchAugment
from training.engine.checkpoint import CheckpointError, encode_checkpoint, load_checkpoint, load_run_checkpoint
from training.engine.device import DeviceSetup, device_setup, restore_rng_state, rng_state, seed_everything
from training.engine.gpu_monitor import GpuMonitor
from training.engine.inference import predict_split
from training.engine.memory import check_fits
from training.engine.optim import EarlyStopping, LRSchedule, build_optimizer
from training.engine.recipes import Recipe, recipe_from_dict
from training.engine.tta import predict_views
from training.metrics.binary import binary_metrics
from training.metrics.thresholds import DEFAULT_THRESHOLD, choose_threshold, rule_stability
from training.models import build_model, count_parameters
from training.run.checkpoints import RESUME_KEYS
from training.run.events import EventLogError
from training.run.lock import RunLocked, holder_alive, read_holder
from training.run.operating_point import load_threshold, save_threshold
from training.run.paths import DEFAULT_RUNS_DIR, RunPaths
from training.run.schema import EPOCH_METRICS, HEADLINE, TRAIN_ACCURACY, TRAIN_LOSS, VAL_LOSS, is_better
from training.run.state import read_run
from training.run.store import load_config, new_run_dir, resolve_run
from training.run.writer import RunLog, SilentLog

# Seconds to sleep after every step: lets tests (and demos of the live view) catch a run mid-epoch.
STEP_DELAY_ENV = "PNEUMO_STEP_DELAY"

EventCallback = Callable[[dict], None]


class TrainingFailed(PneumoError):
    """The run stopped on an error; the message is one line, the run says run_failed."""


class AlreadyFinished(PneumoError):
    """``resume_run`` on a run that completed or stopped early."""


# --------------------------------------------------------------------------- entry points


def train(
    recipe: Recipe,
    data: DataSpec | PreparedData,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    *,
    on_event: EventCallback | None = None,
    device: str | None = None,
    command: str | None = None,
) -> Path:
    """Train a new run of ``recipe`` and return its folder.

    ``data`` is where the images are (``DataSpec``) or arrays already loaded
    (``PreparedData``). ``on_event`` sees every event as it is written, plus
    ``data_progress`` events (not logged) while the cache is being built.
    Raises DataError before any run folder exists when the data is unusable,
    TrainingFailed (after logging run_failed) when training itself fails.
    """
    ctx = distributed.init_distributed()
    try:
        setup = device_setup(device or ctx.device(), recipe.amp, recipe.channels_last)
        data = _load_data(recipe, data, ctx, on_event)
        state = new_state(recipe, data, setup, ctx)
        check_fits(state.model, recipe.image_size, recipe.batch_size, setup.device, setup.amp)  # before any run folder
        name = recipe.name or recipe.model  # runs are named by recipe: `best` and `resnet_small` apart
        run_dir = distributed.broadcast(str(new_run_dir(runs_dir, name)) if ctx.is_main else None, ctx)
        config = run_config(Path(run_dir), recipe, data, setup, ctx, command)
        return _run(Path(run_dir), state, data, setup, ctx, on_event, config=config)
    finally:
        distributed.shutdown(ctx)


def resume_run(
    run: str | Path,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    *,
    data: DataSpec | PreparedData | None = None,
    on_event: EventCallback | None = None,
    device: str | None = None,
) -> Path:
    """Continue a stopped run from ``checkpoints/last.pt`` until its recipe's last epoch.

    The data comes from the run's config.json unless ``data`` is given.
    """
    ctx = distributed.init_distributed()
    try:
        run_dir = resolve_run(run, runs_dir)
        _refuse_if_locked(run_dir)  # early, before minutes of data loading; _run takes the lock for real
        config = load_config(run_dir)
        if not config:
            raise TrainingFailed(f"{RunPaths(run_dir).config} is missing or unreadable: "
                                 "not a run this trainer can resume")
        _refuse_if_finished(run_dir)
        recipe = recipe_from_dict(config["recipe"], source=str(RunPaths(run_dir).config))
        if data is None:
            info = config.get("data", {})
            if not info.get("path"):
                raise TrainingFailed(f"{run_dir} was trained on in-memory arrays; pass the data to resume it")
            data = DataSpec(Path(info["path"]), Path(info["test_path"]) if info.get("test_path") else None,
                            use_test=info.get("use_test", True))
        setup = device_setup(device or ctx.device(), recipe.amp, recipe.channels_last)
        data = _load_data(recipe, data, ctx, on_event)
        last = RunPaths(run_dir).last_checkpoint
        if not last.is_file():
            raise TrainingFailed(f"{run_dir.name} stopped before its first checkpoint; "
                                 f"nothing to resume, train it again")
        state = new_state(recipe, data, setup, ctx)
        restore(state, load_run_checkpoint(run_dir, "last", needs=RESUME_KEYS), last)
        return _run(run_dir, state, data, setup, ctx, on_event, config=None)
    finally:
        distributed.shutdown(ctx)


def _refuse_if_locked(run_dir: Path) -> None:
    holder = read_holder(RunPaths(run_dir).lock)
    if holder is not None and holder_alive(holder, RunPaths(run_dir).lock):
        raise RunLocked(f"run is being written by {holder.describe()} ({RunPaths(run_dir).lock})")


def _refuse_if_finished(run_dir: Path) -> None:
    ended = read_run(run_dir).state.lifecycle or {}
    if ended.get("event") == "run_finished" and ended.get("reason") != "interrupted":
        raise AlreadyFinished(f"{run_dir.name} already finished ({ended.get('reason')}); nothing to resume")


def _load_data(recipe: Recipe, data, ctx, on_event) -> PreparedData:
    if isinstance(data, PreparedData):
        task = data.info.get("task", DEFAULT_TASK)
        if task != recipe.task:  # arrays are labelled for one task: never train another on them silently
            raise ValueError(f"these arrays are labelled for the {task} task, but the recipe's task is {recipe.task}")
        side = data.train.images.shape[1:]
        if tuple(side) != (recipe.image_size, recipe.image_size):
            raise ValueError(f"arrays are {side[0]}x{side[1]} but the recipe's image_size is {recipe.image_size}")
        return data

    def progress(split: str, done: int, total: int) -> None:
        if on_event is not None and ctx.is_main:
            on_event({"event": "data_progress", "split": split, "done": done, "total": total})

    def prepare() -> PreparedData:
        return prepare_data(data, recipe.image_size, recipe.fit, recipe.val_fraction, recipe.split_seed, progress,
                            recipe.val_split, task=recipe.task)

    # Rank 0 builds the cache first, so that ranks never write the same cache files at once.
    prepared = prepare() if ctx.is_main else None
    distributed.barrier(ctx)
    return prepared if ctx.is_main else prepare()


# --------------------------------------------------------------------------- state


@dataclass
class TrainState:
    """Everything a checkpoint must hold to continue a run exactly."""

    recipe: Recipe
    model: torch.nn.Module  # the bare model: state dicts, evaluation
    net: torch.nn.Module  # what the loop calls: the model, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    early_stopping: EarlyStopping
    augment: BatchAugment
    aug_generator: torch.Generator
    class_weights: torch.Tensor  # (2,) loss weight of NORMAL, PNEUMONIA
    epoch: int = 0  # epochs completed
    next_step: int = 0  # steps of epoch + 1 already done (after an interrupt)
    partial: dict = field(default_factory=lambda: _empty_sums())
    global_step: int = 0
    best: dict = field(default_factory=dict)  # metric, value, epoch

    def checkpoint(self) -> dict:
        return {
            "model_name": self.recipe.model,
            "recipe": self.recipe.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "early_stopping": self.early_stopping.state_dict(),
            "rng": rng_state(),
            "aug_rng": self.aug_generator.get_state(),
            "epoch": self.epoch,
            "next_step": self.next_step,
            "partial": dict(self.partial),
            "global_step": self.global_step,
            "best": dict(self.best),
        }

    def restore(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.schedule.load_state_dict(ckpt["schedule"])
        self.early_stopping.load_state_dict(ckpt["early_stopping"])
        restore_rng_state(ckpt["rng"])
        self.aug_generator.set_state(ckpt["aug_rng"])
        self.epoch, self.next_step, self.global_step = ckpt["epoch"], ckpt["next_step"], ckpt["global_step"]
        self.partial, self.best = dict(ckpt["partial"]), dict(ckpt["best"])


def restore(state: TrainState, checkpoint: dict, path: Path) -> None:
    """``state`` as ``checkpoint`` left it, or ``CheckpointError`` saying why the file cannot continue this run."""
    try:
        state.restore(checkpoint)
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:  # a state of another model or recipe
        raise CheckpointError(f"{path}: cannot resume from it, its training state does not fit this run's model "
                              f"and recipe ({one_line(exc, kind=True)[:200]})") from None


def _empty_sums() -> dict:
    return {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


def new_state(recipe: Recipe, data: PreparedData, setup: DeviceSetup, ctx) -> TrainState:
    seed_everything(recipe.seed)
    model = setup.prepare_model(build_model(recipe.model, recipe.image_size, **recipe.to_dict()))
    optimizer = build_optimizer(model, recipe)
    steps = len(train_loader(recipe, data.train, setup, ctx))
    generator = torch.Generator(device=setup.device)
    generator.manual_seed(recipe.seed * 1000 + ctx.rank)  # each rank augments differently
    return TrainState(
        recipe=recipe,
        model=model,
        net=distributed.wrap_model(model, ctx),
        optimizer=optimizer,
        schedule=LRSchedule(optimizer, recipe, steps),
        early_stopping=EarlyStopping(recipe.early_stopping_metric, recipe.early_stopping_patience),
        augment=BatchAugment.from_recipe(recipe),
        aug_generator=generator,
        class_weights=class_weights(data.train, recipe.class_weights).to(setup.device),
        best={"metric": recipe.best_metric, "value": None, "epoch": None},
    )


def class_weights(split: SplitData, how: str) -> torch.Tensor:
    """Keras' "balanced": n / (2 * n_class), so each class weighs half of the loss."""
    counts = np.array(split.class_counts, dtype=np.float64)
    if how != "balanced" or (counts == 0).any():
        return torch.ones(2)
    return torch.tensor(counts.sum() / (2 * counts), dtype=torch.float32)


def train_loader(recipe: Recipe, split: SplitData, setup: DeviceSetup, ctx) -> BatchLoader:
    return BatchLoader(split, recipe.batch_size, setup.device, shuffle=True, seed=recipe.seed, shard=ctx.shard)


# --------------------------------------------------------------------------- the run


def _run(run_dir: Path, state: TrainState, data: PreparedData, setup: DeviceSetup, ctx,
         on_event: EventCallback | None, config: dict | None) -> Path:
    log = RunLog(run_dir, on_event, encode_checkpoint) if ctx.is_main else SilentLog(run_dir)
    with log, StopRequest() as stop:
        if config is not None:
            log.write_config(config)
            log.event("run_started", **run_started_fields(run_dir, state, data, setup, ctx))
        else:
            log.event("run_resumed", epoch=state.epoch + 1, step=state.next_step + 1, pid=os.getpid(),
                      host=socket.gethostname())
        try:
            reason = fit(state, data, setup, ctx, log, stop)
            if reason != "interrupted":
                final_evaluation(state, data, setup, ctx, log)
            log.event("run_finished", reason=reason, best_epoch=state.best.get("epoch"))
        except KeyboardInterrupt:
            _log_failure(log, "stopped at once by a second interrupt; resume from the last epoch", "")
            raise
        except Exception as exc:
            error = one_line(exc, kind=not isinstance(exc, PneumoError))
            _log_failure(log, error, traceback.format_exc())
            raise TrainingFailed(f"{error} (run {run_dir})") from None
    return run_dir


def _log_failure(log: RunLog, error: str, trace: str) -> None:
    """Say run_failed in the log if it can still be written (when the log itself failed, it cannot)."""
    try:
        log.event("run_failed", error=error, traceback=trace)
    except (EventLogError, OSError):
        pass


def fit(state: TrainState, data: PreparedData, setup: DeviceSetup, ctx, log: RunLog, stop: StopRequest) -> str:
    """Epochs until the recipe's last one, early stopping or a stop request; returns the reason."""
    recipe = state.recipe
    loader = train_loader(recipe, data.train, setup, ctx)
    monitor = GpuMonitor(setup.device)  # CUDA memory peaks and utilisation in each epoch event
    for epoch in range(state.epoch + 1, recipe.epochs + 1):
        finished_epoch = train_one_epoch(state, loader, epoch, setup, ctx, log, stop, monitor)
        if not finished_epoch:
            log.save_checkpoint("last", state.checkpoint(), epoch=state.epoch, metric=recipe.best_metric, value=None)
            return "interrupted"
        val = validate(state, data.val, setup)
        if val[VAL_LOSS] is None or not math.isfinite(val[VAL_LOSS]):
            raise TrainingFailed(f"the validation loss became {val[VAL_LOSS]} at epoch {epoch}: the model diverged "
                                 "(try a lower lr); the last good epoch's checkpoint is kept")
        train_stats = _epoch_train_stats(state, ctx)
        state.schedule.after_epoch(val[VAL_LOSS])
        stop_early = state.early_stopping.update(val[recipe.early_stopping_metric])
        improved = state.best["epoch"] is None or is_better(recipe.best_metric, val[recipe.best_metric],
                                                            state.best["value"])
        state.epoch, state.partial = epoch, _empty_sums()
        if improved:
            state.best = {"metric": recipe.best_metric, "value": val[recipe.best_metric], "epoch": epoch}
        log.event("epoch", epoch=epoch, **train_stats, **val, lr=state.schedule.lr, **monitor.epoch_fields())
        # best before last: last.pt records which epoch is best, so best.pt must exist first.
        if improved:
            log.save_checkpoint("best", state.checkpoint(), epoch, recipe.best_metric, val[recipe.best_metric])
        log.save_checkpoint("last", state.checkpoint(), epoch, recipe.best_metric, val[recipe.best_metric])
        log.sync()
        if stop_early:
            return "early_stopping"
        if distributed.any_rank(stop.requested, ctx):
            return "interrupted"
    return "completed"


def train_one_epoch(state: TrainState, loader: BatchLoader, epoch: int, setup: DeviceSetup, ctx,
                    log: RunLog, stop: StopRequest, monitor: GpuMonitor | None = None) -> bool:
    """Train one epoch (or its rest after a resume); False when stopped by a request mid-epoch."""
    state.net.train()
    sums = state.partial
    delay = float(os.environ.get(STEP_DELAY_ENV, "0") or 0)
    tick = time.perf_counter()
    for step, batch in enumerate(loader.batches(epoch, start=state.next_step), start=state.next_step + 1):
        state.schedule.before_step(state.global_step)
        lr = state.schedule.lr
        images = setup.prepare_batch(state.augment(batch.images, state.aug_generator))
        with setup.autocast():
            logits = state.net(images).float()
        loss = weighted_bce(logits, batch.labels, state.class_weights, state.recipe.label_smoothing)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        state.global_step += 1

        n = len(batch.indices)
        correct = ((logits.detach() > 0).float() == batch.labels).sum()
        # One device sync per step, which also makes the step's time below real.
        loss_value, n_correct = torch.stack([loss.detach(), correct.float()]).tolist()
        if not math.isfinite(loss_value):
            raise TrainingFailed(f"the training loss became {loss_value} at epoch {epoch}, step {step}: the model "
                                 "diverged (try a lower lr, or check the data); the last good epoch's checkpoint "
                                 "is kept")
        sums["loss_sum"] += loss_value * n
        sums["correct"] += int(n_correct)
        sums["seen"] += n
        seconds, tick = time.perf_counter() - tick, time.perf_counter()
        sums["seconds"] += seconds
        log.event("step", epoch=epoch, step=step, global_step=state.global_step, loss=loss_value, lr=lr,
                  images_per_s=n * ctx.world_size / max(seconds, 1e-9))
        if monitor is not None:
            monitor.sample()
        if delay:
            time.sleep(delay)
        if distributed.any_rank(stop.requested, ctx) and step < len(loader):
            state.next_step = step
            return False
    state.next_step = 0
    return True


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor,
                 label_smoothing: float = 0.0) -> torch.Tensor:
    targets = labels * (1 - label_smoothing) + 0.5 * label_smoothing
    weights = class_weights[labels.long()]
    return (F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * weights).sum() / weights.sum()


def _epoch_train_stats(state: TrainState, ctx) -> dict:
    sums = state.partial
    totals = distributed.reduce_sum([sums["loss_sum"], sums["correct"], sums["seen"]], ctx)
    loss_sum, correct, seen = totals
    seconds = sums["seconds"]
    return {
        TRAIN_LOSS: loss_sum / max(seen, 1),
        TRAIN_ACCURACY: correct / max(seen, 1),
        "seconds": seconds,
        "images_per_s": seen / max(seconds, 1e-9),
    }


def validate(state: TrainState, split: SplitData, setup: DeviceSetup) -> dict:
    """Validation metrics at threshold 0.5 (every rank computes them the same way)."""
    probabilities, loss = predict_split(state.model, split, setup, state.recipe.eval_batch_size)
    m = binary_metrics(split.labels, probabilities, 0.5)
    return {VAL_LOSS: loss, **{metric.name: m[metric.source] for metric in EPOCH_METRICS if metric.source}}


def final_evaluation(state: TrainState, data: PreparedData, setup: DeviceSetup, ctx, log: RunLog) -> None:
    """The best checkpoint on val, the operating point chosen on val, then test for the first and only time."""
    if not ctx.is_main:
        return
    best = load_checkpoint(log.paths.best_checkpoint)
    state.model.load_state_dict(best["model"])
    val_probabilities = final_probabilities(state, data.val, setup)
    threshold, how = operating_point(state.recipe, data.val.labels, val_probabilities, log.run_dir)
    rows = prediction_rows("val", data.val, val_probabilities)
    evals = [eval_fields("val", data.val.labels, val_probabilities, threshold, how)]
    if state.recipe.tta > 1:  # what the views add, on val: the evidence for (or against) them
        single, _ = predict_split(state.model, data.val, setup, state.recipe.eval_batch_size)
        evals[0]["single_view"] = _headline(binary_metrics(data.val.labels, single, 0.5))
    test = data.test  # the first read of any test image (see PreparedData)
    if test is not None and len(test):
        test_probabilities = final_probabilities(state, test, setup)
        rows += prediction_rows("test", test, test_probabilities)
        evals.append(eval_fields("test", test.labels, test_probabilities, threshold, how))
    log.write_predictions(rows)  # before the eval events: a reader who sees them finds the file
    for metrics in evals:
        log.event("eval", **metrics)


def final_probabilities(state: TrainState, split: SplitData, setup: DeviceSetup) -> np.ndarray:
    if state.recipe.tta > 1:
        return predict_views(state.model, split, setup, state.recipe.tta, state.recipe.eval_batch_size)
    return predict_split(state.model, split, setup, state.recipe.eval_batch_size)[0]


def operating_point(recipe: Recipe, val_labels, val_probabilities, run_dir: Path) -> tuple[float, str]:
    """The recipe's threshold rule applied to val, saved as the run's threshold.json
    (the default 0.5 writes nothing, and keeps a threshold a user already saved)."""
    threshold, how = choose_threshold(recipe.threshold, val_labels, val_probabilities)
    if how == "fixed by the recipe" and threshold == DEFAULT_THRESHOLD:
        saved = load_threshold(run_dir)
        return saved, how if saved == threshold else RunPaths(run_dir).threshold.name
    save_threshold(run_dir, threshold, how, rule=recipe.threshold, n_val=len(val_labels), tta=recipe.tta,
                   **rule_stability(recipe.threshold, val_labels, val_probabilities))
    return threshold, how


def eval_fields(split: str, labels, probabilities, threshold: float, how: str) -> dict:
    """An eval event: the metrics at the run's operating point, plus the headline ones at 0.5."""
    return {"split": split, **binary_metrics(labels, probabilities, threshold), "threshold_how": how,
            "at_0_5": _headline(binary_metrics(labels, probabilities, 0.5))}


def _headline(metrics: dict) -> dict:
    return {k: metrics[k] for k in (*HEADLINE, "threshold")}


def prediction_rows(split_name: str, split: SplitData, probabilities: np.ndarray) -> list[dict]:
    return [
        {
            "id": r.id,
            "path": str(r.path) if r.path else "",
            "split": split_name,
            "label": r.label,
            "probability": f"{p:.6f}",
            "subtype": r.subtype or "",
            "patient": r.patient or "",
        }
        for r, p in zip(split.records, probabilities, strict=True)
    ]


# --------------------------------------------------------------------------- run metadata


def run_started_fields(run_dir: Path, state: TrainState, data: PreparedData, setup: DeviceSetup, ctx) -> dict:
    r = state.recipe
    return {
        "run_id": run_dir.name,
        "model": r.model,
        "recipe": r.name,
        "device": setup.name,
        "epochs": r.epochs,
        "steps_per_epoch": len(train_loader(r, data.train, setup, ctx)),
        "batch_size": r.batch_size,
        "image_size": r.image_size,
        "n_train": len(data.train),
        "n_val": len(data.val),
        "n_test": data.info.get("n_test", 0),  # counted, not loaded: test is read after training
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "amp": setup.amp,
        "synthetic": bool(data.info.get("synthetic")),
        "world_size": ctx.world_size,
        "parameters": count_parameters(state.model),
        "task": r.task,
        **({"left_out": data.info["left_out"], "left_out_note": data.info["left_out_note"]}
           if data.info.get("left_out") else {}),
    }


def run_config(run_dir: Path, recipe: Recipe, data: PreparedData, setup: DeviceSetup, ctx, command) -> dict:
    return {
        "run_id": run_dir.name,
        "model": recipe.model,
        "recipe": recipe.to_dict(),
        "data": data.info,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "command": command if command is not None else " ".join(sys.argv),
        "device": setup.name,
        "world_size": ctx.world_size,
    }


def _versions() -> dict:
    import torchvision

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "torchvision": torchvision.__version__, "numpy": np.__version__}
    try:
        from importlib.metadata import version

        versions["pneumo-tui"] = version("pneumo-tui")
    except Exception:
        pass
    return versions


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# --------------------------------------------------------------------------- stopping


class StopRequest:
    """The first SIGINT / SIGTERM asks the loop to stop after the current step;
    a second one stops at once (KeyboardInterrupt)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("stopping after this step (press Ctrl-C again to stop now)", file=sys.stderr, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
