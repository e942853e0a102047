"""The app's compare screen says what ``pneumo compare`` says, the conclusion for the two runs included."""

from review_fixtures import write_run
from textual.app import App
from textual.widgets import Static

from pneumo_tui.screens.compare import CompareScreen
from training.evaluation.compare import compare_runs, conclusions


class Host(App):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.a, self.b))


async def test_the_compare_screen_ends_with_the_conclusion_for_these_two_runs(tmp_path):
    a = write_run(tmp_path / "run-a", seed=1, images=False)
    b = write_run(tmp_path / "run-[b]", seed=2, separation=0.5, images=False)  # brackets: never read as markup
    app = Host(a, b)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = str(app.screen.query_one("#compare-result", Static).render())
    assert "B: run-[b]" in text
    for line in conclusions(compare_runs(a, b)):
        assert line in text
    assert "AUC differs" in text and "A ranks the cases better" in text
