"""ThumbGrid: small X-rays in a grid, each with its kind, probability and name, to scan cases quickly.

The grid is keyboard driven: the arrows move between thumbnails (up and down by a row),
Enter posts ``ThumbGrid.Opened`` with the case. The pictures are XRayViews, so they are
drawn with the app's protocol (sixel, kitty, half cells or a text placeholder).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Static

from .xray import XRayView

THUMB_WIDTH, THUMB_HEIGHT = 18, 10  # cells, the label line included


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
            try:
                pixels = self.load(case)
            except Exception:  # a missing file: the thumbnail says "no image"
                pixels = None
            yield ThumbCell(case, self.names.get(case["id"], case["id"]), pixels)

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
