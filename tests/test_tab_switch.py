"""A tab switch does not redraw its charts for nothing (issue 16, item 7): the charts shown again at the size they
were drawn at are not redrawn."""

from pathlib import Path

from pneumo_tui.app import PneumoApp
from pneumo_tui.widgets.charts import CurveChart

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
CNN3 = FIXTURES / "20260101-000000-cnn3"


def _app() -> PneumoApp:
    return PneumoApp(runs_dir=FIXTURES, welcome=False, poll_interval=0, attach=CNN3, image_protocol="none")


async def test_charts_shown_again_at_their_size_are_not_redrawn(monkeypatch):
    app = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        for key in "32":  # each tab shown once: its charts drawn at their size
            await pilot.press(key)
            await pilot.pause(0.2)
        draws = []
        original = CurveChart._draw
        monkeypatch.setattr(CurveChart, "_draw", lambda self: (draws.append(self.id), original(self))[1])
        for key in "3232":
            await pilot.press(key)
            await pilot.pause(0.1)
        assert app.tabs.active == "train" and draws == []
        await pilot.resize_terminal(100, 40)  # a new size is drawn again
        await pilot.pause(0.3)
        assert draws
