"""The app follows a run another process writes: live updates, detach, a killed writer shows stale."""

import html
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from app_run_writer import write_long_run

from pneumo_tui.app import PneumoApp
from pneumo_tui.screens.train import TrainView
from pneumo_tui.widgets.charts import CurveChart
from training.run.events import read_events
from training.run.paths import RunPaths

WRITER = Path(__file__).parent / "app_run_writer.py"


def screen_text(app) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


def _start_writer(runs: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, str(WRITER), str(runs), "--interval", "0.05"],
                            stdout=subprocess.PIPE, text=True)
    run = Path(proc.stdout.readline().strip())
    return proc, run


async def _until(pilot, predicate, timeout: float) -> float:
    """Seconds until predicate() held (pausing the app meanwhile); fails after timeout."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "not within the time limit"
        await pilot.pause(0.05)
    return time.monotonic() - start


async def test_follow_detach_and_stale(tmp_path):
    proc, run = _start_writer(tmp_path / "runs")
    try:
        # real 1 s polling
        app = PneumoApp(runs_dir=tmp_path / "runs", attach=run, welcome=False, image_protocol="none")
        async with app.run_test(size=(100, 30)) as pilot:
            view = app.query_one(TrainView)
            chart = app.query_one("#chart-steps", CurveChart)
            await pilot.pause()
            seen = view.follower.series.step_x[-1] if view.follower.series.step_x else 0
            await _until(pilot, lambda: view.follower.series.step_x and view.follower.series.step_x[-1] > seen, 2.0)
            await _until(pilot, lambda: chart._curves and chart._curves[0].x[-1] > seen and chart.drawn_points > 0, 2.0)
            assert view.follower.status == "running"
            assert "running" in screen_text(app)

            await pilot.press("d")  # detach: the writer must keep going
            assert view.follower is None
            n = len(read_events(RunPaths(run).events))
            deadline = time.monotonic() + 10.0
            while len(read_events(RunPaths(run).events)) <= n and time.monotonic() < deadline:
                time.sleep(0.1)
            assert proc.poll() is None
            assert len(read_events(RunPaths(run).events)) > n

            app.attach(run)
            await pilot.pause()
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            await _until(pilot, lambda: view.follower.status == "stale", 10.0)
            await pilot.pause()
            assert "stale (writer died)" in screen_text(app)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_attaching_to_a_long_log_reads_it_off_the_ui_thread(tmp_path):
    from pneumo_tui.screens.train import INLINE_LOG_BYTES

    run = tmp_path / "runs" / "20260101-030000-long"
    steps = 60_000
    write_long_run(run, steps)
    assert RunPaths(run).events.stat().st_size > INLINE_LOG_BYTES
    app = PneumoApp(runs_dir=tmp_path / "runs", welcome=False, image_protocol="none")
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(TrainView)
        app.attach(run)
        assert view.follower is None and view.reading == run  # attach returned before the log was parsed
        await _until(pilot, lambda: view.follower is not None, 30.0)
        assert view.follower.series.step_x[-1] == steps and view.follower.status == "finished"
        await pilot.press("d")
        app.attach(run)
        await pilot.press("d")  # detached while its log was still being read: the late result is dropped
        await pilot.pause(3.0)
        assert view.follower is None and view.reading is None
