"""A one-line footer of the focused screen's keys.

Textual's Footer rebuilds one widget per key on every focus change; when
switching tabs while a run is followed that was most of the key-press latency.
This bar re-renders one line of text instead (keys are not clickable: the app
is keyboard first, and the tabs take the mouse).

What it shows, in this order: the keys of the app's own widgets and views
around the focus, innermost first (a number box's Enter, then the Train
screen's Start), then the app's (help, quit). The keys of a focused
third-party widget (a chart's zoom and pan, a table's cursor) are left to
``?``: at 80 columns they used to push Start off the line. Bindings of one ``Binding.Group``
are shown as one entry, their keys together (``m d u a Verdict``). When the line
is too short, the view's last keys are cut (``…``), never help and quit.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def _own(node) -> bool:
    return type(node).__module__.startswith("pneumo_tui.")


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        self._screen = screen
        self.update(self.keys_text(screen, self.content_region.width), layout=False)  # one line: no relayout

    def on_resize(self) -> None:
        if getattr(self, "_screen", None) is not None:
            self._bindings_changed(self._screen)

    def keys_text(self, screen, width: int = 0) -> Text:
        """The line of keys for ``screen``, fitted to ``width`` columns (0: as long as it is)."""
        views, app_keys = [], []
        for node, binding, enabled, _tooltip in screen.active_bindings.values():
            if not binding.show:
                continue
            if node is self.app:
                app_keys.append((binding, enabled))
            elif _own(node):
                views.append((binding, enabled))
        seen: set = set()
        own = self._entries(views, seen)
        app_part = self._entries(app_keys, seen)
        if width and own.cell_len + app_part.cell_len > width:
            own.truncate(max(0, width - app_part.cell_len - 3))
            own.rstrip()
            own.append("…  ")
        return Text.assemble(own, app_part, no_wrap=True, overflow="ellipsis")

    def _entries(self, bindings, seen: set) -> Text:
        entries: list[tuple[list[str], str, bool]] = []  # (keys, description, enabled)
        for binding, enabled in bindings:
            if binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            group = binding.group
            if group is not None and entries and entries[-1][1] == group.description:
                entries[-1][0].append(key)
                continue
            entries.append(([key], group.description if group is not None else binding.description, enabled))
        text = Text(no_wrap=True)
        for keys, description, enabled in entries:
            text.append(" ".join(keys), style="bold" if enabled else "dim")
            text.append(f" {description}  ", style="" if enabled else "dim")
        return text
