"""The table of every run in the runs folder, with a selection for overlaying curves.

Its columns, most important first: the run, its status, recipe (model), the best epoch's val AUC, and the
test figures at the run's saved operating point (what ``pneumo runs`` shows), then that threshold, the
epochs and the data. The layout fits the width it gets: when the full texts do not fit, the date shared by
every run id goes, then the long headers and the status's gloss (``COMPACTIONS``), and at last the run and
recipe texts are cut with an ellipsis, so that at 80 columns the test figures are on screen without
scrolling. The detail lines under the table (``run_detail``) say in full what a cut cell holds.

A run with a name (``pneumo runs rename``, n on the Runs screen) shows its name in the run column; the
detail lines give its id, tags and note. The table also has a settings view (``layout_settings``: recipe,
model, image size, epochs, lr, batch, seed, dataset, those that differ between the listed runs first, the
constant ones hidden on request), is filtered by text and sorted by any column (training.run.listing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from training.run.listing import filter_runs, sort_runs
from training.run.operating_point import DEFAULT_HOW
from training.run.settings import SETTINGS, differing, ordered_settings
from training.run.state import RunSummary

from ..cli.train_commands import dataset_text, recipe_and_model
from ..plain import plain
from .charts import curve_marker, run_colour
from .progress import status_text

# (key, header); the first ESSENTIAL columns must fit without scrolling.
COLUMNS = (
    ("mark", ""),
    ("run", "run"),
    ("status", "status"),
    ("recipe", "recipe (model)"),
    ("best_auc", "val AUC"),  # the best epoch's
    ("accuracy", "test acc"),
    ("sensitivity", "sens"),
    ("specificity", "spec"),
    ("threshold", "threshold"),
    ("epochs", "epochs"),
    ("data", "data"),
)
# What goes, one more at a time, while the table is too wide: the date every run id shares, the recipe
# header's "(model)", the status's gloss ("stale (writer died)" -> "stale": the detail line has it).
COMPACTIONS = ("date", "recipe header", "status words")
ESSENTIAL = 8  # mark .. spec
COMPACTION_COST = 10  # what a compaction costs, in characters cut (layout_runs)
CUT_COST = {"run": 2.0, "recipe": 1.0, "data": 0.5}  # what a character cut costs, by column
MIN_CUT = 8  # the run and recipe texts are cut down to this at most, for the essential columns to fit
MIN_WIDTHS = {"run": 16, "recipe": 12, "data": 16}  # first down to these (a run id keeps its date and time)
PADDING = 2  # DataTable's cell padding, one each side
DATE_PREFIX = re.compile(r"^\d{8}-")


def _num(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def short_how(how: str | None) -> str:
    """Where an operating point came from, in a word: ``youden``, ``sens>=0.95``, ``manual``, ``default``."""
    if not how:
        return ""
    if how == DEFAULT_HOW:
        return "default"
    if how.startswith("sensitivity>="):
        return "sens>=" + how.removeprefix("sensitivity>=").split()[0]
    words = {"fixed by the recipe": "recipe", "threshold.json": "saved", "at training": "training"}
    return words.get(how, how.split()[0][:10])


def threshold_text(s: RunSummary) -> str:
    """``0.213 youden``; ``! unreadable`` when threshold.json is broken; ``-`` before the test figures."""
    if s.threshold is not None:
        return f"{s.threshold:.3f} {short_how(s.threshold_how)}".rstrip()
    return "! unreadable" if s.threshold_how else "-"


def shared_date(run_ids: list[str]) -> str:
    """The ``YYYYMMDD-`` every run id starts with, or "" when they do not all share one."""
    dates = {m.group(0) if (m := DATE_PREFIX.match(r)) else None for r in run_ids}
    return dates.pop() if len(dates) == 1 and None not in dates else ""


def run_detail(s: RunSummary) -> Text:
    """Three lines on one run, in full: what the table's cells abbreviate or cut."""
    line1 = Text.assemble((s.run_id, "bold"), (f' "{s.name}"', "bold") if s.name else "",
                          " " + " ".join(f"#{t}" for t in s.tags) if s.tags else "", "  ",
                          status_text(s.status), f" ({s.reason})" if s.reason else "", "  ", recipe_and_model(s),
                          f" on {s.device}" if s.device else "", "  (archived)" if s.archived else "")
    if s.problem:
        line2 = Text(f"unreadable: {s.problem}", style="bold")
    elif s.threshold is not None:
        line2 = Text(f"threshold {s.threshold:.3f}: {s.threshold_how or 'saved'}")
    elif s.threshold_how:
        line2 = Text(f"threshold not usable: {s.threshold_how}", style="bold")
    else:
        line2 = Text("no test figures yet (nor the threshold they are at)")
    counts = ", ".join(c for c in (f"{s.n_images:,} train+val" if s.n_images is not None else "",
                                   f"{s.n_test:,} test" if s.n_test is not None else "") if c)
    line3 = Text.assemble("data ", s.dataset or "?", f": {counts}" if counts else "",
                          ("  SYNTHETIC" if s.synthetic else "", "bold"))
    if s.adapted:
        line3.append(f"  adapted: {s.adapted}", style="bold")
    if s.note:  # the note's own lines joined
        line2.append("  note: " + " ".join(s.note.split()))
    for line in (line1, line2):  # each on its line, cut at its end: a wrapped line would push the data out
        line.no_wrap, line.overflow = True, "ellipsis"
    return Text("\n").join([line1, line2, line3])


@dataclass
class Layout:
    """What the table shows at one width: the headers and each row's cells, as text."""

    headers: list[str]
    rows: list[list[str]]
    status_words: bool  # statuses as the bare word (the gloss, "writer died", is in the detail line)
    keys: list[str] | None = None  # the columns' keys (None: COLUMNS')

    def __post_init__(self):
        if self.keys is None:
            self.keys = [key for key, _ in COLUMNS]

    @property
    def widths(self) -> list[int]:
        return [max([len(h)] + [len(r[i]) for r in self.rows]) for i, h in enumerate(self.headers)]


def _total(widths: list[int]) -> int:
    return sum(w + PADDING for w in widths)


def layout_runs(summaries: list[RunSummary], width: int) -> Layout:
    """The layout that shows the most whole columns in ``width`` (all of them when it can), at the least cost:
    a compaction costs COMPACTION_COST, a character cut CUT_COST of its column (a run id's most, as it is the
    handle a user types; the data's name least, the detail lines have it). The essential columns always fit."""
    date = shared_date([s.run_id for s in summaries])
    keys = [key for key, _ in COLUMNS]
    best, best_score = None, None
    for n in range(len(COMPACTIONS) + 1):
        full = _layout(summaries, date, set(COMPACTIONS[:n]))
        for layout in (full, _cut(full, width)):
            whole = _whole_columns(layout.widths, width)
            cost = n * COMPACTION_COST + sum(CUT_COST.get(key, 1.0) * (a - b) for key, a, b in
                                             zip(keys[:whole], full.widths[:whole], layout.widths[:whole],
                                                 strict=True))
            score = (whole, -cost)
            if best_score is None or score > best_score:
                best, best_score = layout, score
    return best


def _whole_columns(widths: list[int], width: int) -> int:
    """How many of the columns, from the left, fit ``width`` whole."""
    total = 0
    for i, w in enumerate(widths):
        total += w + PADDING
        if total > width:
            return i
    return len(widths)


def _layout(summaries: list[RunSummary], date: str, compact: set[str]) -> Layout:
    headers = [header for _, header in COLUMNS]
    keys = [key for key, _ in COLUMNS]
    if "recipe header" in compact:
        headers[keys.index("recipe")] = "recipe"
    words = "status words" in compact
    rows = []
    for s in summaries:
        epochs = f"{s.epochs_done}/{s.epochs_planned}" if s.epochs_planned else str(s.epochs_done)
        rows.append([
            "·", s.name or (s.run_id.removeprefix(date) if date and "date" in compact else s.run_id),
            s.status if words else status_text(s.status).plain, recipe_and_model(s), _num(s.val_auc),
            _num(s.test.get("accuracy")), _num(s.test.get("sensitivity")), _num(s.test.get("specificity")),
            threshold_text(s), epochs, dataset_text(s),
        ])
    return Layout(headers, rows, words)


def _cut(layout: Layout, width: int) -> Layout:
    """Cut texts with an ellipsis until the essential columns fit, then, as far as ``MIN_WIDTHS`` lets,
    until every column does: the run id first (its tail is the recipe, in the next column),
    then the data's name (never its size nor SYNTHETIC), then the recipe (keeping its model's bracket)."""
    widths = layout.widths
    keys = [key for key, _ in COLUMNS]

    def shrink(key: str, floor: int, total) -> None:
        c = keys.index(key)
        floor = max(floor, len(layout.headers[c]))  # a column is never narrower than its header
        while total() > width and widths[c] > floor:
            widths[c] -= 1

    essential = lambda: _total(widths[:ESSENTIAL])  # noqa: E731
    for key in ("run", "recipe"):
        shrink(key, MIN_WIDTHS[key], essential)
    for key in ("run", "recipe", "run", "recipe"):  # still too wide: down to MIN_CUT, a column at a time
        shrink(key, max(MIN_CUT, widths[keys.index(key)] - 4), essential)
    for key in ("run", "data", "recipe"):
        shrink(key, min(widths[keys.index(key)], MIN_WIDTHS[key]), lambda: _total(widths))
    rows = [[CUTS.get(keys[i], _ellipsis)(cell, widths[i]) for i, cell in enumerate(row)] for row in layout.rows]
    return Layout(layout.headers, rows, layout.status_words)


SETTING_HEADERS = {key: header for key, header, _ in SETTINGS}
SETTINGS_CUT = ("dataset", "model", "recipe", "run")  # cut in this order, down to SETTINGS_MIN, when too wide
SETTINGS_MIN = {"run": 16, "dataset": 10, "recipe": 8, "model": 8}
DIFFERS = "*"  # after the header of a setting that differs between the listed runs


def layout_settings(summaries: list[RunSummary], width: int, hide_constant: bool = False) -> Layout:
    """The settings view: the run, its status, the settings that differ between ``summaries`` (marked ``*``),
    then the constant ones unless ``hide_constant``, and the best epoch's val AUC. Texts are cut with an
    ellipsis (the run name or id to 16 characters at least) while the table is wider than ``width``."""
    settings = [s.settings for s in summaries]
    shown = ordered_settings(settings, hide_constant)
    changing = set(differing(settings))
    keys = ["mark", "run", "status", *shown, "best_auc"]
    headers = ["", "run", "status", *(SETTING_HEADERS[k] + (DIFFERS if k in changing else "") for k in shown),
               "val AUC"]

    def rows_with(run_text) -> list[list[str]]:
        return [["·", s.name or run_text(s.run_id), s.status, *(s.settings.get(k, "-") for k in shown),
                 _num(s.val_auc)] for s in summaries]

    layout = Layout(headers, rows_with(lambda run_id: run_id), True, keys)
    if _total(layout.widths) > width:  # the ids' dates go first (the detail line has the whole id)
        layout = Layout(headers, rows_with(lambda run_id: DATE_PREFIX.sub("", run_id)), True, keys)
    widths = layout.widths
    for key in SETTINGS_CUT:
        if key not in keys:
            continue
        c = keys.index(key)
        floor = max(SETTINGS_MIN[key], len(headers[c]))
        while _total(widths) > width and widths[c] > floor:
            widths[c] -= 1
    rows = [[_ellipsis(cell, widths[i]) for i, cell in enumerate(row)] for row in layout.rows]
    return Layout(headers, rows, True, keys)


# The sort column (training.run.listing) of each column of either view.
SORT_OF = {"run": "run", "status": "status", "recipe": "recipe", "best_auc": "val", "accuracy": "accuracy",
           "sensitivity": "sensitivity", "specificity": "specificity", "threshold": "threshold", "epochs": "done",
           "data": "dataset"}
SORT_OF_SETTINGS = {**{key: key for key, _, _ in SETTINGS}, "run": "run", "status": "status",
                    "best_auc": "val"}


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _cut_recipe(text: str, width: int) -> str:
    """``best (resnet_small)`` -> ``best (resnet…)``: the bracket says a model follows."""
    if len(text) <= width or not text.endswith(")") or width < 8:
        return _ellipsis(text, width)
    return text[: width - 2] + "…)"


DATA_SUFFIX = re.compile(r"^(.*?)((?: [\d,]+)?(?: SYNTHETIC)?)$")


def _cut_data(text: str, width: int) -> str:
    """Cut the data's name, never its size nor SYNTHETIC: ``chest_x… 5,216``, ``pneumo-… 896 SYNTHETIC``."""
    if len(text) <= width:
        return text
    name, suffix = DATA_SUFFIX.match(text).groups()
    room = width - len(suffix)
    return (name[: room - 1] + "…" if room >= 2 else "…") + suffix


CUTS = {"recipe": _cut_recipe, "data": _cut_data}


class RunTable(DataTable):
    """Rows keyed by run id; space toggles a run into the overlay (its marker and colour show it).

    ``show_runs`` gives it every run; it shows those that match ``filter_text``, sorted by ``sort_by``
    (a column key; None: by run id), in the ``view`` "figures" (COLUMNS) or "settings" (layout_settings)."""

    DEFAULT_CSS = "RunTable { scrollbar-size-vertical: 1; }"
    BINDINGS = [("space", "toggle_selected", "Overlay")]

    class SelectionChanged(Message):
        """The set of runs picked for the overlay changed."""

        def __init__(self, table: RunTable):
            super().__init__()
            self.table = table

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.all: dict[str, RunSummary] = {}  # every run given, by id
        self.summaries: dict[str, RunSummary] = {}  # those shown, in their order
        self.selected: list[str] = []  # run ids, in the order they were picked
        self.layout_now: Layout | None = None  # what the table shows (tests read it)
        self.view = "figures"  # or "settings"
        self.hide_constant = False  # the settings view leaves out the settings every listed run shares
        self.filter_text = ""
        self.sort_by: str | None = None  # a column key of the view; None: by run id
        self.sort_reverse = False
        self._laid_out_for: tuple | None = None

    def show_runs(self, summaries: list[RunSummary]) -> None:
        """Update in place, keeping the cursor on the same run."""
        if [s.to_json() for s in summaries] == [s.to_json() for s in self.all.values()]:
            return  # unchanged: keep the table (and the screen) as it is
        self.all = {s.run_id: s for s in summaries}
        self._arrange()

    def _arrange(self) -> None:
        """Filter, sort and show the runs again (after new runs, a new filter, sort or view)."""
        runs = filter_runs(list(self.all.values()), self.filter_text)
        column = self.sort_column
        if column is not None:
            runs = sort_runs(runs, column, self.sort_reverse)
        elif self.sort_reverse:
            runs = runs[::-1]
        self.summaries = {s.run_id: s for s in runs}
        before = list(self.selected)
        self.selected = [r for r in self.selected if r in self.summaries]
        self._fill()
        if self.selected != before:
            self.post_message(self.SelectionChanged(self))

    @property
    def sort_column(self) -> str | None:
        """The column of training.run.listing the table is sorted by (None: by run id)."""
        if self.sort_by is None:
            return None
        return (SORT_OF_SETTINGS if self.view == "settings" else SORT_OF).get(self.sort_by) or \
            SORT_OF.get(self.sort_by) or SORT_OF_SETTINGS.get(self.sort_by)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self._arrange()

    def sort_on(self, key: str | None, reverse: bool | None = None) -> None:
        """Sort by the column ``key`` (None: by run id); ``reverse`` None keeps the direction."""
        self.sort_by = key
        if reverse is not None:
            self.sort_reverse = reverse
        self._arrange()

    def next_sort(self) -> None:
        """Sort by the next column of the view (after the last: by run id again)."""
        keys = [k for k in (self.layout_now.keys if self.layout_now else [k for k, _ in COLUMNS]) if k != "mark"]
        at = keys.index(self.sort_by) if self.sort_by in keys else 0
        self.sort_on(keys[at + 1] if at + 1 < len(keys) else None, reverse=False)

    def toggle_view(self) -> None:
        self.view = "settings" if self.view == "figures" else "figures"
        self._fill()

    def toggle_hide_constant(self) -> None:
        self.hide_constant = not self.hide_constant
        if self.view != "settings":
            self.view, self.hide_constant = "settings", True
        self._fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by its column; a second click turns the order round (the event goes on
        up: the Runs screen says how the table is sorted)."""
        key = event.column_key.value
        if key == "mark":
            return
        self.sort_on(key, reverse=not self.sort_reverse if key == self.sort_by else False)

    def on_resize(self) -> None:
        if self.summaries and self._laid_out_for != self._room():
            self._fill()  # the layout follows the width (a resize, not a tick)

    def _room(self) -> tuple[int, int]:
        """(columns the cells may take, rows): less a column for the scroll bar when the rows overflow."""
        width = self.size.width or self.app.size.width
        view_height = self.parent.size.height if self.parent is not None else self.app.size.height
        overflows = len(self.summaries) + 1 > max(4, int(view_height * 0.35))  # runs.tcss: max-height 35%
        return width - (self.styles.scrollbar_size_vertical if overflows else 0), len(self.summaries)

    def _fill(self) -> None:
        current, scroll = self.current_run_id, (self.scroll_x, self.scroll_y)
        room = self._room()
        self._laid_out_for = room
        summaries = list(self.summaries.values())
        if self.view == "settings":
            layout = layout_settings(summaries, room[0], self.hide_constant)
        else:
            layout = layout_runs(summaries, room[0])
        self.clear(columns=True)  # the columns too: a kept column keeps its width, however its cells shrink
        for key, header in zip(layout.keys, layout.headers, strict=True):
            self.add_column(plain(header), key=key)
        self.layout_now = layout
        for s, cells in zip(summaries, layout.rows, strict=True):
            status = status_text(s.status)
            # Every cell a Text: a plain str would be read as Rich markup, and these come from files on disk.
            self.add_row(self._mark(s.run_id), plain(cells[1]), Text(cells[2], style=status.style),
                         *map(plain, cells[3:]), key=s.run_id)
        if current in self.summaries:
            self.move_cursor(row=self.get_row_index(current), scroll=False)
        self.scroll_to(*scroll, animate=False, immediate=True)  # a refresh (a tick of a live run) keeps the view

    def _mark(self, run_id: str) -> Text:
        """The run's overlay marker in its colour (the curve's marker in the charts), or a dot."""
        if run_id not in self.selected:
            return Text("·")
        return Text(curve_marker(self.selected.index(run_id)), style=run_colour(run_id))

    @property
    def current_run_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # empty or moving table
            return None

    @property
    def current(self) -> RunSummary | None:
        run_id = self.current_run_id
        return self.summaries.get(run_id) if run_id is not None else None

    def action_toggle_selected(self) -> None:
        run_id = self.current_run_id
        if run_id is None:
            return
        was = list(self.selected)
        if run_id in self.selected:
            self.selected.remove(run_id)
        else:
            self.selected.append(run_id)
        for changed in dict.fromkeys(was + self.selected):  # the later runs' markers move up one
            self.update_cell(changed, "mark", self._mark(changed))
        self.post_message(self.SelectionChanged(self))
