"""Pilot tests: every screen of the app driven by keys."""

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from app_run_writer import write_long_run
from app_waits import wait_for_runs, wait_for_stats
from textual.widgets import TabbedContent

from pneumo_tui.app import PneumoApp
from pneumo_tui.launch import pneumo_command
from pneumo_tui.screens.help import HelpScreen
from pneumo_tui.screens.runs import RunsView, SmoothingSlider
from pneumo_tui.screens.train import TrainView
from pneumo_tui.screens.welcome import WelcomeScreen
from pneumo_tui.widgets.charts import ChartDeck, CurveChart
from pneumo_tui.widgets.run_table import RunTable

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
CNN3 = FIXTURES / "20260101-000000-cnn3"


def _app(**kwargs) -> PneumoApp:
    kwargs.setdefault("runs_dir", FIXTURES)
    kwargs.setdefault("welcome", False)
    kwargs.setdefault("poll_interval", 0)
    kwargs.setdefault("image_protocol", "none")
    return PneumoApp(**kwargs)


def _text(widget) -> str:
    return str(widget.render())


def screen_text(app) -> str:
    """The screen as plain text (the SVG's text runs, unescaped)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def test_number_keys_switch_screens_and_help_opens():
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(TabbedContent)
        for key, tab in (("2", "train"), ("3", "runs"), ("4", "review"), ("1", "data")):
            await pilot.press(key)
            assert tabs.active == tab
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_tab_switch_right_after_startup_keeps_its_tab_and_focus():
    # The startup focus on the Data screen is reported by message; arriving after a switch it used to
    # pull the tab and the focus back, so a key pressed at once went to the hidden Data screen.
    app = _app(poll_interval=1.0)
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(TabbedContent)
        train = app.query_one(TrainView)
        app.attach(FIXTURES / "20260101-000000-cnn3")
        for _ in range(5):
            await pilot.pause()
            assert tabs.active == "train" and app.focused is not None and train in app.focused.ancestors


async def test_a_tab_activation_or_tick_arriving_after_teardown_is_ignored():
    # CI once saw TabActivated delivered after the app had removed its widgets.
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(TabbedContent)
        pane = tabs.get_pane("train")
        late = TabbedContent.TabActivated(tabs, tabs.query_one("Tabs").active_tab)
        late_ticks = [app.query_one(TrainView).tick, app.query_one(RunsView).tick]  # the views' timers' calls
        await pilot.press("2")
    late.pane = pane  # the message as it arrives once the widgets are gone
    assert not app.query("#train-view")
    app.on_tabbed_content_tab_activated(late)  # must not raise NoMatches
    for tick in late_ticks:
        tick()


async def test_train_screen_shows_a_recorded_run():
    app = _app(attach=CNN3)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "train"
        view = app.query_one(TrainView)
        assert view.follower.status == "finished"
        panel = app.query_one("#progress")
        rendered = screen_text(app)
        assert "finished" in rendered and "4/4" in rendered and "epoch 3" in rendered  # best epoch by val AUC
        steps = app.query_one("#chart-steps", CurveChart)
        assert 0 < steps.drawn_points <= 2 * 2 * steps.plot.size.width  # raw faint + smoothed, each within the width
        scores = app.query_one("#chart-scores", CurveChart)
        assert scores._mark_x == 3
        deck = app.query_one("#train-charts", ChartDeck)
        before = [c.id for c in deck.visible_charts()]
        await pilot.press("v")
        assert [c.id for c in deck.visible_charts()] != before
        await pilot.press("l")
        assert view.log_scale and "(log)" in _text(steps.query_one(".chart-title"))
        await pilot.press("d")
        assert view.follower is None
        assert panel is app.query_one("#progress")


async def test_train_screen_refuses_to_start_without_data():
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await pilot.press("s")
        assert "no dataset" in _text(app.query_one("#train-message"))
        await pilot.press("x")
        assert "No run followed" in _text(app.query_one("#train-message"))


async def test_runs_screen_lists_overlays_and_attaches():
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        table = app.query_one(RunTable)
        assert set(table.summaries) == {"20260101-000000-cnn3", "20260101-010000-mlp"}
        assert table.summaries["20260101-010000-mlp"].status == "stale"
        assert "stale" in screen_text(app)
        await pilot.press("space", "down", "space")
        assert table.selected == ["20260101-000000-cnn3", "20260101-010000-mlp"]
        view = app.query_one(RunsView)
        steps = app.query_one("#overlay-steps", CurveChart)
        assert len(steps._curves) == 2 and steps._curves[0].colour != steps._curves[1].colour
        slider = app.query_one(SmoothingSlider)
        before = slider.value
        await pilot.press("right_square_bracket")
        assert slider.value > before and steps._smoothing == slider.value
        await pilot.press("m")
        assert view.metric == "val_loss"
        await pilot.press("l")
        assert view.log_scale and steps._log
        await pilot.press("up", "enter")
        assert app.query_one(TabbedContent).active == "train"
        assert app.query_one(TrainView).follower.run_id == "20260101-000000-cnn3"


async def test_first_run_offers_three_choices_and_opens_a_path(tmp_path):
    app = _app(welcome=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        options = app.screen.query_one("#welcome-choices")
        assert options.option_count == 3
        await pilot.press("enter")  # "Open a folder or .npz file"
        await pilot.press(*"/no/such/place", "enter")
        assert "No such file" in _text(app.screen.query_one("#welcome-status"))
        path_input = app.screen.query_one("#welcome-path")
        path_input.value = str(tmp_path)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, WelcomeScreen)
        assert app.data == tmp_path


async def test_escape_skips_the_welcome_screen():
    app = _app(welcome=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        assert not isinstance(app.screen, WelcomeScreen)
        assert app.data is None


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """A real finished run (tiny MLP on the synthetic demo set, one epoch) for the review tab."""
    pytest.importorskip("training.engine.trainer", reason="needs the training engine")
    from training.data.demo import write_demo

    tmp = tmp_path_factory.mktemp("review")
    data = write_demo(tmp / "demo", per_class=12, size=64)
    runs = tmp / "runs"
    proc = subprocess.run(
        pneumo_command() + ["train", "baseline", "--data", str(data), "--epochs", "1", "--image-size", "32",
                            "--out", str(runs), "--set", "batch_size=8"],
        capture_output=True, text=True, env={**os.environ, "PNEUMO_CACHE": str(tmp / "cache")}, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return runs


async def test_review_and_evaluation_open_from_the_runs_screen(finished_runs):
    from pneumo_tui.screens.evaluation import EvaluationScreen
    from pneumo_tui.screens.review import ReviewView

    app = _app(runs_dir=finished_runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("4")
        assert "Attach a run" in screen_text(app)
        await pilot.press("3", "r")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "review"
        assert app.query_one(ReviewView).run_dir.parent == finished_runs
        await pilot.press("3", "e")
        await pilot.pause()
        assert isinstance(app.screen, EvaluationScreen)
        await pilot.press("escape")
        await pilot.press("c")  # compare needs two selected runs: says so
        await pilot.pause()
        assert not isinstance(app.screen, EvaluationScreen)


async def test_first_run_demo_choice_creates_and_opens_the_synthetic_set(tmp_path, monkeypatch):
    from pneumo_tui.screens.data import DataView

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PNEUMO_DOWNLOAD_URL", "http://127.0.0.1:9/no-such-mirror.zip")  # fails at once, offline
    app = _app(welcome=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter", "enter")  # download into the ./data offered: the failure is one line
        for _ in range(100):
            if "Download stopped" in _text(app.screen.query_one("#welcome-status")):
                break
            await pilot.pause(0.05)
        status = _text(app.screen.query_one("#welcome-status"))
        # One clean line: which host, why, what to do; not "failed: 'download failed: ...'" with a command to run.
        assert status.startswith("Download stopped: cannot reach 127.0.0.1 (it refused the connection)")
        assert "download failed" not in status and "'" not in status and "command" not in status
        assert not (tmp_path / "data").exists()  # and no empty folder left behind
        app.screen.query_one("#welcome-choices").focus()  # back to the choices
        await pilot.press("down", "enter", "enter")  # the synthetic demo set, in the ./demo-data offered
        view = app.query_one(DataView)
        await wait_for_stats(pilot)
        assert not isinstance(app.screen, WelcomeScreen)
        assert (tmp_path / "demo-data" / "SYNTHETIC").exists()
        assert view.stats["synthetic"] is True
        assert "SYNTHETIC" in screen_text(app)
        assert sum(len(v) for v in view.samples.values()) == 8  # 4 X-rays per class in the strip


async def test_data_screen_warns_and_lists_duplicates_and_unreadable_files(tmp_path, monkeypatch):
    from pneumo_tui.screens.data import ProblemList
    from training.data.demo import write_demo

    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    data = write_demo(tmp_path / "demo", per_class=12, size=64)
    normal = sorted((data / "train" / "NORMAL").iterdir())
    shutil.copy(normal[0], data / "test" / "NORMAL" / "copy-of-a-train-image.jpeg")
    (data / "train" / "NORMAL" / "broken.jpeg").write_bytes(b"not a jpeg")
    app = _app(data=data)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_stats(pilot)
        text = screen_text(app)
        assert "! 1 duplicates" in text and "! 1 unreadable files" in text
        await pilot.press("w")
        assert isinstance(app.screen, ProblemList)
        listing = "\n".join(app.screen.lines)
        assert "copy-of-a-train-image.jpeg" in listing and "broken.jpeg" in listing
        await pilot.press("escape")
        assert not isinstance(app.screen, ProblemList)


async def test_long_series_are_downsampled_to_the_chart_width(tmp_path):
    run = write_long_run(tmp_path / "runs" / "20260101-030000-long", steps=20000)
    app = _app(runs_dir=tmp_path / "runs", attach=run)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart-steps", CurveChart)
        assert len(app.query_one(TrainView).follower.series.step_x) == 20000
        columns = chart.plot.size.width - chart.plot.margin_left
        # raw (faint) + smoothed curve, each at most two points (min, max) per column
        assert 0 < chart.drawn_points <= 2 * 2 * columns


async def test_every_screen_renders_with_no_color(monkeypatch, tmp_path):
    from training.data.demo import write_demo

    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    data = write_demo(tmp_path / "demo", per_class=6, size=64)
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads (and removes) it when the app is created
    app = _app(data=data, attach=CNN3, image_protocol="halfcell")
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "finished" in screen_text(app)
        await wait_for_runs(pilot)
        await pilot.press("3")
        assert "stale (writer died)" in screen_text(app)  # the status is in words, not only in colour
        await pilot.press("4", "1")
        await wait_for_stats(pilot)
        assert "SYNTHETIC" in screen_text(app)
        await pilot.press("question_mark")
        assert "Keys" in screen_text(app)
