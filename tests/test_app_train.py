"""Start a training from the Train screen, quit the app: the detached run still finishes."""

import time

import pytest
from textual.widgets import Input, Select

from pneumo_tui.app import PneumoApp
from pneumo_tui.screens.train import TrainView
from training.run.events import read_events
from training.run.paths import RunPaths

pytest.importorskip("training.engine.trainer", reason="needs the training engine (pneumo train)")


def _set(app, selector: str, value: str) -> None:
    app.query_one(selector, Input).value = value


async def _start_cnn3(app, pilot, epochs: str, image_size: str) -> TrainView:
    """Fill the Train form for a small cnn3 run and press Start."""
    await pilot.press("2")
    app.query_one("#recipe", Select).value = "cnn3"
    await pilot.pause()
    _set(app, "#epochs", epochs)
    _set(app, "#image_size", image_size)
    _set(app, "#batch_size", "8")
    view = app.query_one(TrainView)
    view.query_one("#recipe").focus()
    await pilot.press("s")
    return view


async def test_training_started_in_the_app_survives_quitting(tmp_path, monkeypatch):
    from training.data.demo import write_demo

    # Slow steps (inherited by the detached trainer): the run must still be going when the app quits,
    # however fast this machine reaches that point.
    monkeypatch.setenv("PNEUMO_STEP_DELAY", "1.0")

    data = write_demo(tmp_path / "demo", per_class=12, size=64)
    runs = tmp_path / "runs"
    app = PneumoApp(data=data, runs_dir=runs, welcome=False, image_protocol="none")
    async with app.run_test(size=(100, 30)) as pilot:
        view = await _start_cnn3(app, pilot, epochs="3", image_size="48")
        launched = view.launched
        assert launched is not None
        deadline = time.monotonic() + 60
        while view.follower is None:  # the app finds the new run folder and follows it
            assert time.monotonic() < deadline, f"no run folder: {launched.log_tail()}"
            await pilot.pause(0.2)
        run = view.follower.run_dir
        # The folder appears before the trainer has written config.json; the follower picks it up on a later poll.
        while not view.follower.config:
            assert time.monotonic() < deadline, f"no config.json: {launched.log_tail()}"
            await pilot.pause(0.2)
        assert view.follower.config.get("recipe", {}).get("image_size") == 48
        alive_at_quit = launched.exited() is None
        await pilot.press("q")
    assert alive_at_quit, "the run ended before the app quit; the test proves nothing"
    deadline = time.monotonic() + 120
    while True:
        events = read_events(RunPaths(run).events)
        if events and events[-1]["event"] in ("run_finished", "run_failed"):
            break
        assert time.monotonic() < deadline, "the run did not finish within 120 s"
        time.sleep(0.5)
    assert events[-1]["event"] == "run_finished" and events[-1]["reason"] == "completed"
    assert sum(e["event"] == "epoch" for e in events) == 3
    assert "finished" in RunPaths(run).log.read_text()  # the detached trainer's output went to the run's log


async def test_stop_then_resume_from_the_train_screen(tmp_path, monkeypatch):
    from training.data.demo import write_demo

    # Slow steps (inherited by the detached trainer) so that early stopping cannot end the run before Stop lands.
    monkeypatch.setenv("PNEUMO_STEP_DELAY", "0.5")

    data = write_demo(tmp_path / "demo", per_class=12, size=64)
    app = PneumoApp(data=data, runs_dir=tmp_path / "runs", welcome=False, image_protocol="none", poll_interval=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await _start_cnn3(app, pilot, epochs="20", image_size="32")

        async def until(predicate, what, timeout=90.0):
            deadline = time.monotonic() + timeout
            while not predicate():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await pilot.pause(0.2)

        await until(lambda: view.follower is not None and view.follower.series.epochs, "the first epoch")
        await pilot.press("x")  # Stop: SIGINT, the trainer checkpoints and says so
        await until(lambda: view.follower.status == "stopped", "the stop")  # resumable, not "finished"
        assert view.follower.series.lifecycle["reason"] == "interrupted"
        stopped_at = max(view.follower.series.epochs)
        assert RunPaths(view.follower.run_dir).last_checkpoint.exists()
        await pilot.press("R")  # Resume from the last checkpoint, same run folder
        await until(lambda: view.follower.series.lifecycle["event"] == "run_resumed", "the resume")
        await until(lambda: max(view.follower.series.epochs) > stopped_at, "a resumed epoch")
        await pilot.press("x")
        await until(lambda: view.follower.status == "stopped", "the second stop")
