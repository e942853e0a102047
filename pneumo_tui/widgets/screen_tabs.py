"""The app's tabbed screens, kept on the tab the user (or the app) chose last.

Textual's TabbedContent shows the pane that reports focus inside it
(``TabPane.Focused``). That report is a message: one sent before a later tab
change (the startup focus, say, when ``--attach`` switches to Train at once)
arrives after it and switches back. Here a report counts only while the focus
is still inside the pane that sent it.

The tab bar takes no focus (the number keys and the mouse switch tabs): focused,
it held the keys away from the screen on view, so that ``s`` did not start a
training after Tab had walked past the charts.
"""

from __future__ import annotations

from textual.widgets import TabbedContent, TabPane, Tabs


class ScreenTabs(TabbedContent):
    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        # Textual runs the base class's handler after this one unless the default is prevented.
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors_with_self:
            event.prevent_default()  # stale: the focus has moved on since this pane reported it
            event.stop()
