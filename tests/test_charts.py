"""The curve charts: their ticks, the look of each curve (without colour too), a one-point series."""

import math
import re
from pathlib import Path

import pytest
from app_waits import wait_for_runs
from runs_fixtures import recorded_run, screen_text

from pneumo_tui.app import PneumoApp
from pneumo_tui.widgets.charts import (
    LogAxisFormatter,
    NiceAxisFormatter,
    curve_style,
    legend_glyph,
    marker_indices,
    tick_labels,
)

NICE = (1.0, 2.0, 2.5, 5.0)


def _is_nice(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, m, rel_tol=1e-9) for m in NICE) or math.isclose(mantissa, 10.0)


def _ticks(lo, hi, cells, *, vertical=True, integer=False):
    return NiceAxisFormatter(lambda: cells, vertical=vertical, integer=integer).get_ticks_and_labels(lo, hi)


@pytest.mark.parametrize(("lo", "hi", "cells"), [
    (0.0, 1.0, 10), (0.2, 0.9, 10), (0.5, 0.8, 12), (0.059, 0.977, 6), (0.48, 0.81, 7), (0.0001, 0.0009, 10),
    (0.71, 0.73, 9), (-0.3, 0.4, 12), (12.0, 9800.0, 20),
])
def test_linear_ticks_are_distinct_evenly_spaced_nice_numbers(lo, hi, cells):
    ticks, labels = _ticks(lo, hi, cells)
    assert len(ticks) >= 2
    assert len(set(labels)) == len(labels)  # never "0.72 0.72"
    steps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(math.isclose(s, steps[0], rel_tol=1e-9) for s in steps)  # never "0.75 0.65 0.60 0.50"
    assert _is_nice(steps[0])
    assert all(lo - 1e-12 <= t <= hi + 1e-12 for t in ticks)
    assert steps[0] / (hi - lo) * cells >= 1.0  # each label on a row of its own
    assert all(math.isclose(float(label), t, rel_tol=1e-9, abs_tol=1e-12) for label, t in zip(labels, ticks,
                                                                                                  strict=True))


def test_a_tall_axis_keeps_ticks_two_rows_apart_and_a_score_axis_reads_0_to_1():
    ticks, labels = _ticks(0.0, 1.0, 10)
    assert labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]  # the ROC's 0.8 too
    ticks, _ = _ticks(0.2, 0.9, 30)
    assert (ticks[1] - ticks[0]) / 0.7 * 30 >= 2


@pytest.mark.parametrize(("lo", "hi", "cells"), [(1, 4, 110), (1, 100, 72), (1, 2, 72), (0, 20000, 72), (1, 7, 20)])
def test_step_and_epoch_axes_get_whole_numbers_only(lo, hi, cells):
    ticks, labels = _ticks(lo, hi, cells, vertical=False, integer=True)
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert "." not in "".join(labels)  # never "1.5"
    widest = max(map(len, labels))
    assert (ticks[1] - ticks[0]) / (hi - lo) * cells >= widest + 1  # labels never touch


def test_one_epoch_gets_one_whole_tick():
    ticks, labels = _ticks(0.5, 1.5, 60, vertical=False, integer=True)
    assert labels == ["1"]


@pytest.mark.parametrize(("lo", "hi", "cells"), [
    (0.72, 0.73, 10), (0.7, 0.76, 10), (0.25, 0.31, 14), (0.05, 2.0, 10), (0.001, 10.0, 10), (0.2, 0.9, 4),
    (1e-5, 1.0, 5), (0.3, 0.95, 8),
])
def test_log_ticks_never_repeat_a_label(lo, hi, cells):
    fmt = LogAxisFormatter(lambda: cells)
    ticks, labels = fmt.get_ticks_and_labels(math.log10(lo), math.log10(hi))
    assert len(ticks) >= 2
    assert len(set(labels)) == len(labels), labels
    assert all(math.isclose(float(label), 10**t, rel_tol=1e-6) for label, t in zip(labels, ticks, strict=True))


def test_log_ticks_of_a_narrow_range_are_evenly_spaced_values():
    _, labels = LogAxisFormatter(lambda: 10).get_ticks_and_labels(math.log10(0.70), math.log10(0.76))
    assert labels == ["0.70", "0.72", "0.74", "0.76"]


def test_labels_carry_the_decimals_their_ticks_need_and_fit_the_margin():
    assert tick_labels([0.7, 0.725, 0.75]) == ["0.700", "0.725", "0.750"]
    assert tick_labels([0.0, 0.5, 1.0]) == ["0.0", "0.5", "1.0"]
    assert tick_labels([0.00025, 0.0005, 0.00075], max_width=6) == ["2.5e-4", "5.0e-4", "7.5e-4"]


def test_curves_of_one_chart_differ_in_texture_and_marker():
    styles = [curve_style(i) for i in range(8)]
    assert len({marker for _, marker in styles}) == 8
    assert curve_style(0)[0] != curve_style(1)[0]  # the first two: braille and half-block lines
    assert legend_glyph(0) != legend_glyph(1) and legend_glyph(0, marked=False) != legend_glyph(1, marked=False)
    assert marker_indices(1, 5) == [0]
    assert marker_indices(100, 5) == [0, 25, 50, 74, 99]


def _plot_text(app, chart_id: str) -> str:
    """The characters drawn inside a chart's plot frame (the screen region of its plot canvas)."""
    from textual_hires_canvas import Canvas

    canvas = app.query_one(f"#{chart_id}").plot.query_one("#plot", Canvas)
    region = canvas.region
    lines = screen_text(app).splitlines()
    return "\n".join(line[region.x + 1:region.right - 1] for line in lines[region.y + 1:region.bottom - 1])


@pytest.fixture
def one_epoch_run(tmp_path):
    return recorded_run(tmp_path / "runs", "20260101-000000-cnn3", model="cnn3", recipe="cnn3", epochs=1,
                        val_auc=(0.81,))


async def test_a_one_epoch_run_is_drawn_as_a_point_on_the_train_screen(one_epoch_run):
    # The best-epoch line used to be drawn over the only point: a one-epoch run's charts stayed empty.
    app = PneumoApp(runs_dir=one_epoch_run.parent, attach=one_epoch_run, welcome=False, poll_interval=0,
                    image_protocol="none")
    async with app.run_test(size=(120, 60)) as pilot:  # tall enough for all three charts below the Train form
        await pilot.pause()
        scores = _plot_text(app, "chart-scores")
        assert curve_style(3)[1] in scores  # AUC, drawn last (the four scores share a row at this height)
        assert "│" in scores  # the best epoch's line, under the markers
        losses = _plot_text(app, "chart-losses")
        assert curve_style(0)[1] in losses or curve_style(1)[1] in losses


async def test_a_one_epoch_run_is_drawn_as_a_point_on_the_runs_screen(one_epoch_run):
    app = PneumoApp(runs_dir=one_epoch_run.parent, welcome=False, poll_interval=0, image_protocol="none")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        await pilot.pause()
        assert curve_style(0)[1] in _plot_text(app, "overlay-epochs")


async def test_chart_ticks_on_screen_are_distinct_even_and_whole_on_the_step_axis():
    app = PneumoApp(runs_dir=Path(__file__).parent / "fixtures" / "recorded_runs", welcome=False,
                    poll_interval=0, image_protocol="none")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3", "space", "down", "space")
        await pilot.pause()
        lines = screen_text(app).splitlines()
    y = [float(m.group(1)) for line in lines if (m := re.match(r"^ *(\d+\.\d+) [┫╋┳┻]", line))]
    assert len(y) >= 2 and len(set(y)) == len(y)
    steps = {round(a - b, 9) for a, b in zip(y, y[1:], strict=False)}
    assert len(steps) == 1  # evenly spaced
    x_line = next(lines[i + 1] for i, line in enumerate(lines) if line.strip().startswith("┗"))
    x = x_line.split()
    assert len(x) >= 2 and all(t.isdigit() for t in x)  # the step axis: whole numbers
    assert len({int(b) - int(a) for a, b in zip(x, x[1:], strict=False)}) == 1


async def test_any_plot_widget_gets_the_same_ticks_with_use_nice_ticks():
    # For the evaluation's ROC and PR plots (PlotWidget's own ticks left out 0.8 at some heights).
    from textual.app import App
    from textual_plot import PlotWidget

    from pneumo_tui.widgets.charts import use_nice_ticks

    class Host(App):
        def compose(self):
            yield PlotWidget(allow_pan_and_zoom=False)

    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        plot = app.query_one(PlotWidget)
        use_nice_ticks(plot)
        plot.plot([0.0, 0.1, 0.4, 1.0], [0.0, 0.6, 0.9, 1.0])
        await pilot.pause()
        rows = plot.query_one("#plot").size.height - 2
        ticks, labels = plot._y_formatter.get_ticks_and_labels(0.0, 1.0)
        assert rows >= 10 and labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        _, x_labels = plot._x_formatter.get_ticks_and_labels(0.0, 1.0)
        assert "0.8" in x_labels and len(set(x_labels)) == len(x_labels)
