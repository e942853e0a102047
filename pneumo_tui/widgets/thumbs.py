"""ThumbGrid: small X-rays in a grid, each with its kind, probability and name, to scan cases quickly.

The grid is keyboard driven: the arrows move between thumbnails (up and down by a row),
Enter posts ``ThumbGrid.Opened`` with the case. The pictures are XRayViews, so they are
drawn with the app's protocol (sixel, kitty, half cells or a text placeholder).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from training.core.errors import one_line

from .xray import XRayView

THUMB_WIDTH, THUMB_HEIGHT = 18, 10  # cells, the label line included
THUMB_PIXELS = 256  # the longest side kept: more than a thumbnail draws, even in sixel (18 cells of ~10 px)


def thumbnail(pixels: np.ndarray, longest: int = THUMB_PIXELS) -> np.ndarray:
    """``pixels`` scaled down so that its longest side is at most ``longest`` (what a thumbnail can show)."""
    from PIL import Image

    h, w = pixels.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return pixels
    image = Image.fromarray(pixels).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    return np.asarray(image)


class ThumbCell(Vertical, can_focus=True):
    """One case: its picture and a line saying what it is."""

    DEFAULT_CSS = f"""
    ThumbCell {{ width: {THUMB_WIDTH}; height: {THUMB_HEIGHT}; border: none; }}
    ThumbCell > XRayView {{ height: 1fr; }}
    ThumbCell > .thumb-label {{ height: 1; text-wrap: nowrap; text-overflow: ellipsis; }}
    ThumbCell:focus > .thumb-label {{ text-style: reverse bold; }}
    """

    def __init__(self, case: dict, name: str, pixels: np.ndarray | None, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        self.label = name
        self.pixels = pixels

    def compose(self) -> ComposeResult:
        yield XRayView(self.pixels)
        kind_style = {"FN": "bold red", "FP": "bold yellow"}.get(self.case["kind"], "green")
        # the name comes from disk: text, never markup
        yield Static(Text.assemble((self.case["kind"], kind_style), f" {self.case['probability']:.2f} ", self.label),
                     classes="thumb-label")

    def on_mount(self) -> None:
        self._film_reason("loading…")

    def set_pixels(self, pixels: np.ndarray | None, problem: str | None = None) -> None:
        """The thumbnail's picture, loaded in the grid's thread (or why there is none)."""
        self.pixels = pixels
        self._film_reason(problem or "no image")
        self.query_one(XRayView).set_image(pixels)

    def _film_reason(self, text: str) -> None:
        from .xray import FilmImage

        for film in self.query(FilmImage):
            film.empty_reason = text
            film.refresh()


class ThumbGrid(Grid):
    """Thumbnails of ``cases`` in as many columns as fit; arrows move, Enter opens."""

    DEFAULT_CSS = f"""
    ThumbGrid {{ height: auto; grid-gutter: 0 1; grid-size: 4; grid-rows: {THUMB_HEIGHT}; }}
    """
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Previous", show=False),
        Binding("right", "move(1, 0)", "Next", show=False),
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("enter", "open", "Open"),
    ]

    class Opened(Message):
        """Enter on a thumbnail: ``case`` is to be shown full screen."""

        def __init__(self, case: dict) -> None:
            super().__init__()
            self.case = case

    def __init__(self, cases: list[dict], names: dict[str, str], load: Callable[[dict], np.ndarray], **kwargs):
        super().__init__(**kwargs)
        self.grid_cases = cases
        self.names = names
        self.load = load

    def compose(self) -> ComposeResult:
        for case in self.grid_cases:
            yield ThumbCell(case, self.names.get(case["id"], case["id"]), None)

    def on_mount(self) -> None:
        self.load_pictures(self.cells())

    @work(thread=True, exclusive=True, group="thumbnails")
    def load_pictures(self, cells: list[ThumbCell]) -> None:
        """Read the X-rays off the UI thread (full-size JPEGs take tens of ms each), kept at thumbnail size."""
        for cell in cells:
            if get_current_worker().is_cancelled:
                return
            try:
                pixels, problem = thumbnail(self.load(cell.case)), None
            except Exception as exc:  # a missing or broken file: the thumbnail says so
                pixels, problem = None, one_line(exc)
            self.app.call_from_thread(cell.set_pixels, pixels, problem)

    @property
    def columns(self) -> int:
        """How many thumbnails a row of this grid holds at its current width."""
        return max(1, (self.size.width + 1) // (THUMB_WIDTH + 1))

    def on_resize(self) -> None:
        self.styles.grid_size_columns = self.columns

    def cells(self) -> list[ThumbCell]:
        return list(self.query(ThumbCell))

    def action_move(self, dx: int, dy: int) -> None:
        cells = self.cells()
        focused = self.screen.focused
        if not cells:
            return
        index = cells.index(focused) if focused in cells else 0
        target = index + dx + dy * self.columns
        if 0 <= target < len(cells):
            cells[target].focus()
        else:
            # past the first or last row: the screen moves to the grid above or below
            self.screen.focus_next() if target >= len(cells) else self.screen.focus_previous()

    def action_open(self) -> None:
        focused = self.screen.focused
        if isinstance(focused, ThumbCell):
            self.post_message(self.Opened(focused.case))
