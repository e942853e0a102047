"""SVG snapshots of the Data, Train and Runs screens at 100x30 and 80x24.

Deterministic inputs only: the synthetic demo set (seeded) under a relative
path, and the recorded runs in tests/fixtures (fixed times, fixed ids); no
timers (poll_interval=0). Update with: pytest tests/test_app_snapshots.py --snapshot-update
"""

from pathlib import Path

import pytest
from app_waits import wait_for_runs, wait_for_stats

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
