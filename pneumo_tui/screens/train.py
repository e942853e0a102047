"""The Train screen: pick a recipe, edit its settings, start, and watch it live.

The form holds the recipe, its main numbers, test data, seed, device and any
other recipe key (``key=value`` entries, checked as they are typed). Attaching
a run clones its real settings into the form (its config.json, not its
recipe's defaults); below the form are the dataset ``s`` uses, an estimate of
the run's time from measured throughput (``pneumo_tui.estimate``) and the
exact ``pneumo train`` command it runs (``c`` copies it).

The trainer runs detached (``pneumo_tui.launch``); this screen only reads the
run folder, so quitting the app or losing SSH never touches the training.
"""

from __future__ import annotations

import dataclasses
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
from training.data.sources import SYNTHETIC_MARKER
from training.run.schema import LOSS_CHART, METRICS, SCORE_CHART, TRAIN_LOSS
from training.run.state import RunReader

from ..estimate import STEP_KEYS, Throughput, estimate_seconds, recorded_throughput, time_steps, train_images
from ..launch import Launched, StopError, TrainSettings, resume_training, start_training, stop_training
from ..messages import RunUpdated
from ..widgets.charts import METRIC_COLOURS, ChartDeck, Curve, CurveChart
from ..widgets.progress import ProgressPanel, format_duration
from .tab_view import PollingView

# Below this size a log's first read takes tens of milliseconds: inline. Above it, a thread reads it.
INLINE_LOG_BYTES = 4 << 20

NUMBER_KEYS = ("epochs", "image_size", "batch_size", "lr", "seed")  # the recipe keys with a box of their own
DEVICES = ("auto", "cpu", "cuda", "mps")  # auto: the best available (no --device)
DEMO_RECIPE = "demo"  # offered first when the open dataset is the synthetic demo set
DEMO_PROMISE = "the demo recipe learns it: test AUC >= 0.9 in about 15 s on a 2-core CPU"


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


class TextField(Input):
    """A text box of the form (test data, recipe keys). Focused, it leaves every key to the screen (``s`` starts, as
    anywhere on it) until Enter (or a click) starts editing; then it takes every key typed, and Enter keeps the
    value, Esc puts back the one it had, both ending the edit."""

    BINDINGS = [Binding("enter", "edit", "Edit"), Binding("enter", "leave(True)", "Keep"),
                Binding("escape", "leave(False)", "Undo")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kept = ""
        self.editing = False

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "edit":
            return not self.editing
        if action == "leave":
            return self.editing
        return True

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return self.editing and character is not None and character.isprintable()

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and not self.editing:
            event.prevent_default()  # not typed into the box, and not stopped: it reaches the screen's keys

    def _on_click(self, event: events.Click) -> None:
        self.action_edit()

    def _on_blur(self, event: events.Blur) -> None:
        self.editing = False
        self.refresh_bindings()

    def action_edit(self) -> None:
        self.kept = self.value
        self.editing = True
        self.cursor_position = len(self.value)
        self.refresh_bindings()

    def action_leave(self, keep: bool) -> None:
        if not keep:
            self.value = self.kept
        self.editing = False
        self.refresh_bindings()
        self.post_message(NumberField.Left())


def recipe_defaults(name: str, recipes: dict[str, dict]) -> dict:
    """Every key of the shipped recipe ``name`` with its value (the file's, else ``Recipe``'s default), typed."""
    from training.engine.recipes import Recipe, coerce, recipe_keys

    keys = recipe_keys()
    values = {f.name: f.default for f in dataclasses.fields(Recipe) if f.default is not dataclasses.MISSING}
    values.update(recipes.get(name, {}))
    return {k: coerce(k, v, keys[k]) for k, v in values.items() if k in keys}


def format_value(value) -> str:
    """A recipe value as ``--set`` takes it: ``true``, ``0.002``, ``youden``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def clone_settings(config: dict, recipes: dict[str, dict]) -> dict:
    """The form's values for the run whose config.json is ``config``: its recipe's name when shipped, else its
    model's recipe (a run of a recipe file: what differs from that recipe becomes entries),
    its real epochs, image size, batch, lr and seed, every other key that differs from that recipe as
    ``key=value`` entries, its test data, device and data. Keys: recipe, NUMBER_KEYS, settings, test_data,
    device, data (None when the config names none)."""
    from training.engine.recipes import RecipeError, coerce, recipe_keys

    ran = config.get("recipe") if isinstance(config.get("recipe"), dict) else {}
    name = next((n for n in (ran.get("name"), config.get("model"), ran.get("model")) if n in recipes), None)
    base = recipe_defaults(name, recipes) if name else {}
    keys = recipe_keys()
    out: dict = {"recipe": name}
    entries = []
    for key, value in ran.items():
        if key not in keys or key in ("description", "model"):
            continue
        try:
            typed = coerce(key, value, keys[key])
        except RecipeError:
            continue
        if key in NUMBER_KEYS:
            out[key] = format_value(typed)
        elif base.get(key) != typed:
            entries.append(f"{key}={format_value(typed)}")
    for key in NUMBER_KEYS:
        out.setdefault(key, format_value(base[key]) if key in base else "")
    out["settings"] = " ".join(entries)
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    out["test_data"] = data.get("test_path") or ""
    out["data"] = Path(data["path"]) if isinstance(data.get("path"), str) and data["path"] else None
    device = config.get("device")
    out["device"] = str(device).split()[0] if isinstance(device, str) and device.strip() else "auto"
    return out


def is_synthetic(data: Path | None) -> bool:
    """The open dataset is the demo set of ``pneumo data demo`` (its SYNTHETIC marker)."""
    return data is not None and (Path(data) / SYNTHETIC_MARKER).is_file()


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
        Binding("c", "copy_command", "Copy cmd"),
        Binding("e", "time_steps", "Time steps", show=False),
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
        self._clone_pending = False  # an attached run's settings go into the form once its config.json is read
        self.run_data: tuple[Path, str] | None = None  # (data, run id): a cloned run's data, which s then uses
        self.run_data_missing: tuple[Path, str] | None = None  # (data, run id): a cloned run's data, not here
        self.timed: dict[tuple, Throughput] = {}  # (model, image size, batch, device) -> steps timed here (e)
        self.estimate_text = ""  # the estimate line, once worked out (a thread reads the runs)

    @property
    def data(self) -> Path | None:
        return self._data

    @data.setter
    def data(self, value: Path | None) -> None:
        self._data = Path(value) if value is not None else None
        self.run_data = None  # a dataset opened now is the one s uses
        self.run_data_missing = None
        self._message_changed(ABOUT_DATA)
        if self.is_mounted:
            self._offer_demo()
            self._form_changed()

    @property
    def train_data(self) -> Path | None:
        """The dataset ``s`` trains on: a cloned run's data (when it is here), else the open dataset."""
        return self.run_data[0] if self.run_data else self.data

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
            for text in ("test data", "seed", "device"):
                yield Label(text)
            yield Label("recipe keys: key=value ...", id="settings-label")
            yield TextField(id="test_data", placeholder="its own test split", compact=True)
            yield NumberField(id="seed", type="integer", compact=True)
            yield Select([(d, d) for d in DEVICES], value="auto", allow_blank=False, id="device", compact=True)
            yield TextField(id="settings", placeholder="e.g. optimizer=adamw hflip=true", compact=True)
        yield Static(id="train-data")
        yield Static(id="train-estimate")
        yield Static(id="train-command")
        yield Static(id="train-message")
        with Horizontal(id="train-body"):
            yield ProgressPanel(id="progress")
            with ChartDeck(id="train-charts"):
                yield CurveChart("Training loss per step", id="chart-steps")
                yield CurveChart("Loss per epoch", integer_x=True, id="chart-losses")
                yield CurveChart("Validation per epoch", integer_x=True, id="chart-scores")

    def on_mount(self) -> None:
        self._offer_demo()
        self._fill_from_recipe(self.recipe.value)
        self._form_changed()
        self.progress.show_idle("No run followed.\ns: start a training\nor attach one from Runs (3).")

    # ---- the children the view works with

    @property
    def recipe(self) -> Select:
        return self.query_one("#recipe", Select)

    def field(self, key: str) -> Input:
        """The form's input for ``key``: epochs, image_size, batch_size, lr, seed, test_data or settings."""
        return self.query_one(f"#{key}", Input)

    @property
    def device(self) -> Select:
        return self.query_one("#device", Select)

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
            if event.value == self._set_by_clone:
                self._set_by_clone = None  # the clone filled the boxes with the run's values: keep them
            else:
                self._fill_from_recipe(event.value)
        self._form_changed()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if not self._cloning:
            self._form_changed()

    _cloning = False  # the form is being filled from a run: one redraw at the end, not one per box
    _set_by_clone = None  # the recipe a clone just chose: its Changed message must not refill the boxes

    def _fill_from_recipe(self, name) -> None:
        values = recipe_defaults(name, self.recipes) if isinstance(name, str) and name in self.recipes else {}
        for key in NUMBER_KEYS:
            if key in values:
                self.field(key).value = format_value(values[key])

    def _offer_demo(self) -> None:
        """The demo set open and no run cloned: the demo recipe is the one offered."""
        if is_synthetic(self.data) and self.run_data is None and DEMO_RECIPE in self.recipes:
            if self.recipe.value != DEMO_RECIPE:
                self.recipe.value = DEMO_RECIPE
                self._fill_from_recipe(DEMO_RECIPE)

    def clone(self, config: dict, run_id: str) -> None:
        """Fill the form with the settings of the run whose config.json is ``config`` (see ``clone_settings``)."""
        values = clone_settings(config, self.recipes)
        self._cloning = True
        try:
            if values["recipe"] is not None and values["recipe"] != self.recipe.value:
                self._set_by_clone = values["recipe"]
                self.recipe.value = values["recipe"]
            for key in (*NUMBER_KEYS, "test_data", "settings"):
                self.field(key).value = values[key]
            device = values["device"]
            if device not in DEVICES:
                self.device.set_options([(d, d) for d in (*DEVICES, device)])
            self.device.value = device
        finally:
            self._cloning = False
        data = values["data"]
        here = data is not None and data.exists()
        self.run_data = (data, run_id) if here else None
        self.run_data_missing = (data, run_id) if data is not None and not here else None
        self._form_changed()

    # ---- what s will run

    def form_settings(self) -> TrainSettings:
        """The settings ``s`` starts, from the form; ValueError in one line for a value no recipe takes."""
        from training.engine.recipes import RecipeError, check_setting, parse_settings

        recipe = self.recipe.value
        if not isinstance(recipe, str):
            raise ValueError("pick a recipe")
        data = self.train_data
        if data is None:
            raise ValueError("no dataset: open one on the Data screen (1) first")
        base = recipe_defaults(recipe, self.recipes)
        numbers = {}
        try:
            for key in NUMBER_KEYS:
                text = self.field(key).value.strip()
                numbers[key] = check_setting(key, text) if text else None
            entries = parse_settings(self.field("settings").value)
        except RecipeError as exc:
            raise ValueError(one_line(exc)) from None
        if "model" in entries:
            raise ValueError("model=: pick the recipe in the list (each model has one)")
        for key in set(entries) & {*NUMBER_KEYS}:
            raise ValueError(f"{key}=: set it in its box above")
        overrides = {k: format_value(numbers[k]) for k in ("batch_size", "lr")
                     if numbers[k] is not None and numbers[k] != base.get(k)}
        overrides.update(entries)
        test = self.field("test_data").value.strip()
        device = self.device.value
        return TrainSettings(
            model=recipe,
            data=data,
            runs_dir=self.runs_dir,
            epochs=numbers["epochs"],
            image_size=numbers["image_size"],
            test_data=Path(test).expanduser() if test else None,
            overrides=overrides,
            seed=numbers["seed"],
            device=device if isinstance(device, str) and device != "auto" else None,
        )

    def _form_changed(self) -> None:
        """Say which dataset s uses, and the command or why it cannot start; work the estimate out again."""
        if not self.is_mounted:
            return
        self.query_one("#train-data", Static).update(self._data_line())
        try:
            settings = self.form_settings()
        except ValueError as exc:
            self.query_one("#train-command", Static).update(Text(f"cannot start: {exc}", style="bold"))
            self._set_estimate("")
            return
        self.query_one("#train-command", Static).update(Text.assemble(("$ ", "dim"), settings.command_line()))
        self._estimate(settings)

    def _data_line(self) -> Text:
        data = self.train_data
        missing = ""
        if self.run_data_missing:
            path, run_id = self.run_data_missing
            missing = f"; {run_id}'s data {path} is not here"
        if data is None:
            return Text(f"data: none open (o opens one){missing}")
        where = f"the data of {self.run_data[1]}" if self.run_data else "open on Data (1)"
        line = Text.assemble("data: ", str(data), f" ({where}{missing})")
        if is_synthetic(data):
            line.append_text(Text.assemble("  ", ("SYNTHETIC", "bold reverse"), f": {DEMO_PROMISE}"))
        return line

    def _set_estimate(self, text: str) -> None:
        self.estimate_text = text
        if self.is_mounted:
            self.query_one("#train-estimate", Static).update(Text(text))

    @work(thread=True, exclusive=True, group="estimate")
    def _estimate(self, settings: TrainSettings) -> None:
        text = estimate_line(settings, self.recipes, self.timed)
        self.app.call_from_thread(self._set_estimate, text)

    def action_copy_command(self) -> None:
        """Copy the shown ``pneumo train`` command (the terminal's clipboard, OSC 52; over SSH too)."""
        try:
            command = self.form_settings().command_line()
        except ValueError as exc:
            self.message(f"No command to copy: {exc}", ABOUT_DATA)
            return
        self.app.copy_to_clipboard(command)
        self.message("Copied the command (if your terminal lets apps set the clipboard).", ABOUT_DATA)

    def action_time_steps(self) -> None:
        """Time a few training steps of the form's model here, in a thread, for the estimate."""
        try:
            settings = self.form_settings()
        except ValueError as exc:
            self.message(f"Cannot time: {exc}", ABOUT_DATA)
            return
        self._set_estimate("estimate: timing 5 training steps here ...")
        self._time(settings)

    @work(thread=True, exclusive=True, group="timing")
    def _time(self, settings: TrainSettings) -> None:
        model, size, batch = planned_model(settings, self.recipes)
        planned = {**recipe_defaults(settings.model, self.recipes), **settings.overrides}
        step_settings = {k: format_value(planned[k]) if not isinstance(planned[k], str) else planned[k]
                         for k in STEP_KEYS if k in planned}
        try:
            measured = time_steps(model, size, batch, settings.device, settings=step_settings)
        except Exception as exc:  # no torch, the device absent, out of memory: say it on one line
            self.app.call_from_thread(self._set_estimate, f"estimate: timing failed: {one_line(exc)}")
            return
        self.timed[(model, size, batch, settings.device)] = measured
        self.app.call_from_thread(self._set_estimate, estimate_line(settings, self.recipes, self.timed))

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
        self._clone_pending = self.launched is None  # a run started here already has the form's settings
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
        if f is None:
            return
        if self._clone_pending and f.config:
            self._clone_pending = False
            self.clone(f.config, f.run_id)
        if f.version == self._drawn_version:
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

    def action_start(self) -> None:
        if self.follower is not None and self.follower.status == "running":
            self.message("A run is being followed and running: detach (d) or stop (x) it first.", ABOUT_STATUS)
            return
        try:
            settings = self.form_settings()
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


def planned_model(settings: TrainSettings, recipes: dict[str, dict]) -> tuple[str, int, int]:
    """(model, image size, batch size) the settings train."""
    base = recipe_defaults(settings.model, recipes)
    batch = int(settings.overrides.get("batch_size", base.get("batch_size", 32)))
    return str(base.get("model", settings.model)), int(settings.image_size or base.get("image_size", 200)), batch


def estimate_line(settings: TrainSettings, recipes: dict[str, dict], timed: dict[tuple, Throughput]) -> str:
    """``estimate: about 0:25 of training steps (15 epochs x 72 images at 290 img/s, measured: run X (64 px, cpu))``,
    or why there is none yet; reads run folders and may count the dataset's files (call it from a thread)."""
    model, size, batch = planned_model(settings, recipes)
    epochs = settings.epochs or int(recipe_defaults(settings.model, recipes).get("epochs", 10))
    throughput = timed.get((model, size, batch, settings.device)) or recorded_throughput(
        settings.runs_dir, model, size, settings.device)
    if throughput is None:
        return f"estimate: no run of {model} recorded here yet; e times a few steps"
    counted = train_images(settings.data, settings.runs_dir)
    if counted is None:
        return "estimate: cannot count the dataset's training images"
    n, _ = counted
    seconds = estimate_seconds(epochs, n, throughput)
    return (f"estimate: about {format_duration(seconds)} of training steps: {epochs} epochs x {n} images at "
            f"{throughput.images_per_s:.0f} img/s, from {throughput.basis}; e times steps here")
