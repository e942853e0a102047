"""SVG snapshots of the Data, Train and Runs screens at 100x30 and 80x24, and of the Runs overlay with NO_COLOR.

Deterministic inputs only: the synthetic demo set (seeded) under a relative
path, the recorded runs in tests/fixtures and those tests/runs_fixtures.py
writes (fixed times, fixed ids); no timers (poll_interval=0).
Update with: pytest tests/test_app_snapshots.py --snapshot-update
"""

from pathlib import Path

import pytest
from app_waits import wait_for_runs, wait_for_stats
from runs_fixtures import two_runs_of_one_model

from pneumo_tui.app import PneumoApp

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
SIZES = [(100, 30), (80, 24)]


@pytest.fixture
def demo_data(tmp_path, monkeypatch):
    from training.data.demo import write_demo

    monkeypatch.chdir(tmp_path)  # the screen shows the path as given: keep it the same on every machine
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    write_demo(tmp_path / "demo", per_class=12, size=64, seed=0)
    return Path("demo")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_data_screen(snap_compare, demo_data, size):
    app = PneumoApp(data=demo_data, runs_dir=FIXTURES, welcome=False, poll_interval=0, image_protocol="halfcell")
    assert snap_compare(app, terminal_size=size, run_before=wait_for_stats)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_screen_on_a_recorded_run(snap_compare, size):
    app = PneumoApp(runs_dir=FIXTURES, attach=FIXTURES / "20260101-000000-cnn3", welcome=False, poll_interval=0)
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_screen(snap_compare, size):
    app = PneumoApp(runs_dir=FIXTURES, welcome=False, poll_interval=0)
    assert snap_compare(app, press=["3", "space", "down", "space"], terminal_size=size, run_before=wait_for_runs)


def test_runs_overlay_of_two_runs_of_one_model_with_no_color(snap_compare, tmp_path, monkeypatch):
    """The README's tmux/SSH/NO_COLOR promise: two overlaid runs of one recipe differ in marker, line texture and
    legend (the part of their ids and the setting that differ), with every colour a grey."""
    two_runs_of_one_model(tmp_path / "runs")
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads it when the app is created
    app = PneumoApp(runs_dir=tmp_path / "runs", welcome=False, poll_interval=0)
    assert app.no_color
    assert snap_compare(app, press=["3", "space", "down", "space"], terminal_size=(80, 24), run_before=wait_for_runs)
