"""Training curves (textual-plot) and text bar charts.

The maths (smoothing, downsampling, colours, log ticks) is plain functions so it
is tested without a terminal; the widgets only hand prepared arrays to PlotWidget.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Static
from textual_hires_canvas import Canvas
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import AxisFormatter

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


# ---- axis ticks: evenly spaced nice numbers, distinct labels, as many as the axis has room for

NICE_MANTISSAS = (1.0, 2.0, 2.5, 5.0)  # ticks are 1, 2, 2.5 or 5 x 10^k apart
Y_LABEL_WIDTH = 6  # the charts' left margin (7) less the column PlotWidget keeps free


def _exact_decimals(values: Sequence[float], limit: int = 10) -> int:
    """The fewest decimals that write every value exactly (so distinct values get distinct labels)."""
    gaps = [abs(b - a) for a, b in zip(values, values[1:], strict=False) if b != a]
    tolerance = 1e-6 * min([abs(v) for v in values if v] + gaps, default=1.0)
    for d in range(limit + 1):
        if all(abs(round(v, d) - v) <= tolerance for v in values):
            return d
    return limit


def _sci(values: Sequence[float]) -> list[str]:
    """Compact scientific labels (``2.5e-4``), with the fewest mantissa decimals that keep them exact."""
    parts = []
    for v in values:
        e = math.floor(math.log10(abs(v))) if v else 0
        parts.append((v / 10**e, e))
    d = _exact_decimals([m for m, _ in parts], limit=4)
    return ["0" if v == 0 else f"{m:.{d}f}e{e}" for v, (m, e) in zip(values, parts, strict=True)]


def tick_labels(ticks: Sequence[float], max_width: int | None = None) -> list[str]:
    """One label per tick, with the same number of decimals, enough that no two labels repeat.

    Labels wider than ``max_width`` (the y axis's margin) are written in compact scientific notation.
    """
    if not ticks:
        return []
    d = _exact_decimals(ticks)
    labels = [f"{t:.{d}f}" for t in ticks]
    if max_width is not None and max(map(len, labels)) > max_width:
        labels = _sci(ticks)
    return labels


def _clean(value: float, step: float) -> float:
    """``i * step`` without the float noise (0.30000000000000004), and never -0.0."""
    decimals = max(0, 2 - math.floor(math.log10(step)))
    return round(value, decimals) + 0.0


def nice_ticks(lo: float, hi: float, fits, *, integer: bool = False) -> list[float]:
    """Ticks ``step`` apart inside [lo, hi], ``step`` the finest of 1, 2, 2.5, 5 x 10^k that ``fits(step, ticks)``.

    Integer axes (steps, epochs) only get whole-number steps, so never a 1.5.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    span = hi - lo
    if span <= 0:
        return [lo] if not integer or float(lo).is_integer() else []
    power = math.floor(math.log10(span / 256))  # no axis holds more than 256 ticks: start there
    if integer:
        power = max(power, 0)
    for k in range(power, power + 6):
        for m in NICE_MANTISSAS:
            step = m * 10.0**k
            if integer and not step.is_integer():
                continue
            first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
            if last - first > 256:
                continue
            ticks = [_clean(i * step, step) for i in range(first, last + 1)]
            if len(ticks) <= 1 or fits(step, ticks):
                return ticks
    return []


def _gaps_fit(positions: Sequence[float], span: float, cells: int, min_gap: float) -> bool:
    """Every two neighbouring ticks at least ``min_gap`` cells apart on an axis ``cells`` long."""
    gaps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    return min(gaps, default=span) / span * cells >= min_gap


class NiceAxisFormatter(AxisFormatter):
    """Linear ticks at nice, evenly spaced numbers, as many as fit the axis (``cells()`` long, when known).

    On the y axis ticks are two rows apart or more (about eight on a tall chart), on the x axis their labels
    two columns apart or more; when that leaves fewer than two ticks, one row (one column) is enough, so that
    an axis always shows its scale. ``integer``: whole numbers only (steps and epochs).
    """

    def __init__(self, cells: Callable[[], int] | None = None, *, vertical: bool = False, integer: bool = False):
        self.cells, self.vertical, self.integer = cells, vertical, integer

    def _min_gap(self, ticks: list[float], cells: int, tight: bool) -> float:
        if self.vertical:
            return 1.0 if tight else max(2.0, cells / 8)
        label = max(map(len, self.get_labels_for_ticks(ticks)))
        return label + 1 if tight else max(label + 2, cells / 10)

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        cells = self.cells() if self.cells else 0
        span = max_ - min_
        if cells <= 0:
            return nice_ticks(min_, max_, lambda step, ticks: len(ticks) <= max_ticks, integer=self.integer)
        ticks: list[float] = []
        for tight in (False, True):
            ticks = nice_ticks(min_, max_, lambda step, ticks, tight=tight:
                               step / span * cells >= self._min_gap(ticks, cells, tight), integer=self.integer)
            if len(ticks) >= 2:
                break
        return ticks

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        if self.integer:
            return [str(int(round(t))) for t in ticks]
        return tick_labels(ticks, Y_LABEL_WIDTH if self.vertical else None)


# Log ticks: 1-2-5 per decade, or 1-3, or decades only, or every few decades, the densest that fits.
LOG_SERIES = ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))


def _plain(value: float) -> str:
    """The shortest exact writing of a tick value: 0.05, 0.1, 2, 500."""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text if len(text) <= Y_LABEL_WIDTH else _sci([value])[0]


class LogAxisFormatter(AxisFormatter):
    """Ticks for a (y) axis whose data are log10 values, labelled with the real values, never twice the same.

    Per decade 1, 2, 5 (or fewer when the axis is short); when the range holds fewer than two of those, evenly
    spaced nice values (0.70, 0.72, 0.74) at their log positions. Rows apart as on ``NiceAxisFormatter``.
    """

    def __init__(self, cells: Callable[[], int] | None = None):
        self.cells = cells
        self._linear = False

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        self._linear = False
        span = max_ - min_
        if not (math.isfinite(min_) and math.isfinite(max_)) or span <= 0:
            return []
        cells = self.cells() if self.cells else 0
        ticks: list[float] = []
        for min_gap in (max(2.0, cells / 8), 1.0):
            def fits(positions: Sequence[float], min_gap=min_gap) -> bool:
                if cells <= 0:
                    return len(positions) <= max_ticks
                return _gaps_fit(positions, span, cells, min_gap)

            ticks = self._ticks(min_, max_, fits)
            if len(ticks) >= 2:
                break
        return ticks

    def _ticks(self, min_: float, max_: float, fits) -> list[float]:
        decades = range(math.floor(min_) - 1, math.ceil(max_) + 1)
        candidates = [[p + math.log10(m) for p in decades for m in series] for series in LOG_SERIES]
        candidates += [[float(p) for p in decades if p % stride == 0] for stride in (2, 3, 5, 10)]
        for ticks in candidates:
            ticks = [t for t in ticks if min_ - 1e-12 <= t <= max_ + 1e-12]
            if len(ticks) < 2:
                break
            if fits(ticks):
                self._linear = False
                return ticks
        # Too narrow for two of those (0.6 to 0.9): nice values evenly spaced in value, at their log positions.
        values = nice_ticks(10**min_, 10**max_, lambda step, values: fits([math.log10(v) for v in values if v > 0]))
        self._linear = True
        return [math.log10(v) for v in values if v > 0]

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        values = [float(f"{10**t:.12g}") for t in ticks]
        if self._linear:
            return tick_labels(values, Y_LABEL_WIDTH)
        return [_plain(v) for v in values]


def use_nice_ticks(plot: PlotWidget, *, integer_x: bool = False) -> None:
    """Give ``plot`` (any PlotWidget: the evaluation's ROC and PR too) nice, distinct, evenly spaced ticks."""
    plot.set_x_formatter(NiceAxisFormatter(lambda: _plot_cells(plot, "x"), integer=integer_x))
    plot.set_y_formatter(NiceAxisFormatter(lambda: _plot_cells(plot, "y"), vertical=True))


def _plot_cells(plot: PlotWidget, axis: str) -> int:
    """The length of ``plot``'s data area along ``axis``, in cells (the canvas less its frame)."""
    try:
        size = plot.query_one("#plot", Canvas).size
    except NoMatches:
        return 0
    return max(0, (size.width if axis == "x" else size.height) - 2)


# Besides its colour, each curve of a chart has a line texture and a marker of its own, by its place in the
# chart: with NO_COLOR (every colour a grey) or a colour shared by two runs, curves still differ.
CURVE_STYLES = (
    (HiResMode.BRAILLE, "●"),
    (HiResMode.QUADRANT, "■"),
    (HiResMode.BRAILLE, "▲"),
    (HiResMode.QUADRANT, "◆"),
    (HiResMode.BRAILLE, "○"),
    (HiResMode.QUADRANT, "□"),
    (HiResMode.BRAILLE, "x"),
    (HiResMode.QUADRANT, "+"),
)
LINE_GLYPHS = {HiResMode.BRAILLE: "⠒", HiResMode.QUADRANT: "▀"}  # a level stretch of each texture
MARKED_POINTS = 3  # a series with at most one point per this many columns gets a marker on every point
MARKER_SPACING = 12  # otherwise, in a chart of several curves, a marker every this many columns


def curve_style(index: int) -> tuple[HiResMode, str]:
    """The line texture and marker of a chart's ``index``-th curve."""
    return CURVE_STYLES[index % len(CURVE_STYLES)]


def curve_marker(index: int) -> str:
    return curve_style(index)[1]


def legend_glyph(index: int, marked: bool = True) -> str:
    """What the legend shows for the ``index``-th curve: its texture, and its marker when the chart draws it."""
    mode, marker = curve_style(index)
    line = LINE_GLYPHS[mode]
    return f"{line}{marker}{line}" if marked else line * 3


def marker_indices(n: int, most: int) -> list[int]:
    """At most ``most`` evenly spaced indices of ``n`` points, the first and the last among them."""
    if n <= most:
        return list(range(n))
    if most < 2:
        return [n - 1]
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


@dataclass
class Curve:
    label: str
    x: list[float]
    y: list[float]
    colour: str
    style: int | None = None  # which of CURVE_STYLES (None: the curve's place in the chart)


class CurveChart(Vertical):
    """A titled line chart: smoothing with the raw curve faint, optional log y, a marked x.

    Each curve has a texture and a marker of its own (``CURVE_STYLES``), shown in the legend on the title
    line; a series of one point (a run's first epoch) is drawn as its marker. Ticks are nice, evenly spaced,
    distinct numbers, as many as fit; whole numbers only on an x axis of steps or epochs.
    """

    DEFAULT_CSS = """
    CurveChart { height: 1fr; min-height: 7; }
    CurveChart > .chart-title { height: 1; padding: 0 1; text-style: bold; }
    CurveChart > PlotWidget { height: 1fr; }
    """

    def __init__(self, title: str, *, integer_x: bool | None = None, id: str | None = None,
                 classes: str | None = None):
        """``integer_x``: whole-number x ticks; None (the default): when every x is a whole number."""
        super().__init__(id=id, classes=classes)
        self.title = title
        self.integer_x = integer_x
        self._curves: list[Curve] = []
        self._marked: list[bool] = []  # per curve: the last draw put markers on it
        self._smoothing = 0.0
        self._log = False
        self._mark_x: float | None = None
        self._ylimits: tuple[float | None, float | None] = (None, None)
        self.drawn_points = 0  # points handed to the plot on the last draw (tests check downsampling)
        self._hint = ""
        self._shown_title: Text | None = None
        self._signature: tuple | None = None
        self._x_ticks = NiceAxisFormatter(lambda: self._cells("x"), integer=bool(integer_x))
        self._y_ticks = NiceAxisFormatter(lambda: self._cells("y"), vertical=True)
        self._log_ticks = LogAxisFormatter(lambda: self._cells("y"))

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="chart-title")
        yield PlotWidget(allow_pan_and_zoom=False)

    def on_mount(self) -> None:
        plot = self.plot
        plot.margin_left, plot.margin_bottom, plot.margin_top = 7, 2, 1  # room for the curves at 80x24
        plot.show_legend(is_visible=False)
        plot.set_x_formatter(self._x_ticks)
        plot.set_y_formatter(self._y_ticks)
        self._show_title()

    @property
    def plot(self) -> PlotWidget:
        return self.query_one(PlotWidget)

    def _cells(self, axis: str) -> int:
        return _plot_cells(self.plot, axis)

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
            tuple((c.label, c.colour, c.style, len(c.x), c.x[-1] if c.x else None, c.y[-1] if c.y else None)
                  for c in curves),
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

    def _style_index(self, i: int) -> int:
        style = self._curves[i].style
        return i if style is None else style

    def _show_title(self) -> None:
        # The legend lives in the title line: PlotWidget's floating legend re-lays out the screen on every draw.
        title = Text(self.title, style="bold")
        for i, curve in enumerate(self._curves):
            title.append("  ")
            marked = self._marked[i] if i < len(self._marked) else True
            title.append(legend_glyph(self._style_index(i), marked), style=curve.colour)
            title.append(f" {curve.label}")
        if self._mark_x is not None:
            title.append("  │ best", style="bold")
        title.append(self._hint)
        if title != self._shown_title:
            self._shown_title = title
            self.query_one(".chart-title", Static).update(title, layout=False)  # one fixed line: no relayout

    _drawn_size = None  # the plot's size at the last draw

    def on_resize(self) -> None:
        # The point budget and the ticks follow the size; a tab shown again sends a Resize at the size the chart
        # was drawn at, and redrawing then would repaint it for nothing (the slowest part of a tab switch).
        if self.plot.size != self._drawn_size:
            self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        with self.app.batch_update():
            self._draw()
            self._drawn_size = self.plot.size
        self._show_title()

    def _draw(self) -> None:
        plot = self.plot
        plot.clear()
        columns = max(1, plot.size.width - plot.margin_left)
        # Braille draws 2 points per cell across; more would be invisible work.
        budget = max(8, 2 * columns)
        self.drawn_points = 0
        shown = []  # (style index, colour, xs, ys) of each curve as drawn
        faint = []
        for i, curve in enumerate(self._curves):
            ys = curve.y
            if self._log:
                xs, ys = _positive(curve.x, ys)
                ys = [math.log10(v) for v in ys]
            else:
                xs = curve.x
            if not xs:
                shown.append((self._style_index(i), curve.colour, [], []))
                continue
            if self._smoothing > 0 and len(ys) > 2:
                faint.append(downsample(xs, ys, budget))
                ys = ema_smooth(ys, self._smoothing)
                self.drawn_points += len(faint[-1][0])
            dx, dy = downsample(xs, ys, budget)
            self.drawn_points += len(dx)
            shown.append((self._style_index(i), curve.colour, dx, dy))
        integer = self.integer_x
        if integer is None:
            integer = any(xs for _, _, xs, _ in shown) and all(
                float(x).is_integer() for _, _, xs, _ in shown for x in xs)
        self._x_ticks.integer = bool(integer)
        plot.set_y_formatter(self._log_ticks if self._log else self._y_ticks)
        all_x = [x for _, _, xs, _ in shown for x in xs] + [x for rx, _ in faint for x in rx]
        all_y = [y for _, _, _, ys in shown for y in ys] + [y for _, ry in faint for y in ry]
        xlimits = _padded(all_x + ([self._mark_x] if self._mark_x is not None else []), (None, None),
                          columns, 0.5 if integer else 0.05)
        rows = max(1, plot.size.height - plot.margin_top - plot.margin_bottom - 2)
        ylimits = _padded(all_y, self._ylimits if not self._log else (None, None), rows, 0.05)
        plot.set_xlimits(*xlimits)
        plot.set_ylimits(*ylimits)
        for rx, ry in faint:
            plot.plot(rx, ry, line_style=FAINT, hires_mode=HiResMode.BRAILLE)
        several = sum(1 for _, _, xs, _ in shown if xs) > 1
        x_span = (xlimits[1] - xlimits[0]) if None not in xlimits else 1.0
        self._marked, markers = [], []
        for style, colour, xs, ys in shown:
            mode, marker = curve_style(style)
            if len(xs) > 1:
                plot.plot(xs, ys, line_style=colour, hires_mode=mode)
            # Columns the curve spans: a marker on every point when they are far enough apart, else every few
            # columns when other curves share the chart (a lone curve needs no marker to be told apart).
            span = columns * (xs[-1] - xs[0]) / x_span if xs else 0.0
            every = len(xs) == 1 or (len(xs) > 1 and span / (len(xs) - 1) >= MARKED_POINTS)
            self._marked.append(bool(xs) and (every or several))
            if self._marked[-1]:
                idx = marker_indices(len(xs), len(xs) if every else max(2, int(span // MARKER_SPACING) + 1))
                markers.append(([xs[j] for j in idx], [ys[j] for j in idx], marker, colour))
        if self._mark_x is not None and None not in ylimits:
            # The best epoch's line, as characters under the markers (PlotWidget's own v-line would cover
            # them: a one-epoch run's only point sits on its best epoch).
            lo, hi = ylimits
            ys = [lo + (rows - r + 0.5) / rows * (hi - lo) for r in range(1, rows + 1)]
            plot.scatter([self._mark_x] * rows, ys, marker="│", marker_style="bold")
        for xs, ys, marker, colour in markers:  # last, so that no line hides them
            plot.scatter(xs, ys, marker=marker, marker_style=colour)


def _padded(values: list[float], limits: tuple[float | None, float | None], cells: int,
            flat_pad: float) -> tuple[float | None, float | None]:
    """Axis limits: ``limits`` where given, else the data's, widened by half a cell each side.

    PlotWidget draws its frame over the outermost cells, so a marker (or the end of a line) exactly at a
    limit would be hidden: a last epoch, an AUC of 1.0. One value (a single point) gets a band of
    ``flat_pad`` around it instead of PlotWidget's +-1e-6.
    """
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return limits
    lo = limits[0] if limits[0] is not None else min(values)
    hi = limits[1] if limits[1] is not None else max(values)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        pad = max(flat_pad, abs(lo) * flat_pad)
        return lo - pad, hi + pad
    pad = (hi - lo) / max(1, cells) / 2
    return lo - pad, hi + pad


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
