"""What the app needs of the view in each of its tabs.

The app focuses ``focus_target`` when the view's tab is shown.
"""

from __future__ import annotations

from textual.containers import Vertical
from textual.widget import Widget


class TabView(Vertical):
    """The view of one tab of the app."""

    @property
    def focus_target(self) -> Widget | None:
        """The widget that takes the focus when the tab is shown (None: the tab bar)."""
        return None
