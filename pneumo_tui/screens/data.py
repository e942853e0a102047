"""The Data screen: the dataset's statistics, its problems and a few X-rays per class.

Statistics of a large folder take seconds (every image header is read), so
they are computed in a worker thread behind a loading indicator; the UI stays live.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import LoadingIndicator, OptionList, Static
from textual.worker import get_current_worker

from ..widgets.charts import BarChart
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


def _as_list(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in ("items", "groups", "patients", "files"):
            if isinstance(value.get(key), list):
                return value[key]
        return [{"name": k, "detail": v} for k, v in value.items()]
    return []


def describe_item(item) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):  # checksums identify, but say nothing to a reader
        return "  ".join(f"{k}={_short(v)}" for k, v in item.items() if k != "md5")
    if isinstance(item, (list, tuple)):
        return ", ".join(_short(v) for v in item)
    return str(item)


def _short(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v[:4])) + (f",+{len(v) - 4}" if len(v) > 4 else "")
    return str(v)


def warnings_of(stats: dict) -> dict[str, list]:
    return {
        "cross-split patients": _as_list(stats.get("cross_split_patients")),
        "duplicates": _as_list(stats.get("duplicates")),
        "unreadable files": _as_list(stats.get("unreadable")),
    }


def size_histogram(stats: dict, axis: str = "width") -> list[tuple[str, float]]:
    sizes = stats.get("sizes") or {}
    if isinstance(sizes.get(axis), dict):
        sizes = sizes[axis]
    hist = sizes.get("histogram") if isinstance(sizes, dict) else None
    if isinstance(hist, dict) and "edges" in hist and "counts" in hist:  # numpy-style bins
        edges = hist["edges"]
        return [(f"{edges[i]:.0f}-{edges[i + 1]:.0f}", float(n)) for i, n in enumerate(hist["counts"])]
    if isinstance(hist, dict):
        return [(str(k), float(v)) for k, v in hist.items()]
    if isinstance(hist, list):
        rows = []
        for item in hist:
            if isinstance(item, dict):
                label = item.get("label") or item.get("bin") or f"{item.get('lo', '?')}-{item.get('hi', '?')}"
                rows.append((str(label), float(item.get("count", 0))))
            elif isinstance(item, (list, tuple)) and len(item) >= 2:
                rows.append((str(item[0]), float(item[-1])))
        return rows
    return []


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


def counts_table(counts: dict[str, dict[str, int]], patients: dict | None) -> Table:
    classes = sorted({c for row in counts.values() for c in row})
    table = Table(title="Images per split", title_justify="left", expand=False, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("split")
    for c in classes:
        table.add_column(c, justify="right")
    table.add_column("total", justify="right")
    table.add_column("% pneu", justify="right")
    if patients:
        table.add_column("patients", justify="right")
    for split, row in counts.items():
        total = sum(row.values())
        share = f"{row.get('PNEUMONIA', 0) / total:.1%}" if total else "-"
        cells = [split, *(str(row.get(c, 0)) for c in classes), str(total), share]
        if patients:
            p = patients.get(split)
            cells.append(str(p.get("patients", "-") if isinstance(p, dict) else (p if p is not None else "-")))
        table.add_row(*cells)
    return table


class ProblemList(ModalScreen):
    """Every warning item, one per line; Esc closes."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, warnings: dict[str, list]):
        super().__init__()
        self.warnings = warnings

    def compose(self) -> ComposeResult:
        lines = []
        for title, items in self.warnings.items():
            lines.append(f"── {title}: {len(items)}")
            lines += [f"  {describe_item(i)}" for i in items[:2000]]
        with Vertical(id="problem-dialog"):
            yield Static("Dataset problems (Esc to close)", classes="dialog-title")
            yield OptionList(*lines, id="problem-list")


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
        if path is None:
            self.title.update("No dataset yet: press o to open one (or create the demo set).")
            self.loading_indicator.display = False
            self.body.display = False
            return
        self.title.update(f"Reading {path} ...")
        self.loading_indicator.display = True
        self.body.display = False
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
            self.title.update(f"Reading {path}: {done}/{total} files ...")

    def _show_error(self, path: Path, exc: Exception) -> None:
        self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.loading_indicator.display = False
        self.title.update(Text(f"Cannot read {path}: {self.error}", style="bold red"))

    def _show_stats(self, path: Path, stats: dict, samples: dict) -> None:
        self.stats, self.samples, self.error = stats, samples, None
        self.loading_indicator.display = False
        self.body.display = True
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
        self.static("counts").update(counts_table(counts, stats.get("patients")))
        self.static("warnings").update(self._warnings_text(stats))
        balance = []
        for split, row in counts.items():
            for cls, n in row.items():
                balance.append((f"{split} {cls[:4]}", n, CLASS_COLOURS.get(cls, "white")))
        self.bars("balance").show("Class balance", balance)
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

    def _warnings_text(self, stats: dict) -> Text:
        text = Text("Checks\n", style="bold")
        for title, items in warnings_of(stats).items():
            if items:
                text.append(f"! {len(items)} {title}\n", style="bold yellow")
            else:
                text.append(f"ok: no {title}\n")
        if any(warnings_of(stats).values()):
            text.append("press w to list them", style="italic")
        return text

    def action_show_problems(self) -> None:
        if self.stats is not None:
            self.app.push_screen(ProblemList(warnings_of(self.stats)))
