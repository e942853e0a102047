"""The app's wiring: views post messages, the app handles them and calls its typed children."""

from pathlib import Path

from textual.widgets import TabbedContent

from pneumo_tui.app import PneumoApp
from pneumo_tui.messages import AttachRun, ReviewRun
from pneumo_tui.screens.runs import RunsView
from pneumo_tui.screens.train import TrainView

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
CNN3 = FIXTURES / "20260101-000000-cnn3"


async def test_a_view_posting_attach_run_makes_the_app_follow_it_on_the_train_tab():
    app = PneumoApp(runs_dir=FIXTURES, welcome=False, image_protocol="none", poll_interval=0)
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
