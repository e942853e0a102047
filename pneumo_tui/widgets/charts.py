"""Training curves (textual-plot) and text bar charts.

The maths (smoothing, downsampling, colours, log ticks) is plain functions so it
is tested without a terminal; the widgets only hand prepared arrays to PlotWidget.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Static
from textual_hires_canvas import Canvas
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import AxisFormatter, NumericAxisFormatter

from training.run.schema import LOSS_CHART, SCORE_CHART


def _tolerate_unsized_canvases() -> None:
    """Give every plot canvas a styled blank line before its first layout.

    textual-hires-canvas answers a canvas not sized yet with ``Strip.blank(0)``,
    a segment without a style, and Textual's NO_COLOR (monochrome) filter fails
    on that. Patched once here so that every PlotWidget in the app (the review
    screens' too) works with NO_COLOR.
    """
    if getattr(Canvas.render_line, "_pneumo_patched", False):
        return
    original = Canvas.render_line

    def render_line(self, y: int) -> Strip:
        strip = original(self, y)
        return strip if strip.cell_length else Strip.blank(self.size.width, self.rich_style)

    render_line._pneumo_patched = True
    Canvas.render_line = render_line


_tolerate_unsized_canvases()

# Distinct on dark and light themes; a run keeps its colour on every screen and in every session.
PALETTE = ("#4e9af1", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#14b8a6", "#eab308", "#ec4899")
# One colour per metric for a single run's charts.
# One colour per charted metric, in the order of the charts' legends (training.run.schema).
METRIC_COLOURS = dict(zip(LOSS_CHART, ("#4e9af1", "#f59e0b"), strict=True)) | dict(
    zip(SCORE_CHART, ("#f59e0b", "#10b981", "#ef4444", "#a855f7"), strict=True))
FAINT = "#5c6370"


def run_colour(run_id: str) -> str:
    """A colour that depends only on the run id (crc32 is stable across processes, unlike hash())."""
    return PALETTE[zlib.crc32(run_id.encode()) % len(PALETTE)]


def ema_smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average (weight 0 = raw, 0.99 = very smooth).

    The debiasing divides by 1 - weight**n so the first points are not pulled towards 0.
    """
    if weight <= 0:
        return list(values)
    weight = min(weight, 0.999)
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int) -> tuple[list[float], list[float]]:
    """At most ~max_points points that draw like the full series.

    Points are bucketed along x; each bucket keeps its min and max (in order) so
    spikes survive, which an average or a stride would hide.
    """
    n = len(xs)
    if n <= max_points or max_points < 4:
        return list(xs), list(ys)
    buckets = max_points // 2
    out_x, out_y = [], []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if lo >= hi:
            continue
        seg = range(lo, hi)
        i_min = min(seg, key=ys.__getitem__)
        i_max = max(seg, key=ys.__getitem__)
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y


class LogAxisFormatter(AxisFormatter):
    """Ticks for an axis whose data are log10 values: labelled with the real values."""

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        candidates = []
        for power in range(math.floor(min_) - 1, math.ceil(max_) + 1):
            for m in (1, 2, 5):
                t = power + math.log10(m)
                if min_ <= t <= max_:
                    candidates.append(t)
        if len(candidates) < 2:  # a narrow range: fall back to evenly spaced log ticks
            return NumericAxisFormatter().get_ticks(min_, max_, max_ticks)
        step = max(1, math.ceil(len(candidates) / max_ticks))
        return candidates[::step]

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [f"{10**t:.2g}" for t in ticks]


class IntegerAxisFormatter(NumericAxisFormatter):
    """Whole-number ticks (epochs): never "1.5"."""

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        ticks = [t for t in super().get_ticks(min_, max_, max_ticks) if float(t).is_integer()]
        if len(ticks) < 2:
            ticks = [float(t) for t in range(math.ceil(min_), math.floor(max_) + 1)][:max_ticks]
        return ticks

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [str(int(t)) for t in ticks]


@dataclass
class Curve:
    label: str
    x: list[float]
    y: list[float]
    colour: str


class CurveChart(Vertical):
    """A titled line chart: smoothing with the raw curve faint, optional log y, a marked x."""

    DEFAULT_CSS = """
    CurveChart { height: 1fr; min-height: 7; }
    CurveChart > .chart-title { height: 1; padding: 0 1; text-style: bold; }
    CurveChart > PlotWidget { height: 1fr; }
    """

    def __init__(self, title: str, *, integer_x: bool = False, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title = title
        self.integer_x = integer_x
        self._curves: list[Curve] = []
        self._smoothing = 0.0
        self._log = False
        self._mark_x: float | None = None
        self._ylimits: tuple[float | None, float | None] = (None, None)
        self.drawn_points = 0  # points handed to the plot on the last draw (tests check downsampling)
        self._hint = ""
        self._shown_title: Text | None = None
        self._signature: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="chart-title")
        yield PlotWidget(allow_pan_and_zoom=False)

    def on_mount(self) -> None:
        plot = self.plot
        plot.margin_left, plot.margin_bottom, plot.margin_top = 7, 2, 1  # room for the curves at 80x24
        plot.show_legend(is_visible=False)
        if self.integer_x:
            plot.set_x_formatter(IntegerAxisFormatter())
        self._show_title()

    @property
    def plot(self) -> PlotWidget:
        return self.query_one(PlotWidget)

    def set_data(
        self,
        curves: list[Curve],
        *,
        smoothing: float = 0.0,
        log: bool = False,
        mark_x: float | None = None,
        ylimits: tuple[float | None, float | None] = (None, None),
        title: str | None = None,
    ) -> None:
        signature = (
            tuple((c.label, c.colour, len(c.x), c.x[-1] if c.x else None, c.y[-1] if c.y else None) for c in curves),
            smoothing, log, mark_x, ylimits, title,
        )
        if signature == self._signature:
            return  # same data as drawn: a redraw would cost a full re-render for nothing
        self._signature = signature
        self._curves, self._smoothing, self._log, self._mark_x, self._ylimits = curves, smoothing, log, mark_x, ylimits
        if title is not None:
            self.title = title
        self._show_title()
        self.redraw()

    @property
    def hint(self) -> str:
        return self._hint

    @hint.setter
    def hint(self, value: str) -> None:
        self._hint = value
        if self.is_mounted:
            self._show_title()

    def _show_title(self) -> None:
        # The legend lives in the title line: PlotWidget's floating legend re-lays out the screen on every draw.
        title = Text(self.title, style="bold")
        for curve in self._curves:
            title.append("  ")
            title.append("━━", style=curve.colour)
            title.append(f" {curve.label}")
        if self._mark_x is not None:
            title.append("  │ best", style="bold")
        title.append(self._hint)
        if title != self._shown_title:
            self._shown_title = title
            self.query_one(".chart-title", Static).update(title, layout=False)  # one fixed line: no relayout

    def on_resize(self) -> None:
        self.redraw()  # the point budget follows the width

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        with self.app.batch_update():
            self._draw()

    def _draw(self) -> None:
        plot = self.plot
        plot.clear()
        # Braille draws 2 points per cell across; more would be invisible work.
        budget = max(8, 2 * max(1, plot.size.width - plot.margin_left))
        self.drawn_points = 0
        plot.set_y_formatter(LogAxisFormatter() if self._log else NumericAxisFormatter())
        plot.set_ylimits(*(self._ylimits if not self._log else (None, None)))
        for curve in self._curves:
            ys = curve.y
            if self._log:
                xs, ys = _positive(curve.x, ys)
                ys = [math.log10(v) for v in ys]
            else:
                xs = curve.x
            if not xs:
                continue
            if self._smoothing > 0 and len(ys) > 2:
                rx, ry = downsample(xs, ys, budget)
                plot.plot(rx, ry, line_style=FAINT, hires_mode=HiResMode.BRAILLE)
                ys = ema_smooth(ys, self._smoothing)
                self.drawn_points += len(rx)
            dx, dy = downsample(xs, ys, budget)
            self.drawn_points += len(dx)
            if len(dx) == 1:
                plot.scatter(dx, dy, marker_style=curve.colour, hires_mode=HiResMode.BRAILLE, label=curve.label)
            else:
                plot.plot(dx, dy, line_style=curve.colour, hires_mode=HiResMode.BRAILLE, label=curve.label)
        if self._mark_x is not None:
            plot.add_v_line(self._mark_x, line_style="bold")


def _positive(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]
    return [p[0] for p in pairs], [p[1] for p in pairs]


class ChartDeck(Container):
    """Several charts stacked; when not all fit, as many as fit, starting at the selected one (v cycles)."""

    MIN_CHART_HEIGHT = 10
    selected = reactive(0)

    DEFAULT_CSS = """
    ChartDeck { height: 1fr; }
    """

    def on_resize(self) -> None:
        self._layout()

    def watch_selected(self) -> None:
        self._layout()

    def charts(self) -> list[CurveChart]:
        return list(self.query_children(CurveChart))

    def cycle(self) -> None:
        if self.charts():
            self.selected = (self.selected + 1) % len(self.charts())

    def fitting(self) -> int:
        return max(1, min(len(self.charts()), self.size.height // self.MIN_CHART_HEIGHT))

    def visible_charts(self) -> list[CurveChart]:
        return [c for c in self.charts() if c.display]

    def _layout(self) -> None:
        charts = self.charts()
        if not charts:
            return
        shown = self.fitting()
        wanted = {(self.selected + i) % len(charts) for i in range(shown)}
        for i, chart in enumerate(charts):
            chart.display = i in wanted
            chart.hint = f"  [{i + 1}/{len(charts)}, v: next]" if shown < len(charts) else ""


def text_bars(rows: Sequence[tuple[str, float, str]], width: int = 30, total: float | None = None) -> Text:
    """Horizontal bars as text: (label, value, colour) rows; readable with NO_COLOR too."""
    text = Text()
    if not rows:
        return text
    label_w = max(len(r[0]) for r in rows)
    top = max((r[1] for r in rows), default=0) or 1
    for label, value, colour in rows:
        cells = value / top * width
        full = int(cells)
        bar = "█" * full + (_EIGHTHS[int((cells - full) * 8)] if full < width else "")
        share = f" {value / total:5.1%}" if total else ""
        text.append(f"{label:<{label_w}} ")
        text.append(bar.ljust(width), style=colour)
        text.append(f" {_fmt_count(value)}{share}\n")
    text.rstrip()
    return text


_EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")


def _fmt_count(v: float) -> str:
    return f"{int(v):d}" if float(v).is_integer() else f"{v:.3g}"


class BarChart(Static):
    """A titled text bar chart (class balance, size histogram, subtypes); bars fill the width it gets."""

    DEFAULT_CSS = """
    BarChart { height: auto; padding: 0 1; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._title, self._rows, self._total = "", [], None

    def show(self, title: str, rows: Sequence[tuple[str, float, str]], total: float | None = None) -> None:
        self._title, self._rows, self._total = title, list(rows), total
        self.refresh(layout=True)

    def render(self) -> Text:
        text = Text(self._title + "\n", style="bold")
        if self._rows:
            label_w = max(len(r[0]) for r in self._rows)
            number_w = max(len(_fmt_count(r[1])) for r in self._rows) + (7 if self._total else 0)
            width = max(3, self.content_region.width - label_w - number_w - 3)
            text.append_text(text_bars(self._rows, width=width, total=self._total))
        return text
