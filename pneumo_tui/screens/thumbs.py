"""The thumbnail grid of a run's misclassified cases: FN and FP apart, the most confident first.

Pushed by the Review view (``T``); Enter opens the thumbnail's case in the full-screen film,
whose arrows then step through the grid's cases in the grid's order (FN, then FP).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from training.evaluation.review_cases import confidence

from ..stylesheets import sheet
from ..widgets.thumbs import ThumbCell, ThumbGrid

MAX_THUMBS = 60  # per kind: loading more full-size X-rays would keep the grid from opening quickly


def error_groups(cases: list[dict], threshold: float) -> dict[str, list[dict]]:
    """{"FN": [...], "FP": [...]}, each the most confident first (then by id)."""
    return {kind: sorted((c for c in cases if c["kind"] == kind),
                         key=lambda c: (-confidence(c, threshold), c["id"])) for kind in ("FN", "FP")}


class ThumbsScreen(Screen):
    """FN and FP thumbnails of the Review's run; Esc goes back."""

    CSS_PATH = sheet("film")
    BINDINGS = [Binding("escape,T", "dismiss", "Back")]

    def __init__(self, review, **kwargs):
        super().__init__(**kwargs)
        self.review = review
        self.groups = error_groups(review.all_cases, review.threshold)

    @property
    def grid_cases(self) -> list[dict]:
        """The cases in the grid's order (what the film steps through)."""
        return [c for kind in ("FN", "FP") for c in self.groups[kind][:MAX_THUMBS]]

    def compose(self) -> ComposeResult:
        title = Text(f"{self.review.run_dir.name} · errors at {self.review.threshold:.3f}, the most confident first"
                     " · Enter: full screen", style="bold")
        yield Static(title, id="thumbs-title")
        with VerticalScroll(id="thumbs-body"):
            for kind, words in (("FN", "missed pneumonia (true PNEUMONIA called NORMAL)"),
                                ("FP", "false alarms (true NORMAL called PNEUMONIA)")):
                cases = self.groups[kind]
                shown = f", the first {MAX_THUMBS} shown" if len(cases) > MAX_THUMBS else ""
                yield Static(Text(f"{kind}: {len(cases)} {words}{shown}", style="bold"), classes="thumbs-kind")
                if cases:
                    yield ThumbGrid(cases[:MAX_THUMBS], self.review.short_names, self.review.images.load,
                                    id=f"thumbs-{kind.lower()}")
                else:
                    yield Static("none", classes="thumbs-none")
        yield Footer()

    def on_mount(self) -> None:
        first = self.query(ThumbCell).first() if self.query(ThumbCell) else None
        if first is not None:
            first.focus()

    @on(ThumbGrid.Opened)
    def open_film(self, message: ThumbGrid.Opened) -> None:
        from .film import FilmScreen

        cases = self.grid_cases
        index = next(i for i, c in enumerate(cases) if c["id"] == message.case["id"])
        self.app.push_screen(FilmScreen(self.review, cases, index))
