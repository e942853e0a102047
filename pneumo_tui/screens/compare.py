"""Compare two runs on the same test images (McNemar + DeLong), as a pushable screen.

The Runs screen pushes ``CompareScreen(run_a, run_b)``; the numbers, and the
conclusion for these two runs in words, are those of ``pneumo compare``.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from training.core.errors import one_line
from training.evaluation.compare import compare_runs, format_comparison

from ..stylesheets import sheet


class CompareScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    CSS_PATH = sheet("compare")

    def __init__(self, run_a: Path, run_b: Path, split: str = "test", **kwargs):
        super().__init__(**kwargs)
        self.run_a, self.run_b, self.split = Path(run_a), Path(run_b), split

    def compose(self) -> ComposeResult:
        yield Static(f"Compare {self.run_a.name} vs {self.run_b.name} ({self.split})", id="compare-title", markup=False)
        with VerticalScroll():
            yield Static(self._text(), id="compare-result")
        yield Footer()

    def _text(self) -> Text:
        # Never markup: run names and error messages come from files on disk.
        try:
            return Text(format_comparison(compare_runs(self.run_a, self.run_b, self.split)))
        except (FileNotFoundError, ValueError, OSError) as exc:
            return Text(f"Cannot compare: {one_line(exc)}", style="red")
