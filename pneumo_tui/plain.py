"""Text from disk shown as text: run ids, recipe and model names, paths and notes are never read as Rich markup.

A ``str`` cell of a Rich ``Table`` is parsed as markup, so a run whose model is called ``cnn3[/]`` would take down
the screen or the command that shows it. Every table of the CLI and the app is a ``PlainTable``; styled cells are
passed as ``Text``.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text


def plain(value) -> Text:
    """``value`` as Rich text with no markup read from it (a ``Text`` is kept as it is)."""
    return value if isinstance(value, Text) else Text(str(value))


class PlainTable(Table):
    """A Rich table whose ``str`` cells are plain text, never markup."""

    def add_row(self, *renderables, **kwargs) -> None:
        super().add_row(*(plain(r) if isinstance(r, str) else r for r in renderables), **kwargs)
