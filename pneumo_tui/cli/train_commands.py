"""Commands registered on the ``pneumo`` app (filled in by its owner)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
