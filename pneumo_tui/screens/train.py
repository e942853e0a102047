"""The Train screen: pick a recipe, edit its main settings, start, and watch it live.

The trainer runs detached (``pneumo_tui.launch``); this screen only reads the
run folder, so quitting the app or losing SSH never touches the training.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from training.core.errors import one_line
from training.run.schema import LOSS_CHART, METRICS, SCORE_CHART, TRAIN_LOSS
from training.run.state import RunReader

from ..launch import Launched, StopError, TrainSettings, resume_training, start_training, stop_training
from ..messages import RunUpdated
from ..widgets.charts import METRIC_COLOURS, ChartDeck, Curve, CurveChart
from ..widgets.progress import ProgressPanel
from .tab_view import PollingView

# Below this size a log's first read takes tens of milliseconds: inline. Above it, a thread reads it.
INLINE_LOG_BYTES = 4 << 20


def recipe_choices() -> list[tuple[str, dict]]:
    """(name, values) of the shipped recipes, bases merged in; the loader reads them without torch (UI thread)."""
    try:
        from training.engine.recipes import RecipeError, recipe_names, recipe_values
    except ImportError:
        return []

    out = []
    # The recommended recipe ("best") is offered first, the others alphabetically.
    for name in sorted(recipe_names(), key=lambda n: (n != "best", n)):
        try:
            out.append((name, recipe_values(name)))
        except RecipeError:
            continue
    return out


def training_curves(follower: RunReader) -> dict[str, list[Curve]]:
    """The three live charts of one run: loss per step, loss per epoch, validation scores per epoch."""
    s = follower.series
    curves = {"steps": [Curve("loss", s.step_x, s.step_loss, METRIC_COLOURS[TRAIN_LOSS])]}
    for chart, metrics in (("losses", LOSS_CHART), ("scores", SCORE_CHART)):
        curves[chart] = []
        for metric in metrics:
            xs, ys = s.epoch_series(metric)
            if xs:
                curves[chart].append(Curve(METRICS[metric].label, xs, ys, METRIC_COLOURS[metric]))
    return curves


class NumberField(Input):
    """A number box of the form: it takes the keys a number is typed with and leaves the others to the screen
    (``s`` starts, ``x`` stops, as anywhere on it); Enter keeps the value, Esc puts back the one it had."""

    BINDINGS = [Binding("enter", "leave(True)", "Keep"), Binding("escape", "leave(False)", "Undo")]

    class Left(Message):
        """The user is done with the field."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kept = ""  # the value when the field took the focus (what Esc puts back)

    def _typed(self, character: str | None) -> bool:
        allowed = "0123456789+-" + (".eE" if self.type == "number" else "")
        return character is not None and character in allowed

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return self._typed(character)

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and not self._typed(event.character):
            event.prevent_default()  # not typed into the box, and not stopped: it reaches the screen's keys

    def _on_focus(self, event: events.Focus) -> None:
        self.kept = self.value

    def action_leave(self, keep: bool) -> None:
        if not keep:
            self.value = self.kept
        self.post_message(self.Left())


# What a message on the Train screen is about: it goes when that changes (see TrainView.message).
ABOUT_DATA, ABOUT_RUN, ABOUT_STATUS, ABOUT_LAUNCH = "data", "run", "status", "launch"


class TrainView(PollingView):
    """The recipe form, the progress panel and the live charts of the followed run."""

    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("R", "resume", "Resume"),
        Binding("v", "cycle_chart", "Next chart", show=False),
        Binding("l", "toggle_log", "Log loss", show=False),
        Binding("d", "detach", "Detach"),
    ]

    def __init__(self, data: Path | None, runs_dir: Path, *, poll_interval: float = 1.0, **kwargs):
        super().__init__(poll_interval=poll_interval, **kwargs)
        self._message_about: str | None = None  # what the message line is about (ABOUT_*), None when empty
        self.data = data
        self.runs_dir = Path(runs_dir)
        self.recipes = dict(recipe_choices())
        self.follower: RunReader | None = None
        self.reading: Path | None = None  # a run whose long log a thread is reading before it is followed
        self.launched: Launched | None = None
        self.log_scale = False
        self.smoothing = 0.6
        self._drawn_version = -1
        self._drawn_status: str | None = None  # the followed run's status when last drawn (None: not drawn yet)

    @property
    def data(self) -> Path | None:
        return self._data

    @data.setter
    def data(self, value: Path | None) -> None:
        self._data = Path(value) if value is not None else None
        self._message_changed(ABOUT_DATA)

    # ---- layout

    def compose(self) -> ComposeResult:
        names = list(self.recipes)
        first = names[0] if names else None  # the recommended recipe ("best") leads the list
        with Grid(id="train-form"):
            for text in ("model (recipe)", "epochs", "image", "batch", "lr"):
                yield Label(text)
            yield Select([(f"{n} ({self.recipes[n].get('model', n)})", n) for n in names], value=first or Select.BLANK,
                         allow_blank=not names, id="recipe", compact=True)
            yield NumberField(id="epochs", type="integer", compact=True)
            yield NumberField(id="image_size", type="integer", compact=True)
            yield NumberField(id="batch_size", type="integer", compact=True)
            yield NumberField(id="lr", type="number", compact=True)
        yield Static(id="train-message")
        with Horizontal(id="train-body"):
            yield ProgressPanel(id="progress")
            with ChartDeck(id="train-charts"):
                yield CurveChart("Training loss per step", id="chart-steps")
                yield CurveChart("Loss per epoch", integer_x=True, id="chart-losses")
                yield CurveChart("Validation per epoch", integer_x=True, id="chart-scores")

    def on_mount(self) -> None:
        self._fill_from_recipe(self.recipe.value)
        self.progress.show_idle("No run followed.\ns: start a training\nor attach one from Runs (3).")

    # ---- the children the view works with

    @property
    def recipe(self) -> Select:
        return self.query_one("#recipe", Select)

    def field(self, key: str) -> Input:
        """The form's input for ``key``: epochs, image_size, batch_size or lr."""
        return self.query_one(f"#{key}", Input)

    @property
    def message_line(self) -> Static:
        return self.query_one("#train-message", Static)

    @property
    def progress(self) -> ProgressPanel:
        return self.query_one(ProgressPanel)

    @property
    def deck(self) -> ChartDeck:
        return self.query_one(ChartDeck)

    def chart(self, name: str) -> CurveChart:
        """The live chart ``name``: steps, losses or scores."""
        return self.query_one(f"#chart-{name}", CurveChart)

    @property
    def focus_target(self) -> Widget:
        return self.recipe

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "recipe":
            self._fill_from_recipe(event.value)

    def _fill_from_recipe(self, name) -> None:
        values = self.recipes.get(name, {}) if isinstance(name, str) else {}
        for key in ("epochs", "image_size", "batch_size", "lr"):
            if key in values:
                self.field(key).value = str(values[key])

    @on(NumberField.Left)
    def _field_left(self) -> None:
        self.recipe.focus()

    def message(self, text: str, about: str | None = None) -> None:
        """Say ``text`` on the message line until what it is ``about`` changes: the dataset (ABOUT_DATA), the
        followed run (ABOUT_RUN), its status (ABOUT_STATUS), or a start or resume (ABOUT_LAUNCH: replaced when the
        run ends)."""
        self._message_about = about if text else None
        if self.is_mounted:
            self.message_line.update(Text(text), layout=False)  # run ids and log lines are text, never markup

    def _message_changed(self, what: str) -> None:
        """``what`` changed (ABOUT_DATA, ABOUT_RUN or ABOUT_STATUS): a message about it no longer holds."""
        stale = {ABOUT_DATA: (ABOUT_DATA,), ABOUT_RUN: (ABOUT_RUN, ABOUT_STATUS, ABOUT_LAUNCH),
                 ABOUT_STATUS: (ABOUT_STATUS,)}[what]
        if self._message_about in stale:
            self.message("")

    def _status_changed(self, follower: RunReader, before: str) -> None:
        """The followed run's status changed from ``before``: say how it ended instead of what no longer holds."""
        if follower.status == "running":
            self._message_changed(ABOUT_STATUS)  # a start or resume said so already: it stays
            return
        if self._message_about not in (None, ABOUT_STATUS, ABOUT_LAUNCH):
            return  # a message about something else (the dataset, an exit code) stays
        self.message(ended_message(follower), ABOUT_STATUS)

    # ---- following

    def follow(self, run_dir: Path) -> None:
        follower = RunReader(run_dir)
        if self.launched is not None and self.launched.run_dir not in (None, follower.run_dir):
            self.launched = None  # another run attached: the trainer started here is no longer followed
        if self.follower is None or self.follower.run_dir != follower.run_dir:
            self._message_changed(ABOUT_RUN)
        self.follower = None
        self._drawn_status = None
        self.reading = follower.run_dir
        size = follower.log_size()
        if size <= INLINE_LOG_BYTES:
            follower.poll()
            self._adopt(follower)
        else:  # a long run's log: megabytes of JSON must not freeze the keys
            self.progress.show_idle(f"Reading {run_dir.name}: {size / 1e6:.0f} MB of events ...")
            self._read_log(follower)

    @work(thread=True, exclusive=True, group="follow-read")
    def _read_log(self, follower: RunReader) -> None:
        follower.poll()
        self.app.call_from_thread(self._adopt, follower)

    def _adopt(self, follower: RunReader) -> None:
        if self.reading != follower.run_dir:
            return  # detached, or another run attached, while its log was read
        self.reading = None
        self.follower = follower
        self._drawn_version = -1
        self.refresh_view()

    def action_detach(self) -> None:
        """Stop following; the trainer is not touched."""
        if self.follower:
            self.message(f"Detached from {self.follower.run_id}; it keeps running.", ABOUT_RUN)
        self.follower = None
        self.reading = None
        self.launched = None
        self.progress.show_idle("No run followed.")
        for chart in self.query(CurveChart):
            chart.set_data([])

    def refresh_runs(self) -> None:
        """Pick up a training started here, or say why it ended; poll the followed run."""
        if self.launched is not None and self.follower is None and self.reading is None:
            self._pick_up_launched()
        elif self.launched is not None and self.launched.exited() not in (None, 0):
            # e.g. a resume refused: say why instead of following a run that will not move
            self.message(f"pneumo train exited ({self.launched.exited()}): {self.launched.log_tail(1)}", ABOUT_RUN)
            self.launched = None
        f = self.follower
        if f is not None and f.poll():
            self.post_message(RunUpdated(f.run_dir, f.version))

    def draw_updates(self) -> None:
        self.refresh_view()

    def _pick_up_launched(self) -> None:
        launched = self.launched
        run_dir = launched.find_run_dir()
        if run_dir is not None:
            self.follow(run_dir)
            self.message(f"Started {run_dir.name} (pid {launched.pid}); it keeps running if you quit.", ABOUT_LAUNCH)
            return
        code = launched.exited()
        if code is not None:
            self.launched = None
            self.message(f"pneumo train exited ({code}) before creating a run: {launched.log_tail(2)}", ABOUT_RUN)

    def refresh_view(self) -> None:
        f = self.follower
        if f is None or f.version == self._drawn_version:
            return
        self._drawn_version = f.version
        if self._drawn_status is not None and f.status != self._drawn_status:
            self._status_changed(f, self._drawn_status)
        self._drawn_status = f.status
        self.progress.show(f)
        curves = training_curves(f)
        best = f.series.best_epoch
        self.chart("steps").set_data(
            curves["steps"], smoothing=self.smoothing, log=self.log_scale,
            title="Training loss per step" + (" (log)" if self.log_scale else ""),
        )
        self.chart("losses").set_data(curves["losses"], log=self.log_scale, mark_x=best)
        self.chart("scores").set_data(curves["scores"], mark_x=best, ylimits=(0.0, 1.0))

    # ---- actions

    def settings(self) -> TrainSettings:
        recipe = self.recipe.value
        if not isinstance(recipe, str):
            raise ValueError("pick a recipe")
        if self.data is None:
            raise ValueError("no dataset: open one on the Data screen (1) first")
        overrides = {}
        for key in ("batch_size", "lr"):
            value = self.field(key).value.strip()
            if value and value != str(self.recipes.get(recipe, {}).get(key)):
                overrides[key] = value
        return TrainSettings(
            model=recipe,
            data=self.data,
            runs_dir=self.runs_dir,
            epochs=_int_or_none(self.field("epochs").value),
            image_size=_int_or_none(self.field("image_size").value),
            overrides=overrides,
        )

    def action_start(self) -> None:
        if self.follower is not None and self.follower.status == "running":
            self.message("A run is being followed and running: detach (d) or stop (x) it first.", ABOUT_STATUS)
            return
        try:
            settings = self.settings()
        except ValueError as exc:
            self.message(f"Cannot start: {exc}", ABOUT_DATA)
            return
        self.follower = None
        self.reading = None
        self._drawn_status = None
        self.launched = start_training(settings)
        self.message(f"Starting {settings.model} (pid {self.launched.pid}) ...", ABOUT_RUN)

    def action_stop(self) -> None:
        if self.follower is None:
            self.message("No run followed.", ABOUT_RUN)
            return
        try:
            pid = stop_training(self.follower.run_dir)
        except StopError as exc:
            self.message(f"Cannot stop: {one_line(exc)}", ABOUT_STATUS)
            return
        self.message(f"Asked pid {pid} to stop; it saves a checkpoint first.", ABOUT_STATUS)

    def action_resume(self) -> None:
        f = self.follower
        if f is None:
            self.message("No run followed: attach one from Runs (3) to resume it.", ABOUT_RUN)
            return
        if f.status == "running":
            self.message("The run is still running.", ABOUT_STATUS)
            return
        self.launched = resume_training(f.run_dir, self.runs_dir)
        self.message(f"Resuming {f.run_id} (pid {self.launched.pid}); it keeps running if you quit.", ABOUT_LAUNCH)

    def action_cycle_chart(self) -> None:
        self.deck.cycle()

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._drawn_version = -1
        self.refresh_view()


def ended_message(follower: RunReader) -> str:
    """One line on how the followed run stands now that its status changed (finished, stopped, failed, stale)."""
    status, reason = follower.status, follower.series.end_reason
    if status == "finished":
        return f"{follower.run_id} finished ({reason or 'completed'})."
    if status == "stopped":
        return f"{follower.run_id} stopped; R resumes it from its last checkpoint."
    if status == "failed":
        first = next((line.strip() for line in (reason or "").splitlines() if line.strip()), None)
        return f"{follower.run_id} failed: {first or 'see its train.log'}"
    return f"{follower.run_id} is stale: its trainer died without a word; R resumes it from its last checkpoint."


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None
