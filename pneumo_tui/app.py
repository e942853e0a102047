"""The Textual app (placeholder until the app issue lands)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class PneumoApp(App):
    TITLE = "pneumo-tui"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("pneumo-tui: the app is being built. Press q to quit.")
        yield Footer()

    BINDINGS = [("q", "quit", "Quit")]
