"""The one fold of a run's event stream: series, progress, status and summary.

    reader = read_run(run_dir)           # the whole log at once: pneumo runs / eval / study / repeat
    reader = RunReader(run_dir)          # or incrementally: the app polls it once a second
    reader.poll()                        # reads only the bytes appended since the last poll

``RunState.apply`` takes events one by one, in file order, and is the only code
that interprets them; every reader of a run (CLI, app, experiments) goes through
it, so they cannot disagree. A resumed run continues from its last checkpoint,
so a ``run_resumed`` event discards what the stopped session logged after that
checkpoint (steps, epoch rows, best-checkpoint claims); when the same epoch or
step is logged again, the later one wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from training.core.errors import one_line
from training.core.tasks import task_of_config
from training.metrics.binary import binary_metrics
from training.run.events import EventFollower
from training.run.lock import holder_alive, lock_held, read_holder
from training.run.meta import RunMeta, read_meta_checked
from training.run.operating_point import OperatingPointError, load_operating_point
from training.run.paths import ARCHIVE_DIR, DEFAULT_RUNS_DIR, RunPaths, archive_dir
from training.run.predictions import read_predictions
from training.run.schema import BEST_VAL_SCORE, HEADLINE, LIFECYCLE
from training.run.settings import run_settings
from training.run.store import read_config, run_dirs


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
class RunSummary:
    """One line of ``pneumo runs``: enough to pick a run, without loading it."""

    path: Path
    run_id: str
    status: str
    model: str  # the architecture
    epochs_done: int
    epochs_planned: int | None
    best_metric: str | None = None
    best_value: float | None = None
    best_epoch: int | None = None
    val_auc: float | None = None  # of the best epoch's row
    test: dict = field(default_factory=dict)  # the headline test figures at the run's saved operating point
    threshold: float | None = None  # that operating point, once the run has test figures
    threshold_how: str | None = None  # where it came from ("youden on val", "manual", ...)
    started: float | None = None
    synthetic: bool = False
    reason: str | None = None  # how it ended: completed, early_stopping, interrupted, or the error of a failed run
    problem: str | None = None  # why it is unreadable
    invalid_events: int = 0  # lines of its log skipped as not valid events
    recipe: str | None = None  # the recipe it was trained with ("best"), when known
    dataset: str | None = None  # the training data's name ("chest_xray_224/train")
    n_images: int | None = None  # its train + val images
    n_test: int | None = None
    adapted: str | None = None  # "bn, prior from RUN" for a run derived for a site; TRANSDUCTIVE when on its test
    device: str | None = None  # what it trained on: "cpu", "cuda:0 (NVIDIA H200)" (run_started, else config.json)
    name: str = ""  # what people call it (training.run.meta): shown, searched, and a handle like its id
    tags: list[str] = field(default_factory=list)
    note: str = ""
    settings: dict = field(default_factory=dict)  # training.run.settings.run_settings: recipe, model, lr, ...
    archived: bool = False  # in the runs folder's archive/

    @property
    def label(self) -> str:
        """The name when it has one, else the run id."""
        return self.name or self.run_id
    task: str = "pneumonia"  # the question it answers (training.core.tasks): pneumonia or subtype

    def to_json(self) -> dict:
        d = self.__dict__.copy()
        d["path"] = str(self.path)
        return d


@dataclass
class RunState:
    """What the events of a run say, applied one at a time."""

    step_x: list[int] = field(default_factory=list)  # global step
    step_loss: list[float] = field(default_factory=list)
    epochs: dict[int, dict] = field(default_factory=dict)  # epoch -> its latest epoch event
    bests: list[dict] = field(default_factory=list)  # the best-checkpoint events still standing, in order
    checkpoints: dict[str, dict] = field(default_factory=dict)  # kind -> its latest checkpoint event
    evals: dict[str, dict] = field(default_factory=dict)  # split -> its latest eval event
    started: dict = field(default_factory=dict)  # the run_started event
    lifecycle: dict | None = None  # the last run_started/resumed/finished/failed
    finished_best_epoch: int | None = None
    last_step: dict | None = None
    first_time: float | None = None
    last_time: float | None = None
    session_start: float | None = None  # the time of this session's run_started or run_resumed
    earlier_sessions_s: float = 0.0  # what the sessions before it lasted (the pauses between them not counted)
    recent_steps: list[tuple[float, int]] = field(default_factory=list)  # (time, global step), for the rate
    adapted: dict | None = None  # the adapted event of a derived run (training.evaluation.site_shift)

    # Steps kept for the rate/ETA estimate: enough to smooth jitter, recent enough to track speed changes.
    RATE_WINDOW = 20

    def apply(self, event: dict) -> None:
        """Fold one valid event (``training.run.schema.check_event``) into the state."""
        kind = event["event"]
        t = event.get("time")
        if isinstance(t, (int, float)):
            self.first_time = t if self.first_time is None else self.first_time
            if kind in ("run_started", "run_resumed") or self.session_start is None:
                if self.session_start is not None and self.last_time is not None:
                    self.earlier_sessions_s += max(0.0, self.last_time - self.session_start)
                self.session_start = t
            self.last_time = t
        if kind in LIFECYCLE:
            self.lifecycle = event
        if kind == "run_started":
            self.started = event
        elif kind == "run_resumed":
            self._resume(event)
        elif kind == "step":
            self._step(event)
        elif kind == "epoch":
            self.epochs[event["epoch"]] = event
        elif kind == "checkpoint":
            self.checkpoints[event["kind"]] = event
            if event["kind"] == "best":
                self.bests.append(event)
        elif kind == "eval":
            self.evals[event["split"]] = event
        elif kind == "run_finished":
            self.finished_best_epoch = event.get("best_epoch")
        elif kind == "adapted":
            self.adapted = event

    def _resume(self, event: dict) -> None:
        # The resumed trainer restarts from the checkpoint of epoch ``epoch - 1``: what was logged
        # for later epochs is redone, and the pause between sessions is not training speed.
        first_redone = event.get("epoch")
        if isinstance(first_redone, int):
            self.epochs = {e: row for e, row in self.epochs.items() if e < first_redone}
            self.bests = [b for b in self.bests if not isinstance(b.get("epoch"), int) or b["epoch"] < first_redone]
        self.finished_best_epoch = None
        self.recent_steps.clear()

    def _step(self, event: dict) -> None:
        gs, loss = event.get("global_step"), event.get("loss")
        if gs is None or loss is None:
            return
        # A resumed run repeats the steps after its last checkpoint: drop the overwritten tail.
        while self.step_x and self.step_x[-1] >= gs:
            self.step_x.pop()
            self.step_loss.pop()
        self.step_x.append(gs)
        self.step_loss.append(float(loss))
        self.last_step = event
        if isinstance(event.get("time"), (int, float)):
            self.recent_steps.append((event["time"], gs))
            del self.recent_steps[: -self.RATE_WINDOW]

    # ---- what the fold says

    @property
    def best(self) -> dict:
        """The standing best-checkpoint event ({} before the first)."""
        return self.bests[-1] if self.bests else {}

    @property
    def best_epoch(self) -> int | None:
        if self.finished_best_epoch is not None:
            return self.finished_best_epoch
        return self.best.get("epoch")

    @property
    def best_metric(self) -> str | None:
        return self.best.get("metric")

    @property
    def best_row(self) -> dict:
        """The epoch row of the best epoch (its latest, after a resume that repeated it)."""
        return self.epochs.get(self.best_epoch, {}) if self.best_epoch is not None else {}

    @property
    def failed(self) -> dict | None:
        """The run_failed event, when that is how the run ended."""
        return self.lifecycle if self.lifecycle and self.lifecycle["event"] == "run_failed" else None

    @property
    def end_reason(self) -> str | None:
        """How the run ended: run_finished's reason, or the error of a failed run (None while it has not ended)."""
        if not self.lifecycle or self.lifecycle["event"] not in ("run_finished", "run_failed"):
            return None
        ended = self.lifecycle
        return ended.get("reason") if ended["event"] == "run_finished" else ended.get("error")

    def epoch_series(self, metric: str) -> tuple[list[int], list[float]]:
        xs, ys = [], []
        for epoch in sorted(self.epochs):
            value = self.epochs[epoch].get(metric)
            if isinstance(value, (int, float)):
                xs.append(epoch)
                ys.append(float(value))
        return xs, ys

    def test_headline(self) -> dict:
        """The test eval's headline figures ({} before the test split was read)."""
        test = self.evals.get("test", {})
        return {k: test[k] for k in HEADLINE if k in test}


STATUSES = {
    "running": "a trainer holds the run's lock and writes it now",
    "finished": "training ended: all its epochs, or stopped early by its early-stopping rule",
    "stopped": "stopped on request (Ctrl-C, SIGTERM, the app's x) after saving a checkpoint: resumable",
    "failed": "training stopped on an error (run_failed says which)",
    "stale": "the trainer died without a word (killed, or its machine went down): resumable from last.pt",
    "unreadable": "its config.json or event log cannot be read (problem says why); every other run is listed as usual",
}


def status_of(lifecycle: dict | None, lock_path: Path) -> str:
    """One of ``STATUSES``: from the last lifecycle event, and the lock when there is none yet."""
    last = lifecycle["event"] if lifecycle else None
    if last == "run_finished":
        return "stopped" if lifecycle.get("reason") == "interrupted" else "finished"
    if last == "run_failed":
        return "failed"
    holder = read_holder(lock_path)
    if holder is not None:
        return "running" if holder_alive(holder, lock_path) else "stale"
    return "running" if lock_held(lock_path) else "stale"  # a lock being written this instant, or none


class RunReader:
    """Reads ``run_dir``'s events incrementally into a ``RunState``.

    ``poll()`` returns True when anything changed (new events or a new status),
    so callers redraw only then; ``version`` counts those changes.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)
        self.state = RunState()
        self.status = "stale"
        self.version = 0
        self.config: dict = {}
        self.config_problem: str | None = None
        self._events = EventFollower(self.paths.events)
        self._op_key: tuple | None = None
        self._op: tuple[dict, dict] = ({}, {})
        self._meta_key: int | None | bool = False  # meta.json's mtime when last read (False: never read)
        self._meta = RunMeta()
        self.meta_problem: str | None = None  # why meta.json was ignored (it is never a reason not to list)

    @property
    def meta(self) -> RunMeta:
        """The run's name, tags and note, re-read when meta.json changes."""
        self._read_meta()
        return self._meta

    def _read_meta(self) -> bool:
        """Re-read meta.json when its mtime moved; True when it did."""
        key = _mtime(self.paths.meta)
        if key == self._meta_key:
            return False
        self._meta_key = key
        self._meta, self.meta_problem = read_meta_checked(self.run_dir)
        return True

    @property
    def series(self) -> RunState:
        """The state, under the name the charts read it by."""
        return self.state

    @property
    def problem(self) -> str | None:
        """Why the run cannot be read (its status is then ``unreadable``), or None."""
        if self.config_problem:
            return self.config_problem
        if self._events.problem:
            return self._events.problem
        if self._events.invalid and not self.state.lifecycle and not self.state.epochs:
            return f"{self.paths.events.name} holds no valid event ({self._events.last_invalid})"
        return None

    @property
    def invalid_events(self) -> int:
        """Lines of the log skipped because they are not valid events."""
        return self._events.invalid

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def model(self) -> str:
        return _text(self.config.get("model")) or _text(self.state.started.get("model")) or "?"

    @property
    def epochs_planned(self) -> int | None:
        recipe = self.config.get("recipe")
        planned = recipe.get("epochs") if isinstance(recipe, dict) else None
        if isinstance(planned, int) and not isinstance(planned, bool):
            return planned
        return self.state.started.get("epochs")

    @property
    def recipe_name(self) -> str | None:
        recipe = self.config.get("recipe")
        name = recipe.get("name") if isinstance(recipe, dict) else None
        return _text(name) or _text(self.state.started.get("recipe"))

    def dataset(self) -> dict:
        """``dataset``: the training data's name; ``n_images``: its train + val images; ``n_test``."""
        data = self.config.get("data") if isinstance(self.config.get("data"), dict) else {}
        counts = [data.get(k) if _count(data.get(k)) else self.state.started.get(k) for k in ("n_train", "n_val")]
        n_test = data.get("n_test") if _count(data.get("n_test")) else self.state.started.get("n_test")
        return {"dataset": _dataset_label(data), "n_images": sum(counts) if all(map(_count, counts)) else None,
                "n_test": n_test if _count(n_test) else None}

    @property
    def synthetic(self) -> bool:
        data = self.config.get("data")
        return isinstance(data, dict) and data.get("synthetic") is True

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
            self.config, self.config_problem = read_config(self.run_dir)
        events = self._events.poll()
        for event in events:
            self.state.apply(event)
        status = "unreadable" if self.problem else status_of(self.state.lifecycle, self.paths.lock)
        first = self._meta_key is False
        renamed = self._read_meta() and not first  # a name, tag or note given meanwhile (app, pneumo runs rename)
        changed = bool(events) or status != self.status or renamed
        self.status = status
        if changed:
            self.version += 1
        return changed

    def summary(self) -> RunSummary:
        s = self.state
        op, test = self.test_at_operating_point()
        return RunSummary(
            path=self.run_dir,
            run_id=self.run_id,
            status=self.status,
            model=self.model,
            epochs_done=len(s.epochs),
            epochs_planned=self.epochs_planned,
            best_metric=s.best_metric,
            best_value=s.best.get("value"),
            best_epoch=s.best_epoch,
            val_auc=s.best_row.get(BEST_VAL_SCORE),
            test=test,
            threshold=op.get("threshold") if test else None,
            threshold_how=op.get("how") if test or op.get("threshold") is None else None,
            started=s.started.get("time"),
            synthetic=self.synthetic,
            reason=s.end_reason,
            problem=self.problem,
            invalid_events=self.invalid_events,
            recipe=self.recipe_name,
            adapted=_adapted_text(s.adapted),
            device=_text(s.started.get("device")) or _text(self.config.get("device")),
            name=self.meta.name,
            tags=list(self.meta.tags),
            note=self.meta.note,
            settings=self.settings(),
            archived=self.run_dir.parent.name == ARCHIVE_DIR,
            task=task_of_config(self.config).name,
            **self.dataset(),
        )

    def settings(self) -> dict[str, str]:
        """What it was trained with (training.run.settings), the events filling what its config does not say."""
        settings = run_settings(self.config)
        started = self.state.started
        if settings["model"] == "-" and self.model != "?":
            settings["model"] = self.model
        if settings["recipe"] == "-":
            settings["recipe"] = self.recipe_name or settings["model"]
        if settings["epochs"] == "-" and isinstance(started.get("epochs"), int):
            settings["epochs"] = str(started["epochs"])
        return settings

    def test_at_operating_point(self) -> tuple[dict, dict]:
        """``(operating point, headline test figures at it)``: the test eval's own figures while the run's saved
        point is the one it was evaluated at, else recomputed from predictions.csv at the saved point (after a
        ``pneumo threshold``); re-read only when threshold.json or predictions.csv change."""
        test = self.state.evals.get("test")
        if test is None and self.state.adapted is not None:
            test = {}  # a derived run has no eval of its own: its figures come from its predictions
        key = (_mtime(self.paths.threshold), _mtime(self.paths.predictions), id(test))
        if key != self._op_key:
            self._op_key, self._op = key, self._figures_at_saved_point(test)
        return self._op

    def _figures_at_saved_point(self, test: dict | None) -> tuple[dict, dict]:
        try:
            op = load_operating_point(self.run_dir)
        except OperatingPointError as exc:  # listed all the same, with what is wrong instead of figures
            return {"threshold": None, "how": one_line(exc)}, {}
        if test is None:
            return op, {}
        if isinstance(test.get("threshold"), (int, float)) and abs(test["threshold"] - op["threshold"]) < 1e-12:
            return op, self.state.test_headline()
        try:
            rows = [r for r in read_predictions(self.run_dir) if r["split"] == "test"]
        except (OSError, KeyError, ValueError):
            rows = []
        if not rows:  # no file to recompute from: the figures it was evaluated at, with their own threshold
            return {"threshold": test.get("threshold"), "how": test.get("threshold_how") or "at training"}, \
                self.state.test_headline()
        m = binary_metrics([r["label"] for r in rows], [r["probability"] for r in rows], op["threshold"])
        return op, {k: m[k] for k in HEADLINE}

    def progress(self) -> Progress:
        s = self.state
        p = Progress(epochs=self.epochs_planned, steps_per_epoch=s.started.get("steps_per_epoch"),
                     device=s.started.get("device"))
        last_epoch = max(s.epochs) if s.epochs else 0
        step_epoch = s.last_step.get("epoch") if s.last_step else None
        if isinstance(step_epoch, int) and step_epoch > last_epoch:
            p.epoch, p.step = step_epoch, s.last_step.get("step") or 0
        else:
            p.epoch, p.step = last_epoch, p.steps_per_epoch or 0
        if s.last_step:
            p.images_per_s = s.last_step.get("images_per_s")
            p.lr = s.last_step.get("lr")
        if s.epochs and p.lr is None:
            p.lr = s.epochs[last_epoch].get("lr")
        if s.session_start is not None and s.last_time is not None:
            p.elapsed_s = s.earlier_sessions_s + (s.last_time - s.session_start)  # training time, pauses left out
        p.eta_s = self._eta(p)
        return p

    def _eta(self, p: Progress) -> float | None:
        steps = self.state.recent_steps
        if self.status != "running" or not p.epochs or not p.steps_per_epoch or len(steps) < 2:
            return None
        (t0, g0), (t1, g1) = steps[0], steps[-1]
        if g1 <= g0 or t1 <= t0:
            return None
        seconds_per_step = (t1 - t0) / (g1 - g0)
        remaining = p.epochs * p.steps_per_epoch - ((p.epoch - 1) * p.steps_per_epoch + p.step)
        return max(0.0, remaining * seconds_per_step)


def read_run(run_dir: Path) -> RunReader:
    """A run's whole log, folded once (for one-shot readers: the CLI, experiments, reports)."""
    reader = RunReader(run_dir)
    reader.poll()
    return reader


def run_status(run_dir: Path) -> str:
    """The status of ``run_dir`` now (see ``status_of``)."""
    return read_run(run_dir).status


def list_runs(runs_dir: Path = DEFAULT_RUNS_DIR, archived: bool = False) -> list[RunSummary]:
    """One summary per run folder in ``runs_dir``, by name; ``archived``: those of its archive/ instead."""
    return [read_run(p).summary() for p in run_dirs(archive_dir(runs_dir) if archived else runs_dir)]


def _adapted_text(event: dict | None) -> str | None:
    if not event:
        return None
    text = f"{', '.join(event.get('methods') or ['?'])} from {event['from']}"
    return text + (" (TRANSDUCTIVE: adapted on its own test images, without their labels)"
                   if event.get("transductive") else "")


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dataset_label(data: dict) -> str | None:
    """``chest_xray_224/train`` for a split folder (its parent says which dataset), else the folder or file name."""
    path = data.get("path")
    if not isinstance(path, str) or not path:
        return _text(data.get("source"))
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.name.lower() in ("train", "val", "test") and p.parent.name else p.name


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
