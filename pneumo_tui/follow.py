"""Follow one run folder while its trainer writes it: series grow, nothing is re-read.

Pure Python (no Textual) so the app's screens stay thin and this is easy to test.
``RunFollower.poll()`` reads only the bytes appended to ``events.jsonl`` since
the last call (via ``training.run.events.EventFollower``), folds the new events into
per-step and per-epoch series, and re-derives the run's status from the last
lifecycle event plus the lock holder, so a trainer that died shows as stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from training.run.events import EventFollower
from training.run.lock import read_holder
from training.run.store import RunPaths, RunSummary, load_config, run_status

# The per-epoch series the charts draw, in the order of the epoch event.
EPOCH_METRICS = (
    "train_loss",
    "val_loss",
    "train_accuracy",
    "val_accuracy",
    "val_sensitivity",
    "val_specificity",
    "val_auc",
)

_LIFECYCLE = ("run_started", "run_resumed", "run_finished", "run_failed")


@dataclass
class Progress:
    """Where a run stands, derived from events only (no clock, so it is reproducible)."""

    epoch: int = 0
    epochs: int | None = None
    step: int = 0
    steps_per_epoch: int | None = None
    images_per_s: float | None = None
    lr: float | None = None
    device: str | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None

    @property
    def epoch_fraction(self) -> float:
        if not self.steps_per_epoch:
            return 0.0
        return min(1.0, self.step / self.steps_per_epoch)

    @property
    def run_fraction(self) -> float:
        if not self.epochs:
            return 0.0
        done = max(0, self.epoch - 1) + self.epoch_fraction
        return min(1.0, done / self.epochs)


@dataclass
class RunSeries:
    """What has been read of a run so far."""

    step_x: list[int] = field(default_factory=list)  # global step
    step_loss: list[float] = field(default_factory=list)
    epochs: dict[int, dict] = field(default_factory=dict)  # epoch -> its latest epoch event
    best_epoch: int | None = None
    best_metric: str | None = None
    evals: dict[str, dict] = field(default_factory=dict)  # split -> eval event
    started: dict = field(default_factory=dict)
    lifecycle: dict | None = None  # the last run_started/resumed/finished/failed
    last_step: dict | None = None
    last_time: float | None = None
    first_time: float | None = None

    def epoch_series(self, metric: str) -> tuple[list[int], list[float]]:
        xs, ys = [], []
        for epoch in sorted(self.epochs):
            value = self.epochs[epoch].get(metric)
            if isinstance(value, (int, float)):
                xs.append(epoch)
                ys.append(float(value))
        return xs, ys


class RunFollower:
    """Incrementally follows ``run_dir/events.jsonl``.

    ``poll()`` returns True when anything changed (new events or a new status),
    so callers redraw only then. ``version`` counts those changes.
    """

    # Steps kept for the rate/ETA estimate: enough to smooth jitter, recent enough to track speed changes.
    RATE_WINDOW = 20

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)
        self.series = RunSeries()
        self.status = "stale"
        self.version = 0
        self.config: dict = {}
        self._events = EventFollower(self.paths.events)
        self._recent_steps: list[tuple[float, int]] = []  # (time, global step)
        self._best_checkpoint: dict | None = None

    @property
    def run_id(self) -> str:
        return self.config.get("run_id") or self.series.started.get("run_id") or self.run_dir.name

    @property
    def model(self) -> str:
        return self.config.get("model") or self.series.started.get("model") or "?"

    @property
    def pid(self) -> int | None:
        """The live trainer's pid, from the lock file (what Stop signals)."""
        holder = read_holder(self.paths.lock)
        return holder.pid if holder else None

    def log_size(self) -> int:
        """Bytes of ``events.jsonl`` not read yet."""
        try:
            return max(0, self.paths.events.stat().st_size - self._events.offset)
        except OSError:
            return 0

    def poll(self) -> bool:
        if not self.config:
            self.config = load_config(self.run_dir)
        events = self._events.poll()
        for event in events:
            self._apply(event)
        status = run_status(self.run_dir, [self.series.lifecycle] if self.series.lifecycle else [])
        changed = bool(events) or status != self.status
        self.status = status
        if changed:
            self.version += 1
        return changed

    def _apply(self, event: dict) -> None:
        s = self.series
        kind = event.get("event")
        t = event.get("time")
        if isinstance(t, (int, float)):
            s.first_time = t if s.first_time is None else s.first_time
            s.last_time = t
        if kind in _LIFECYCLE:
            s.lifecycle = event
        if kind == "run_started":
            s.started = event
        elif kind == "step":
            self._apply_step(event)
        elif kind == "epoch" and isinstance(event.get("epoch"), int):
            s.epochs[event["epoch"]] = event
        elif kind == "checkpoint" and event.get("kind") == "best":
            s.best_epoch = event.get("epoch")
            s.best_metric = event.get("metric")
            self._best_checkpoint = event
        elif kind == "eval" and event.get("split"):
            s.evals[event["split"]] = event
        elif kind == "run_finished" and event.get("best_epoch") is not None:
            s.best_epoch = event["best_epoch"]
        elif kind == "run_resumed":
            self._recent_steps.clear()  # the pause between sessions is not training speed

    def _apply_step(self, event: dict) -> None:
        s = self.series
        gs, loss = event.get("global_step"), event.get("loss")
        if not isinstance(gs, int) or not isinstance(loss, (int, float)):
            return
        # A resumed run repeats the steps after its last checkpoint: drop the overwritten tail.
        while s.step_x and s.step_x[-1] >= gs:
            s.step_x.pop()
            s.step_loss.pop()
        s.step_x.append(gs)
        s.step_loss.append(float(loss))
        s.last_step = event
        if isinstance(event.get("time"), (int, float)):
            self._recent_steps.append((event["time"], gs))
            del self._recent_steps[: -self.RATE_WINDOW]

    def summary(self) -> RunSummary:
        """What ``training.run.store.summarize_run`` says, from the series already read (no re-read)."""
        s = self.series
        best_ckpt = self._best_checkpoint or {}
        best_epoch = best_ckpt.get("epoch")
        test = s.evals.get("test", {})
        return RunSummary(
            path=self.run_dir,
            run_id=self.run_dir.name,
            status=self.status,
            model=self.model,
            epochs_done=len(s.epochs),
            epochs_planned=self.config.get("recipe", {}).get("epochs") or s.started.get("epochs"),
            best_metric=best_ckpt.get("metric"),
            best_value=best_ckpt.get("value"),
            best_epoch=best_epoch,
            val_auc=s.epochs.get(best_epoch, {}).get("val_auc") if best_epoch is not None else None,
            test={k: test[k] for k in ("accuracy", "sensitivity", "specificity", "auc") if k in test},
            started=s.started.get("time"),
            synthetic=bool(self.config.get("data", {}).get("synthetic", False)),
        )

    def progress(self) -> Progress:
        s = self.series
        started = s.started
        epochs = self.config.get("recipe", {}).get("epochs") or started.get("epochs")
        p = Progress(epochs=epochs, steps_per_epoch=started.get("steps_per_epoch"), device=started.get("device"))
        last_epoch = max(s.epochs) if s.epochs else 0
        if s.last_step and s.last_step.get("epoch", 0) > last_epoch:
            p.epoch, p.step = s.last_step.get("epoch", 0), s.last_step.get("step", 0)
        else:
            p.epoch, p.step = last_epoch, p.steps_per_epoch or 0
        if s.last_step:
            p.images_per_s = s.last_step.get("images_per_s")
            p.lr = s.last_step.get("lr")
        if s.epochs and (p.lr is None):
            p.lr = s.epochs[last_epoch].get("lr")
        if s.first_time is not None and s.last_time is not None:
            p.elapsed_s = s.last_time - s.first_time
        p.eta_s = self._eta(p)
        return p

    def _eta(self, p: Progress) -> float | None:
        if self.status != "running" or not p.epochs or not p.steps_per_epoch or len(self._recent_steps) < 2:
            return None
        (t0, g0), (t1, g1) = self._recent_steps[0], self._recent_steps[-1]
        if g1 <= g0 or t1 <= t0:
            return None
        seconds_per_step = (t1 - t0) / (g1 - g0)
        remaining = p.epochs * p.steps_per_epoch - ((p.epoch - 1) * p.steps_per_epoch + p.step)
        return max(0.0, remaining * seconds_per_step)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
