"""``pneumo tui``: open the app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def tui() -> None:
        """Open the terminal app."""
        from ..app import PneumoApp

        PneumoApp().run()
