"""The app's wiring: views post messages the app handles, each view's timer runs only while its tab is shown."""

import json
import time
from collections import Counter
from pathlib import Path

from app_waits import wait_for_runs
from textual import on
from textual.widgets import TabbedContent

from pneumo_tui.app import PneumoApp
from pneumo_tui.messages import AttachRun, ReviewRun, RunUpdated
from pneumo_tui.screens.runs import RunsView
from pneumo_tui.screens.train import TrainView
from pneumo_tui.widgets.run_table import RunTable
from training.run.events import EventWriter
from training.run.paths import RunPaths
from training.run.state import RunReader

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
CNN3 = FIXTURES / "20260101-000000-cnn3"
POLL = 0.05


class RecordingApp(PneumoApp):
    """The app, noting every RunUpdated that reaches it (they bubble up from the view that polled)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("welcome", False)
        kwargs.setdefault("image_protocol", "none")
        super().__init__(**kwargs)
        self.updates: list[tuple[str, int]] = []

    @on(RunUpdated)
    def _record(self, message: RunUpdated) -> None:
        self.updates.append((message.run_dir.name, message.version))


def live_run(runs: Path, name: str, steps: int = 3) -> Path:
    """A run folder in the middle of its first epoch (no writer holds it: it reads as stale)."""
    run = runs / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"run_id": name, "model": "writer", "recipe": {"epochs": 2}}))
    with EventWriter(RunPaths(run).events) as log:
        log.write("run_started", run_id=name, model="writer", epochs=2, steps_per_epoch=10)
        for g in range(1, steps + 1):
            append_step(log, g)
    return run


def append_step(log: EventWriter, g: int) -> None:
    log.write("step", epoch=1, step=g, global_step=g, loss=1.0 / g, lr=1e-3, images_per_s=100.0)


def add_steps(run: Path, *steps: int) -> None:
    with EventWriter(RunPaths(run).events) as log:
        for g in steps:
            append_step(log, g)


def count_polls(monkeypatch) -> Counter:
    """Polls per RunReader (by id), counted from now on."""
    counts: Counter = Counter()
    poll = RunReader.poll

    def counting(self):
        counts[id(self)] += 1
        return poll(self)

    monkeypatch.setattr(RunReader, "poll", counting)
    return counts


async def test_a_view_posting_attach_run_makes_the_app_follow_it_on_the_train_tab():
    app = RecordingApp(runs_dir=FIXTURES, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        runs = app.query_one(RunsView)
        assert app.query_one(TabbedContent).active == "data"
        runs.post_message(AttachRun(CNN3))
        await pilot.pause()
        train = app.query_one(TrainView)
        assert app.query_one(TabbedContent).active == "train"
        assert train.follower is not None and train.follower.run_dir == CNN3
        assert app.focused is train.focus_target  # the Train view says what takes the keys
        assert app.review_pane.run_dir == CNN3  # and the run is the one to review next

        runs.post_message(ReviewRun(CNN3))
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "review"
        assert app.review_pane.run_dir == CNN3 and not app.review_pane.reviewing  # no predictions in the fixture


async def test_a_hidden_views_timer_is_paused_and_resumes_when_shown(tmp_path, monkeypatch):
    run = live_run(tmp_path / "runs", "20260101-040000-live")
    app = RecordingApp(runs_dir=tmp_path / "runs", attach=run, poll_interval=POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_runs(pilot)
        train, runs = app.query_one(TrainView), app.query_one(RunsView)
        polls = count_polls(monkeypatch)
        runs_polls = lambda: sum(n for key, n in polls.items() if key != id(train.follower))  # noqa: E731

        await pilot.pause(10 * POLL)
        assert polls[id(train.follower)] >= 3  # shown: its timer polls the followed run
        assert runs_polls() == 0  # the Runs view is hidden: its timer is paused

        await pilot.press("1")  # both hidden now
        await pilot.pause()
        hidden_at = polls[id(train.follower)]
        await pilot.pause(10 * POLL)
        assert polls[id(train.follower)] == hidden_at and runs_polls() == 0

        await pilot.press("2")  # shown again: its timer runs again
        await pilot.pause(10 * POLL)
        assert polls[id(train.follower)] >= hidden_at + 3

        await pilot.press("3")
        await pilot.pause()
        train_hidden_at = polls[id(train.follower)]
        await pilot.pause(10 * POLL)
        assert runs_polls() >= 3 and polls[id(train.follower)] == train_hidden_at
        assert runs.timer is not None and train.timer is not None


async def test_run_updated_is_posted_once_per_change_not_once_per_tick(tmp_path, monkeypatch):
    run = live_run(tmp_path / "runs", "20260101-040000-live")
    app = RecordingApp(runs_dir=tmp_path / "runs", attach=run, poll_interval=POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        train = app.query_one(TrainView)
        polls = count_polls(monkeypatch)
        await pilot.pause(10 * POLL)
        assert polls[id(train.follower)] >= 3 and app.updates == []  # many ticks, nothing new: no message

        add_steps(run, 4)
        deadline = time.monotonic() + 5
        while not app.updates:
            assert time.monotonic() < deadline, "no RunUpdated for the new step"
            await pilot.pause(POLL)
        await pilot.pause(10 * POLL)
        assert app.updates == [(run.name, train.follower.version)]  # one change, one message
        assert train.follower.series.step_x[-1] == 4
        assert train.chart("steps")._curves[0].x[-1] == 4  # and the view drew it


async def test_a_poll_that_finds_several_runs_changed_redraws_the_runs_view_once(tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    a, b = live_run(runs_dir, "20260101-040000-a"), live_run(runs_dir, "20260101-050000-b")
    app = RecordingApp(runs_dir=runs_dir, poll_interval=POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        await pilot.pause(4 * POLL)
        shows = Counter()
        show_runs = RunTable.show_runs

        def counting(self, summaries):
            shows["table"] += 1
            return show_runs(self, summaries)

        monkeypatch.setattr(RunTable, "show_runs", counting)
        add_steps(a, 4)  # both between two polls: this coroutine does not yield in between
        add_steps(b, 4)
        deadline = time.monotonic() + 5
        while len(app.updates) < 2:
            assert time.monotonic() < deadline, f"RunUpdated for both runs, got {app.updates}"
            await pilot.pause(POLL)
        await pilot.pause(4 * POLL)
        assert sorted(name for name, _ in app.updates) == [a.name, b.name]  # one message per run
        assert shows["table"] == 1  # one redraw for the batch
        followers = app.query_one(RunsView).followers
        assert [followers[r.name].series.step_x[-1] for r in (a, b)] == [4, 4]


async def test_with_polling_off_a_view_still_catches_up_when_its_tab_is_shown(tmp_path, monkeypatch):
    run = live_run(tmp_path / "runs", "20260101-040000-live")
    app = RecordingApp(runs_dir=tmp_path / "runs", attach=run, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        train = app.query_one(TrainView)
        assert train.timer is None
        polls = count_polls(monkeypatch)
        await pilot.pause(0.2)
        assert polls[id(train.follower)] == 0
        add_steps(run, 4)
        await pilot.press("1", "2")
        assert polls[id(train.follower)] == 1  # one poll, when the tab was shown
        assert train.chart("steps")._curves[0].x[-1] == 4
        assert app.updates == [(run.name, train.follower.version)]
