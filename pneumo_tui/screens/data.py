"""The Data screen: the dataset's statistics, its problems and a few X-rays per class.

Statistics of a large folder take seconds (every image header is read), so
they are computed in a worker thread behind a loading indicator; the UI stays live.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich import box
from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import LoadingIndicator, Static
from textual.worker import get_current_worker

from pneumo_tui.plain import PlainTable as Table
from training.core.errors import one_line

from ..widgets.charts import BarChart
from ..widgets.folded import FoldedLines
from ..widgets.samples import SampleStrip
from .tab_view import TabView

CLASS_COLOURS = {"NORMAL": "#4e9af1", "PNEUMONIA": "#f59e0b", "bacteria": "#ef4444", "virus": "#a855f7"}
SPLIT_ORDER = ("train", "val", "test")
SAMPLES_PER_CLASS = 4


def load_dataset(path: Path, samples_per_class: int = SAMPLES_PER_CLASS, progress=None) -> tuple[dict, dict]:
    """(stats, samples): the heavy part of the Data screen, run off the UI thread."""
    from training.data.stats import compute_stats

    stats = compute_stats(path, progress=progress)
    return stats, load_samples(path, samples_per_class)


def load_samples(path: Path, per_class: int) -> dict:
    """The first readable images of each class (sorted ids, so the strip is the same every time)."""
    from PIL import Image

    from training.data.records import CLASSES, UnreadableImage
    from training.data.sources import open_source

    source = open_source(path)
    by_class: dict[str, list] = {name: [] for name in CLASSES}
    for record in sorted(source.records(),
                         key=lambda r: (SPLIT_ORDER.index(r.split) if r.split in SPLIT_ORDER else 9, r.id)):
        picked = by_class[record.class_name]
        if len(picked) >= per_class:
            continue
        try:
            pixels = source.load(record)
        except UnreadableImage:
            continue
        image = Image.fromarray(pixels).convert("L")
        image.thumbnail((128, 128))
        picked.append((record.id, image.convert("RGB")))
        if all(len(v) >= per_class for v in by_class.values()):
            break
    return by_class


# ---- reading the stats dict (training.data.stats) -------------------------------------------------


def split_counts(stats: dict) -> dict[str, dict[str, int]]:
    """{split: {class: count}} in train/val/test order."""
    splits = stats.get("splits") or {}
    ordered = sorted(splits, key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else 9)
    out = {}
    for split in ordered:
        value = splits[split]
        counts = value.get("classes", value) if isinstance(value, dict) else {}
        out[split] = {k: int(v) for k, v in counts.items() if isinstance(v, (int, float)) and k != "total"}
    return out


def unavailable(stats: dict, what: str) -> str | None:
    """Why the data cannot give ``what`` (patients, subtypes): the words ``pneumo stats`` prints instead of a count."""
    words = (stats.get("unavailable") or {}).get(what)
    return words if isinstance(words, str) and words else None


def _items(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in ("patients", "groups", "items", "files"):
            if isinstance(value.get(key), list):
                return value[key]
    return []


def warnings_of(stats: dict) -> dict[str, list]:
    """The items of each check (patients in several splits, duplicate groups, unreadable and skipped files)."""
    return {
        "cross-split patients": _items(stats.get("cross_split_patients")),
        "duplicates": _items(stats.get("duplicates")),
        "unreadable files": _items(stats.get("unreadable")),
        "skipped while listing": _items(stats.get("problems")),
    }


def describe_item(item) -> list[str]:
    """One problem in words, as ``pneumo stats`` lists it: a name and what is wrong, one path per line."""
    if isinstance(item, dict) and "patient" in item:
        splits = item.get("splits") if isinstance(item.get("splits"), dict) else {}
        return [f"{item['patient']}: " + ", ".join(f"{split} {n}" for split, n in splits.items())]
    if isinstance(item, dict) and isinstance(item.get("paths"), list):
        where = ", ".join(map(str, item.get("splits") or []))
        labels = ", ".join(map(str, item.get("labels") or []))
        conflict = " (conflicting labels)" if len(item.get("labels") or []) > 1 else ""
        return [f"{len(item['paths'])} identical files in {where}, labelled {labels}{conflict}:",
                *(f"  {path}" for path in item["paths"])]
    if isinstance(item, dict) and "path" in item:
        return [f"{item['path']}: {item.get('reason') or 'unreadable'}"]
    return [str(item)]


def size_histogram(stats: dict, axis: str = "width") -> list[tuple[str, float]]:
    """(label, count) bars of the image widths: one bar when every image has one size, else a bar per bin
    labelled with the whole pixel sizes it holds (224-247, 248-271: no size in two bins)."""
    sizes = stats.get("sizes") or {}
    summary = sizes.get(axis) if isinstance(sizes.get(axis), dict) else sizes
    if not isinstance(summary, dict):
        return []
    if summary.get("n") and summary.get("min") is not None and summary.get("min") == summary.get("max"):
        return [(_pixels(summary["min"]), float(summary["n"]))]
    hist = summary.get("histogram")
    if isinstance(hist, dict) and "edges" in hist and "counts" in hist:  # numpy's bins: [lo, hi), the last [lo, hi]
        edges, counts = hist["edges"], hist["counts"]
        rows = []
        for i, n in enumerate(counts):
            lo = math.ceil(edges[i])
            hi = math.floor(edges[i + 1]) if i == len(counts) - 1 else math.ceil(edges[i + 1]) - 1
            if lo > hi:  # no whole size falls in this bin
                if n:
                    rows.append((f"{edges[i]:g}-{edges[i + 1]:g}", float(n)))
                continue
            rows.append((str(lo) if lo == hi else f"{lo}-{hi}", float(n)))
        return rows
    return []


def _pixels(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def subtype_counts(stats: dict) -> dict[str, int]:
    subtypes = stats.get("subtypes") or {}
    total: dict[str, int] = {}
    for key, value in subtypes.items():
        if isinstance(value, dict):  # per split
            for sub, n in value.items():
                if isinstance(n, (int, float)) and n:
                    total[sub] = total.get(sub, 0) + int(n)
        elif isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + int(value)
    return total


# ---- widgets ---------------------------------------------------------------------------------


def counts_table(counts: dict[str, dict[str, int]], patients: dict | None,
                 no_patients: str | None = None) -> Table | Group:
    """Images per split and class; the patients per split, or (``no_patients``) the words saying why there are none."""
    classes = sorted({c for row in counts.values() for c in row})
    table = Table(title="Images per split", title_justify="left", expand=False, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("split")
    for c in classes:
        table.add_column(c, justify="right")
    table.add_column("total", justify="right")
    table.add_column("% pneu", justify="right")
    show_patients = bool(patients) and not no_patients
    if show_patients:
        table.add_column("patients", justify="right")
    for split, row in counts.items():
        total = sum(row.values())
        share = f"{row.get('PNEUMONIA', 0) / total:.1%}" if total else "-"
        cells = [split, *(str(row.get(c, 0)) for c in classes), str(total), share]
        if show_patients:
            p = patients.get(split)
            cells.append(str(p.get("patients", "-") if isinstance(p, dict) else (p if p is not None else "-")))
        table.add_row(*cells)
    return Group(table, Text(f"patients: {no_patients}")) if no_patients else table


def checks_text(stats: dict) -> Text:
    """The Checks panel: ok, a count, or the words saying why a check cannot be made on this data."""
    text = Text("Checks\n", style="bold")
    warnings = warnings_of(stats)
    no_patients = unavailable(stats, "patients")
    for title, items in warnings.items():
        if title == "cross-split patients" and no_patients:
            text.append(f"{title}: {no_patients}\n", style="italic")
        elif items:
            text.append(f"! {len(items)} {title}\n", style="bold yellow")
        elif title != "skipped while listing":
            text.append(f"ok: no {title}\n")
    if any(warnings.values()):
        text.append("press w to list them", style="italic")
    text.rstrip()
    return text


def problem_lines(stats: dict, limit: int = 2000) -> list[str]:
    """Every problem of the dataset in words, a heading per check (the Problems dialog)."""
    lines = []
    no_patients = unavailable(stats, "patients")
    for title, items in warnings_of(stats).items():
        if title == "cross-split patients" and no_patients:
            lines.append(f"── {title}: {no_patients}")
            continue
        if title == "skipped while listing" and not items:
            continue
        lines.append(f"── {title}: {len(items)}")
        for item in items[:limit]:
            lines += [f"  {line}" for line in describe_item(item)]
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more (pneumo stats --json lists them all)")
    return lines


class ProblemList(ModalScreen):
    """Every problem of the dataset in words; Esc closes, q quits as everywhere, the arrows scroll."""

    # A modal screen hides the app's keys: q is bound here too, so that it quits here as everywhere.
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("q", "app.quit", "Quit")]

    def __init__(self, stats: dict):
        super().__init__()
        self.stats = stats

    @property
    def lines(self) -> list[str]:
        return self.query_one(FoldedLines).lines

    def compose(self) -> ComposeResult:
        with Vertical(id="problem-dialog"):
            yield Static("Dataset problems · Esc close · q quit · arrows scroll", classes="dialog-title")
            with VerticalScroll(id="problem-list", can_focus=True):
                yield FoldedLines(problem_lines(self.stats))

    def on_mount(self) -> None:
        self.query_one("#problem-list").focus()


class DataView(TabView):
    """Tables, bars, warnings and samples of the configured dataset."""

    BINDINGS = [
        Binding("w", "show_problems", "Problems"),
        Binding("o", "app.open_data", "Open data"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self, data: Path | None, image_protocol: str = "auto", **kwargs):
        super().__init__(**kwargs)
        self.data = data
        self.image_protocol = image_protocol
        self.stats: dict | None = None
        self.samples: dict = {}
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="data-title")
        yield LoadingIndicator(id="data-loading")
        # The body stays on screen (empty while loading) so that it keeps the focus across a reload.
        with VerticalScroll(id="data-body", can_focus=True):
            with Horizontal(id="data-top"):
                yield Static(id="data-counts")
                yield Static(id="data-warnings")
            with Horizontal(id="data-bars"):
                yield BarChart(id="bar-balance")
                yield BarChart(id="bar-subtypes")
                yield BarChart(id="bar-sizes")
            yield Vertical(id="data-samples")

    def on_mount(self) -> None:
        self.show_data(self.data)

    # ---- the children the view works with

    @property
    def title(self) -> Static:
        return self.query_one("#data-title", Static)

    @property
    def loading_indicator(self) -> LoadingIndicator:
        return self.query_one(LoadingIndicator)

    @property
    def body(self) -> VerticalScroll:
        return self.query_one("#data-body", VerticalScroll)

    def static(self, name: str) -> Static:
        """The text block ``name`` of the body: counts or warnings."""
        return self.query_one(f"#data-{name}", Static)

    def bars(self, name: str) -> BarChart:
        """The bar chart ``name``: balance, subtypes or sizes."""
        return self.query_one(f"#bar-{name}", BarChart)

    @property
    def samples_box(self) -> Vertical:
        return self.query_one("#data-samples", Vertical)

    @property
    def focus_target(self) -> Widget:
        return self.body

    # ---- showing a dataset

    def show_data(self, path: Path | None) -> None:
        self.data = path
        self.stats = None
        self.set_class(True, "-empty")
        if path is None:
            self.title.update("No dataset yet: press o to open one (or create the demo set).")
            self.loading_indicator.display = False
            return
        self.title.update(Text(f"Reading {path} ..."))  # paths are text, never markup
        self.loading_indicator.display = True
        self._load(path)

    def action_reload(self) -> None:
        self.show_data(self.data)

    @work(thread=True, exclusive=True, group="data")
    def _load(self, path: Path) -> None:
        worker = get_current_worker()
        shown = [0.0]

        def progress(done: int, total: int) -> None:
            # At most ~50 screen updates however many files there are.
            if total and (done == total or done / total - shown[0] >= 0.02) and not worker.is_cancelled:
                shown[0] = done / total
                self.app.call_from_thread(self._show_reading, path, done, total)

        try:
            stats, samples = load_dataset(path, progress=progress)
        except Exception as exc:  # a bad folder is a message on screen, never a crash
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_error, path, exc)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_stats, path, stats, samples)

    def _show_reading(self, path: Path, done: int, total: int) -> None:
        if self.stats is None:
            self.title.update(Text(f"Reading {path}: {done}/{total} files ..."))

    def _show_error(self, path: Path, exc: Exception) -> None:
        self.error = one_line(exc)
        self.loading_indicator.display = False
        self.title.update(Text(f"Cannot read {path}: {self.error}", style="bold red"))
        self._take_focus()

    def _show_stats(self, path: Path, stats: dict, samples: dict) -> None:
        self.stats, self.samples, self.error = stats, samples, None
        self.loading_indicator.display = False
        self.set_class(False, "-empty")
        title = Text()
        title.append(str(path), style="bold")
        kind = (stats.get("source") or {}).get("kind") if isinstance(stats.get("source"), dict) else None
        if kind:
            title.append(f" ({kind})")
        title.append(f"  {stats.get('total', '?')} images")
        if stats.get("synthetic"):
            title.append("  SYNTHETIC", style="bold reverse")
        self.title.update(title)

        counts = split_counts(stats)
        no_patients, no_subtypes = unavailable(stats, "patients"), unavailable(stats, "subtypes")
        self.static("counts").update(counts_table(counts, stats.get("patients"), no_patients))
        self.static("warnings").update(checks_text(stats))
        balance = []
        for split, row in counts.items():
            for cls, n in row.items():
                balance.append((f"{split} {cls[:4]}", n, CLASS_COLOURS.get(cls, "white")))
        self.bars("balance").show("Class balance", balance)
        if no_subtypes:
            self.bars("subtypes").show(f"Pneumonia subtypes\n{no_subtypes}", [])
        else:
            subtypes = subtype_counts(stats)
            self.bars("subtypes").show(
                "Pneumonia subtypes", [(k, v, CLASS_COLOURS.get(k, "white")) for k, v in sorted(subtypes.items())],
                total=sum(subtypes.values()) or None,
            )
        self.bars("sizes").show(
            "Image width (px)", [(k, v, "#14b8a6") for k, v in size_histogram(stats)])
        box = self.samples_box
        box.remove_children()
        if samples:
            box.mount(SampleStrip(samples, self.image_protocol))
        self._take_focus()

    def _take_focus(self) -> None:
        """Loaded while on view with the focus lost (the Open dialog closed meanwhile, say): the body takes it."""
        try:
            on_view = all(node.display for node in self.body.ancestors_with_self if isinstance(node, Widget))
            if on_view and self.screen.is_current and self.app.focused is None:
                self.body.focus()
        except (NoMatches, ScreenStackError, NoScreen):  # the app is closing
            return

    def action_show_problems(self) -> None:
        if self.stats is not None:
            self.app.push_screen(ProblemList(self.stats))
