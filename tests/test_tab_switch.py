"""A tab switch paints once (issue 16, item 7): the charts shown again at the size they were drawn at are not
redrawn, and the repaints of one switch are held until its activation has run, then always released."""

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


async def test_a_switch_holds_the_repaints_until_its_activation_and_always_releases_them():
    app = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert app._batch_count == 0
        app.action_show_tab("runs")
        assert app._batch_count == 1  # held: the focus change and the new layout paint together
        await pilot.pause(0.1)
        assert app.tabs.active == "runs" and app._batch_count == 0
        app.action_show_tab("runs")  # already shown: nothing held
        assert app._batch_count == 0
        app._switch_held, app._batch_count = True, app._batch_count + 1  # an activation that never comes
        app.set_timer(app.SWITCH_HOLD_S, app._release_switch)
        await pilot.pause(app.SWITCH_HOLD_S + 0.2)
        assert app._batch_count == 0
