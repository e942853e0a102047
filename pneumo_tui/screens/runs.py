"""The Runs screen: every run in the runs folder, and their curves overlaid.

Space picks runs for the overlay (each keeps its colour), Enter attaches to
one and follows it live on the Train screen. Smoothing is TensorBoard's
debiased moving average with the raw curve left faint.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Static

from training.run.paths import RunPaths
from training.run.schema import OVERLAY
from training.run.state import RunReader
from training.run.store import is_run_dir

from ..messages import AttachRun, CompareRuns, OpenEvaluation, ReviewRun, RunUpdated
from ..widgets.charts import ChartDeck, Curve, CurveChart, run_colour
from ..widgets.run_table import RunTable
from ..widgets.smoothing import SmoothingSlider
from .tab_view import PollingView

OVERLAY_METRICS = OVERLAY  # the per-epoch metrics m cycles through
SCAN_TICKS = 5  # look for new run folders every few seconds; known runs are polled every tick


def _short_id(run_id: str) -> str:
    """Run ids start with the date; in a legend the end (time, model) tells runs apart."""
    return run_id if len(run_id) <= 22 else "…" + run_id[-21:]


class RunsView(PollingView):
    """The table of runs over the overlay charts; Enter, r, e and c hand a run on to the app."""

    BINDINGS = [
        Binding("enter", "attach", "Attach"),
        Binding("r", "review", "Review"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("c", "compare", "Compare 2"),
        Binding("space", "toggle", "Overlay", show=False),
        Binding("left_square_bracket", "smooth(-1)", "Smooth-", show=False),  # these four are on the controls line
        Binding("right_square_bracket", "smooth(1)", "Smooth+", show=False),
        Binding("m", "next_metric", "Metric", show=False),
        Binding("l", "toggle_log", "Log", show=False),
        Binding("v", "cycle_chart", "Next chart", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self, runs_dir: Path, *, poll_interval: float = 1.0, **kwargs):
        super().__init__(poll_interval=poll_interval, **kwargs)
        self.runs_dir = Path(runs_dir)
        self.metric = OVERLAY_METRICS[0]
        self.log_scale = False
        self.followers: dict[str, RunReader] = {}
        self.loaded = False  # the first read of every log happens in a thread; until then the table is empty
        self._ticks = 0
        self._drawn: tuple | None = None
        self._shown_versions: dict[str, int] = {}  # the version of each run the table shows

    def compose(self) -> ComposeResult:
        yield RunTable(id="run-table")
        yield Static(id="runs-controls")
        yield SmoothingSlider(0.6, id="smoothing")
        with ChartDeck(id="runs-charts"):
            yield CurveChart("Training loss per step", id="overlay-steps")
            yield CurveChart("Validation per epoch", integer_x=True, id="overlay-epochs")

    def on_mount(self) -> None:
        self._show_controls()
        self._first_load()

    # ---- the children the view works with

    @property
    def table(self) -> RunTable:
        return self.query_one(RunTable)

    @property
    def controls(self) -> Static:
        return self.query_one("#runs-controls", Static)

    @property
    def slider(self) -> SmoothingSlider:
        return self.query_one(SmoothingSlider)

    @property
    def deck(self) -> ChartDeck:
        return self.query_one(ChartDeck)

    def chart(self, name: str) -> CurveChart:
        """The overlay chart ``name``: steps or epochs."""
        return self.query_one(f"#overlay-{name}", CurveChart)

    @property
    def focus_target(self) -> Widget:
        return self.table

    # ---- the table: one incremental follower per run, so a refresh reads only what was appended

    def _new_followers(self) -> dict[str, RunReader]:
        if not self.runs_dir.is_dir():
            return {}
        paths = sorted(p for p in self.runs_dir.iterdir() if p.is_dir() and is_run_dir(p))
        return {p.name: RunReader(p) for p in paths if p.name not in self.followers}

    def _scan(self) -> None:
        self.followers.update(self._new_followers())

    @work(thread=True, exclusive=True, group="runs-load")
    def _first_load(self) -> None:
        """Read every run's log once, off the UI thread: a folder of long runs is megabytes of JSON."""
        followers = self._new_followers()
        for follower in followers.values():
            follower.poll()
        self.app.call_from_thread(self._adopt, followers)

    def _adopt(self, followers: dict[str, RunReader]) -> None:
        self.followers = {**followers, **self.followers}
        self.loaded = True
        self._show_table()
        self._redraw()

    def reload_now(self) -> None:
        self._scan()
        self._poll_all()
        self._show_table()
        self._redraw()

    def _show_table(self) -> None:
        self._shown_versions = {run_id: f.version for run_id, f in self.followers.items()}
        self.table.show_runs([f.summary() for f in self.followers.values()])

    def action_reload(self) -> None:
        self.reload_now()

    def refresh_runs(self) -> None:
        """Poll every known run (and look for new folders every few ticks); post RunUpdated for each that changed."""
        if not self.loaded:
            return
        self._ticks += 1
        if self._ticks % SCAN_TICKS == 0:
            self._scan()
        self._poll_all()

    def _poll_all(self) -> None:
        for f in self.followers.values():
            if f.poll():
                self.post_message(RunUpdated(f.run_dir, f.version))

    def draw_updates(self) -> None:
        # a folder found by a scan whose log holds nothing yet (version 0) is listed with the next change
        if any(self._shown_versions.get(run_id, 0) != f.version for run_id, f in self.followers.items()):
            self._show_table()
            self._redraw()

    # ---- overlay

    def overlay_ids(self) -> list[str]:
        table = self.table
        if table.selected:
            return list(table.selected)
        return [table.current_run_id] if table.current_run_id else []

    def on_run_table_selection_changed(self) -> None:
        self._redraw()

    def on_data_table_row_highlighted(self) -> None:
        self._redraw()

    def _followers_for(self, run_ids: list[str]) -> list[RunReader]:
        return [self.followers[r] for r in run_ids if r in self.followers]

    def _redraw(self) -> None:
        run_ids = self.overlay_ids()
        followers = self._followers_for(run_ids)
        smoothing = self.slider.value
        key = (tuple(run_ids), tuple(f.version for f in followers), smoothing, self.metric, self.log_scale)
        if key == self._drawn:
            return  # nothing new: no redraw
        self._drawn = key
        steps, epochs = [], []
        for f in followers:
            colour = run_colour(f.run_id)
            steps.append(Curve(_short_id(f.run_id), f.series.step_x, f.series.step_loss, colour))
            xs, ys = f.series.epoch_series(self.metric)
            epochs.append(Curve(_short_id(f.run_id), xs, ys, colour))
        is_loss = self.metric.endswith("loss")
        self.chart("steps").set_data(
            steps, smoothing=smoothing, log=self.log_scale,
            title="Training loss per step" + (" (log)" if self.log_scale else ""),
        )
        self.chart("epochs").set_data(
            epochs, smoothing=0.0, log=self.log_scale and is_loss,
            mark_x=followers[0].series.best_epoch if len(followers) == 1 else None,
            ylimits=(None, None) if is_loss else (0.0, 1.0),
            title=f"{self.metric} per epoch",
        )

    def _show_controls(self) -> None:
        self.controls.update(
            Text.assemble(("metric ", "bold"), self.metric, ("  log ", "bold"), "on" if self.log_scale else "off",
                          "   space: overlay  enter: attach  [ ]: smoothing  m: metric  l: log"),
            layout=False,
        )

    # ---- actions

    def action_toggle(self) -> None:
        self.table.action_toggle_selected()

    def action_smooth(self, delta: int) -> None:
        self.slider.action_step(delta)

    def on_smoothing_slider_changed(self) -> None:
        self._redraw()

    def action_next_metric(self) -> None:
        self.metric = OVERLAY_METRICS[(OVERLAY_METRICS.index(self.metric) + 1) % len(OVERLAY_METRICS)]
        self._show_controls()
        self._redraw()

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._show_controls()
        self._redraw()

    def action_cycle_chart(self) -> None:
        self.deck.cycle()

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self.action_attach()

    def action_attach(self) -> None:
        path = self._current_path()
        if path is not None:
            self.post_message(AttachRun(path))

    def _current_path(self) -> Path | None:
        table = self.table
        run_id = table.current_run_id
        return table.summaries[run_id].path if run_id in table.summaries else None

    def action_review(self) -> None:
        path = self._current_path()
        if path is not None:
            self.post_message(ReviewRun(path))

    def action_evaluate(self) -> None:
        path = self._current_path()
        if path is None:
            return
        if not RunPaths(path).predictions.is_file():
            self.notify(f"{path.name} has no predictions yet", severity="warning")
            return
        self.post_message(OpenEvaluation(path))

    def action_compare(self) -> None:
        table = self.table
        if len(table.selected) != 2:
            self.notify("select exactly two runs with space to compare them", severity="warning")
            return
        a, b = (table.summaries[r].path for r in table.selected)
        self.post_message(CompareRuns(a, b))
