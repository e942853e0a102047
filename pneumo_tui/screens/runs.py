"""The Runs screen: every run in the runs folder, and their curves overlaid.

Space picks runs for the overlay (each keeps its colour, and gets a marker and
line texture by the order it was picked, so runs differ with NO_COLOR too),
Enter attaches to one and follows it live on the Train screen. Smoothing is
TensorBoard's debiased moving average with the raw curve left faint. The lines
under the table tell the highlighted run in full; while the logs are first
read (in a thread, runs listed as they are read) they say how many are left.

Run management, as ``pneumo runs`` does it: ``/`` filters by text (id, name, tags, note, recipe, model,
data), s sorts by the next column (S turns the order round; a click on a header sorts by it), p shows the
settings columns (those that differ between the listed runs first; h hides the constant ones), n names a
run, t tags it, N keeps a note, a archives it (A shows the archived runs, where a restores one), d deletes
it after a confirm dialog (never a running run), f shows the config diff of the two picked runs beside the
overlay.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from training.core.errors import PneumoError, one_line
from training.run.listing import FIGURES
from training.run.manage import archive_run, delete_run, note_run, rename_run, tag_run, unarchive_run
from training.run.meta import split_tags
from training.run.paths import RunPaths, archive_dir
from training.run.schema import OVERLAY
from training.run.settings import config_diff
from training.run.state import RunReader, RunSummary
from training.run.store import is_run_dir

from ..cli.train_commands import recipe_and_model
from ..messages import AttachRun, CloneRun, CompareRuns, OpenEvaluation, ReviewRun, RunUpdated
from ..widgets.charts import ChartDeck, Curve, CurveChart, curve_marker, run_colour
from ..widgets.run_table import DATE_PREFIX, RunTable, run_detail
from ..widgets.smoothing import SmoothingSlider
from .tab_view import PollingView

OVERLAY_METRICS = OVERLAY  # the per-epoch metrics m cycles through
SCAN_TICKS = 5  # look for new run folders every few seconds; known runs are polled every tick
HANDOVER_S = 0.2  # the first read hands its runs to the table at most this often (the first one at once)
LEGEND_WIDTH = 36  # a legend label longer than this is cut at its end
IGNORED_SETTINGS = ("name", "description", "extends", "model")


def _setting(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _with_recipe(part: str, recipe: str, name: str) -> str:
    """``142233-best`` and ``best (resnet_small)``: ``142233 best (resnet_small)`` (the id's tail said in full)."""
    if part.endswith(f"-{name}"):
        part = part[: -len(name) - 1]
    return part if recipe in part else f"{part} {recipe}"


def legend_labels(summaries: list[RunSummary], configs: list[dict]) -> list[str]:
    """What tells the overlaid runs apart, one label per run, readable without colour.

    The part of the run ids that differs (their shared date and shared recipe suffix dropped), the recipe
    (model) when that differs, SYNTHETIC when only some are, and up to two recipe settings that differ
    (``lr=0.001``). One run alone: its id, less the date when long.
    """
    ids = [s.run_id for s in summaries]
    if len(ids) <= 1:
        return [r if len(r) <= 24 else DATE_PREFIX.sub("", r) for r in ids]
    tokens = [r.split("-") for r in ids]
    shortest = min(map(len, tokens))
    lead = 0
    while lead < shortest - 1 and len({t[lead] for t in tokens}) == 1:
        lead += 1
    tail = 0
    while tail < shortest - lead - 1 and len({t[-1 - tail] for t in tokens}) == 1:
        tail += 1
    parts = ["-".join(t[lead:len(t) - tail]) or r for t, r in zip(tokens, ids, strict=True)]
    recipes = [recipe_and_model(s) for s in summaries]
    if len(set(recipes)) > 1:
        parts = [_with_recipe(p, r, s.recipe or s.model) for p, r, s in zip(parts, recipes, summaries, strict=True)]
    if len({s.synthetic for s in summaries}) > 1:
        parts = [f"{p} SYNTHETIC" if s.synthetic else p for p, s in zip(parts, summaries, strict=True)]
    settings = [c.get("recipe") if isinstance(c.get("recipe"), dict) else {} for c in configs]
    keys = [k for k in dict.fromkeys(k for s in settings for k in s) if k not in IGNORED_SETTINGS
            and not isinstance(next((s[k] for s in settings if k in s), None), (dict, list))
            and len({_setting(s.get(k)) for s in settings}) > 1][:2]
    labels = []
    for part, s in zip(parts, settings, strict=True):
        label = " ".join([part, *(f"{k}={_setting(s.get(k, '-'))}" for k in keys)])
        labels.append(label if len(label) <= LEGEND_WIDTH else label[: LEGEND_WIDTH - 1] + "…")
    return labels


class RunsView(PollingView):
    """The table of runs over the overlay charts; Enter, r, e and c hand a run on to the app."""

    BINDINGS = [
        Binding("enter", "attach", "Attach"),
        Binding("r", "review", "Review"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("c", "compare", "Compare 2"),
        Binding("C", "clone", "Clone to Train", show=False),
        Binding("space", "toggle", "Overlay", show=False),
        Binding("left_square_bracket", "smooth(-1)", "Smooth-", show=False),  # these four are on the controls line
        Binding("right_square_bracket", "smooth(1)", "Smooth+", show=False),
        Binding("m", "next_metric", "Metric", show=False),
        Binding("l", "toggle_log", "Log", show=False),
        Binding("v", "cycle_chart", "Next chart", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("slash", "filter", "Filter", show=False),  # run management: in the help (?) and the README
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("p", "settings_view", "Settings", show=False),
        Binding("h", "hide_constant", "Hide constant", show=False),
        Binding("n", "rename", "Name", show=False),
        Binding("t", "tag", "Tags", show=False),
        Binding("N", "note", "Note", show=False),
        Binding("a", "archive", "Archive", show=False),
        Binding("A", "show_archived", "Archived", show=False),
        Binding("d", "delete", "Delete", show=False),
        Binding("f", "toggle_diff", "Diff", show=False),
    ]

    def __init__(self, runs_dir: Path, *, poll_interval: float = 1.0, **kwargs):
        super().__init__(poll_interval=poll_interval, **kwargs)
        self.runs_dir = Path(runs_dir)
        self.metric = OVERLAY_METRICS[0]
        self.log_scale = False
        self.followers: dict[str, RunReader] = {}
        self.loaded = False  # the first read of every log happens in a thread, handing runs over as they are read
        self.to_read: int | None = None  # runs that first read found (None: not counted yet)
        self.notice: str | None = None  # a message in the detail line until the cursor or the selection moves
        self._notice_at: str | None = None  # the run highlighted when it was given
        self._ticks = 0
        self._drawn: tuple | None = None
        self._shown_versions: dict[str, int] = {}  # the version of each run the table shows
        self.archived = False  # the table lists the archived runs (runs/archive/) instead
        self.diff_shown = False  # the config diff of the two picked runs beside the charts

    def compose(self) -> ComposeResult:
        yield RunTable(id="run-table")
        yield Input(placeholder="filter: words of id, name, tags, note, recipe, model, data; Enter keeps, Esc clears",
                    id="runs-filter")
        yield Static(id="run-detail")
        with Horizontal(id="runs-control-line"):  # one line at 80x24: the charts need the rows
            yield SmoothingSlider(0.6, id="smoothing")
            yield Static(id="runs-controls")
        with Horizontal(id="runs-lower"):
            with ChartDeck(id="runs-charts"):
                yield CurveChart("Training loss per step", id="overlay-steps")
                yield CurveChart("Validation per epoch", integer_x=True, id="overlay-epochs")
            with VerticalScroll(id="runs-diff"):  # a long diff scrolls
                yield Static(id="runs-diff-text")

    def on_mount(self) -> None:
        self._show_controls()
        self._show_detail()
        self._first_load()

    # ---- the children the view works with

    @property
    def table(self) -> RunTable:
        return self.query_one(RunTable)

    @property
    def detail(self) -> Static:
        return self.query_one("#run-detail", Static)

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

    @property
    def listed_dir(self) -> Path:
        """The folder the table lists: the runs folder, or its archive/ (A)."""
        return archive_dir(self.runs_dir) if self.archived else self.runs_dir

    def _new_followers(self) -> dict[str, RunReader]:
        folder = self.listed_dir
        if not folder.is_dir():
            return {}
        paths = sorted(p for p in folder.iterdir() if p.is_dir() and is_run_dir(p))
        return {p.name: RunReader(p) for p in paths if p.name not in self.followers}

    def _scan(self) -> None:
        self.followers.update(self._new_followers())

    @work(thread=True, exclusive=True, group="runs-load")
    def _first_load(self) -> None:
        """Read every run's log once, off the UI thread (a folder of long runs is megabytes of JSON), handing
        the runs to the table as they are read: the first at once, then a batch every HANDOVER_S."""
        worker = get_current_worker()
        followers = self._new_followers()
        if not self._hand_over(self._counted, len(followers)):
            return
        batch: dict[str, RunReader] = {}
        handed = float("-inf")
        for run_id, follower in followers.items():
            if worker.is_cancelled:
                return
            follower.poll()
            batch[run_id] = follower
            if time.monotonic() - handed >= HANDOVER_S:
                if not self._hand_over(self._adopt, batch, False):
                    return
                batch, handed = {}, time.monotonic()
        self._hand_over(self._adopt, batch, True)

    def _hand_over(self, callback, *args) -> bool:
        """Run ``callback`` on the UI thread; False when the app is closing (nothing more to hand over)."""
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError:
            return False
        return True

    def _counted(self, n: int) -> None:
        self.to_read = n
        self._show_detail()

    def _adopt(self, followers: dict[str, RunReader], done: bool) -> None:
        for run_id, follower in followers.items():
            if follower.run_dir.parent != self.listed_dir:
                continue  # A switched to the archived runs (or back) while the first read went on
            self.followers.setdefault(run_id, follower)  # one a reload found meanwhile stays
        self.loaded = self.loaded or done
        self._show_table()
        self._redraw()

    def reload_now(self) -> None:
        self._scan()
        self._poll_all()
        self._show_table()
        self._redraw()

    def _show_table(self) -> None:
        self._shown_versions = {run_id: f.version for run_id, f in self.followers.items()}
        self.table.show_runs([f.summary() for _, f in sorted(self.followers.items())])
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted run in full (or why there is none); while the first read goes on, how far it is."""
        current = self.table.current
        if current is not None:
            text = run_detail(current)
        elif not self.loaded:
            text = Text("reading the runs folder…" if self.to_read is None else f"reading {self.to_read} runs…")
        elif self.table.all and self.table.filter_text:
            text = Text(f"no run matches {self.table.filter_text!r} (/ to change the filter, Esc there clears it)")
        elif self.archived:
            text = Text(f"no archived runs in {self.listed_dir}/ (A: back to the runs)")
        else:
            text = Text(f"no runs in {self.runs_dir}/ yet: start one on the Train screen (2) or with pneumo train")
        lines = text.split("\n")
        if not self.loaded and current is not None and self.to_read is not None:
            lines = [lines[0], Text(f"reading runs: {len(self.followers)} of {self.to_read} read…", style="italic")]
        if self.notice:
            lines = [Text(self.notice, style="bold"), *lines[1:]]
        self.detail.update(Text("\n").join(lines), layout=False)

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
        self.notice = None
        self._show_detail()
        self._redraw()
        self._show_diff()

    def on_data_table_row_highlighted(self) -> None:
        if self.notice and self.table.current_run_id != self._notice_at:
            self.notice = None  # the cursor moved on (a refill of the table for a live run keeps the notice)
        self._show_detail()
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
        labels = legend_labels([f.summary() for f in followers], [f.config for f in followers])
        for style, (f, label) in enumerate(zip(followers, labels, strict=True)):
            colour = run_colour(f.run_id)  # the marker and texture follow the run's place in the overlay
            steps.append(Curve(label, f.series.step_x, f.series.step_loss, colour, style))
            xs, ys = f.series.epoch_series(self.metric)
            epochs.append(Curve(label, xs, ys, colour, style))
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
            Text.assemble(*self._table_state(), ("metric ", "bold"), self.metric, ("  log ", "bold"),
                          "on" if self.log_scale else "off", "   m metric  l log  v next chart", no_wrap=True,
                          overflow="ellipsis"),
            layout=False,
        )

    def _table_state(self) -> list:
        """What the table shows, when it is not every run by id: ``ARCHIVED  /dense 3 of 9  sort lr↑  `` ."""
        table = self.table
        parts: list = []
        if self.archived:
            parts.append(("ARCHIVED  ", "bold"))
        if table.filter_text:
            parts += [("/", "bold"), f"{table.filter_text} {len(table.summaries)} of {len(table.all)}  "]
        if table.sort_by is not None or table.sort_reverse:
            descending = (table.sort_column in FIGURES) != table.sort_reverse  # figures: best (highest) first
            arrow = "↓" if descending else "↑"
            parts += [("sort ", "bold"), f"{table.sort_column or 'run'}{arrow}  "]
        return parts

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

    def action_clone(self) -> None:
        """The Train form, filled with the selected run's settings."""
        path = self._current_path()
        if path is not None:
            self.post_message(CloneRun(path))

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
        n = len(table.selected)
        if n != 2:
            picked = "none is picked" if n == 0 else "1 is picked" if n == 1 else f"{n} are picked"
            self.notice = f"! Compare takes two runs and {picked}: pick two with space, then press c."
            self._notice_at = table.current_run_id
            self._show_detail()  # stays on screen until the cursor or the selection moves
            self.notify(self.notice.removeprefix("! "), title="Compare", severity="warning", timeout=10)
            return
        a, b = (table.summaries[r].path for r in table.selected)
        self.post_message(CompareRuns(a, b))

    # ---- run management: filter, sort, settings, name, tags, note, archive, delete, diff

    @property
    def filter_input(self) -> Input:
        return self.query_one("#runs-filter", Input)

    def action_filter(self) -> None:
        box = self.filter_input
        box.value = self.table.filter_text
        box.add_class("editing")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter" and event.input.has_class("editing"):
            event.stop()
            self._rearranged(lambda: self.table.set_filter(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "runs-filter":
            event.stop()
            self._close_filter()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.filter_input.has_class("editing"):
            event.stop()
            self._rearranged(lambda: self.table.set_filter(""))
            self._close_filter()

    def _close_filter(self) -> None:
        self.filter_input.remove_class("editing")
        self.table.focus()

    def _rearranged(self, change) -> None:
        """Apply a change of the table's filter, sort or view; show what it now shows."""
        change()
        self._show_controls()
        self._show_detail()
        self._redraw()

    def action_sort(self) -> None:
        self._rearranged(self.table.next_sort)

    def action_reverse_sort(self) -> None:
        table = self.table
        self._rearranged(lambda: table.sort_on(table.sort_by, reverse=not table.sort_reverse))

    def on_data_table_header_selected(self) -> None:
        self._show_controls()  # the table sorted itself by the header clicked

    def action_settings_view(self) -> None:
        self._rearranged(self.table.toggle_view)

    def action_hide_constant(self) -> None:
        self._rearranged(self.table.toggle_hide_constant)

    def _current(self) -> RunSummary | None:
        return self.table.current

    def _ask(self, title: str, value: str, then) -> None:
        """A one-line prompt for the highlighted run; ``then(run, text)`` with what was typed (not on Esc)."""
        run = self._current()
        if run is None:
            return

        def done(text: str | None) -> None:
            if text is not None and text != value:  # Esc, or Enter on what was there: nothing to write
                self._manage(lambda: then(run, text))

        self.app.push_screen(RunPrompt(title, value), done)

    def _manage(self, change) -> None:
        """Do one change to a run folder; its error, if any, in one line; the table shows the change."""
        try:
            said = change()
        except (PneumoError, OSError) as exc:  # a refusal, or a folder we may not write
            self.notify(one_line(exc), title="Runs", severity="error", timeout=10)
            return
        if said:
            self.notify(said, title="Runs")
        self.reload_now()

    def action_rename(self) -> None:
        run = self._current()
        if run is not None:
            self._ask(f"Name of {run.run_id} (its id stays; empty: no name)", run.name, _rename)

    def action_tag(self) -> None:
        run = self._current()
        if run is not None:
            self._ask(f"Tags of {run.label} (one word each, spaces between)", " ".join(run.tags), _retag)

    def action_note(self) -> None:
        run = self._current()
        if run is not None:
            self._ask(f"Note on {run.label} (empty: none)", " ".join(run.note.split("\n")), _renote)

    def action_archive(self) -> None:
        run = self._current()
        if run is None:
            return
        if run.status == "running":  # said at once; archive_run checks again under the run's lock
            self.notify(f"cannot archive {run.run_id}: it is running; stop it first (x on the Train screen)",
                        title="Archive", severity="error", timeout=10)
            return

        def move() -> str:
            if run.archived:
                unarchive_run(run.path)
                said = f"restored {run.run_id}"
            else:
                archive_run(run.path)
                said = f"archived {run.run_id} (A shows the archived runs; a there restores it)"
            self._forget(run.run_id)
            return said

        self._manage(move)

    def _forget(self, run_id: str) -> None:
        """A run that left the listed folder (archived, restored, deleted)."""
        self.followers.pop(run_id, None)
        self._shown_versions.pop(run_id, None)
        if run_id in self.table.selected:
            self.table.selected.remove(run_id)

    def action_show_archived(self) -> None:
        self.archived = not self.archived
        self.followers = {}
        self._shown_versions = {}
        self.table.selected.clear()
        self.table.all = {}
        self.reload_now()
        self._show_controls()
        self._show_diff()

    def action_delete(self) -> None:
        run = self._current()
        if run is None:
            return
        if run.status == "running":
            self.notify(f"{run.run_id} is running: stop it first (x on the Train screen)", title="Delete",
                        severity="error", timeout=10)
            return

        def delete() -> str:
            delete_run(run.path)
            self._forget(run.run_id)
            return f"deleted {run.run_id}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._manage(delete)

        self.app.push_screen(ConfirmDelete(run), confirmed)

    @property
    def diff_panel(self) -> VerticalScroll:
        return self.query_one("#runs-diff", VerticalScroll)

    def action_toggle_diff(self) -> None:
        self.diff_shown = not self.diff_shown
        self.diff_panel.set_class(self.diff_shown, "shown")
        self._show_diff()

    def _show_diff(self) -> None:
        if self.diff_shown:
            self.query_one("#runs-diff-text", Static).update(self.diff_text())

    def diff_text(self) -> Text:
        """The config diff of the two picked runs, one setting a line: ``recipe.lr  0.001 → 0.0003``."""
        picked = self._followers_for(self.table.selected)
        if len(picked) != 2:
            return Text.assemble(("Config diff\n", "bold"), "pick two runs with space\n",
                                 f"({len(picked)} picked; f hides this)")
        a, b = picked
        names = [self.table.summaries[f.run_id].label if f.run_id in self.table.summaries else f.run_id
                 for f in picked]
        lines = [Text.assemble(("diff ", "bold"), f"{curve_marker(0)} {names[0]}"),
                 Text.assemble(("  vs ", "bold"), f"{curve_marker(1)} {names[1]}")]
        changes = config_diff(a.config, b.config)
        if not changes:
            lines.append(Text("the same config (only the run ids differ)"))
        for key, va, vb in changes:
            lines.append(Text.assemble((key, "bold"), f" {va} → {vb}"))
        return Text("\n").join(lines)


def _rename(run: RunSummary, text: str) -> None:
    rename_run(run.path, text)


def _retag(run: RunSummary, text: str) -> None:
    """The run's tags become those typed: new ones added, the ones left out removed."""
    wanted = split_tags(text)
    tag_run(run.path, wanted, [t for t in run.tags if t not in wanted])


def _renote(run: RunSummary, text: str) -> None:
    note_run(run.path, text)


class RunPrompt(ModalScreen[str | None]):
    """One line of text for a run (its name, tags or note): Enter keeps it, Esc leaves things as they were."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = ""):
        super().__init__()
        self.title_text, self.value = title, value

    def compose(self) -> ComposeResult:
        with Vertical(id="run-prompt-dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Input(value=self.value, id="run-prompt-input")
            yield Static("Enter keeps it · Esc cancels")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDelete(ModalScreen[bool]):
    """Delete a run? y deletes, n or Esc keeps it."""

    BINDINGS = [Binding("y", "answer(True)", "Delete"), Binding("n,escape", "answer(False)", "Keep")]

    def __init__(self, run: RunSummary):
        super().__init__()
        self.run = run

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-delete-dialog"):
            yield Static(Text(f"Delete {self.run.run_id}?"), classes="dialog-title")
            yield Static(Text(f"{self.run.path} and everything in it (checkpoints, predictions, log) goes; "
                              "a archives a run instead."))
            yield Static(Text("y delete · n or Esc keep", style="bold"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
