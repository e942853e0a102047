"""What the app needs of the view in each of its tabs.

The app calls down: ``shown()`` when the view's tab is activated, ``hidden()``
when another one is, and focuses ``focus_target``. A view that follows runs
(``PollingView``) owns its refresh timer: created paused on mount, resumed while
its tab is shown, paused while hidden, so a hidden chart costs nothing.
"""

from __future__ import annotations

import time

from textual import on
from textual.app import ScreenStackError
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.timer import Timer
from textual.types import NoActiveAppError
from textual.widget import Widget

from ..messages import RunUpdated


class TabView(Vertical):
    """The view of one tab of the app."""

    @property
    def focus_target(self) -> Widget | None:
        """The widget that takes the focus when the tab is shown (None: the tab bar)."""
        return None

    def shown(self) -> None:
        """The view's tab was activated."""

    def hidden(self) -> None:
        """Another tab was activated."""


class PollingView(TabView):
    """A view that reads run folders every ``poll_interval`` seconds while shown (0: only when shown).

    ``refresh_runs`` polls and posts ``RunUpdated`` for each run that changed;
    the view redraws from those messages (``draw_updates``), once per batch.
    When its tab is shown it catches up at once, drawing in the same frame as the switch.
    """

    def __init__(self, *, poll_interval: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.poll_interval = poll_interval
        self.timer: Timer | None = None
        self.is_shown = False  # the app said shown (and not hidden since)
        self._polled_at = float("-inf")

    def on_mount(self) -> None:
        if self.poll_interval > 0:
            self.timer = self.set_interval(self.poll_interval, self.tick, pause=not self.is_shown)

    def shown(self) -> None:
        self.is_shown = True
        if self.timer is not None:
            self.timer.resume()
        self.catch_up()

    def hidden(self) -> None:
        self.is_shown = False
        if self.timer is not None:
            self.timer.pause()

    def catch_up(self) -> None:
        """Poll now and draw what changed at once (not a tick later, nor after the messages)."""
        self._poll()
        self.draw_updates()

    def tick(self) -> None:
        """The timer's call, every ``poll_interval`` seconds while the view is shown."""
        if time.monotonic() - self._polled_at < self.poll_interval / 2:
            return  # polled moments ago: the catch-up when the tab was shown (a resumed timer fires at once)
        try:
            if self.app.screen is not self.screen:
                return  # a screen (help, evaluation) covers the app's tabs
        except (ScreenStackError, NoActiveAppError, NoScreen):  # a last tick while the app tears its screens down
            return
        self._poll()

    def _poll(self) -> None:
        self._polled_at = time.monotonic()
        try:
            self.refresh_runs()
        except NoMatches:  # a last tick while the app tears its widgets down
            return

    def refresh_runs(self) -> None:
        """Read what the followed runs appended; post ``RunUpdated`` for each that changed."""

    def draw_updates(self) -> None:
        """Redraw what changed since the last draw (nothing when every version is drawn)."""

    @on(RunUpdated)
    def _run_updated(self, message: RunUpdated) -> None:
        try:
            self.draw_updates()
        except NoMatches:  # a late update while the app tears its widgets down
            return
