"""``pneumo tui``: open the app."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from .errors import fail
from .options import RUNS, RUNS_DIR_ALIAS, resolve, runs_folder


class ImageProtocol(StrEnum):
    auto = "auto"
    sixel = "sixel"
    kitty = "kitty"
    halfcell = "halfcell"
    none = "none"


def register(app: typer.Typer) -> None:
    @app.command()
    def tui(
        data: Path = typer.Option(None, "--data", help="Dataset: a Kermany folder, a split folder or a .npz."),
        runs: Path = RUNS,
        runs_alias: Path | None = RUNS_DIR_ALIAS,
        attach: str = typer.Option(None, "--attach", help="Open straight onto this run (path or id) and follow it."),
        image_protocol: ImageProtocol = typer.Option(
            ImageProtocol.auto, "--image-protocol",
            help="X-ray renderer: auto-detect, sixel, kitty, halfcell (any colour terminal), none (text only).",
        ),
    ) -> None:
        """Open the terminal app (Data, Train, Runs, Review)."""
        if data is not None and not data.exists():
            fail(f"no such dataset: {data}")
        runs = runs_folder(runs, runs_alias)
        run_dir = None
        if attach is not None:
            run_dir = resolve(attach, runs)
        if image_protocol is not ImageProtocol.none:
            # textual-image asks the terminal for its cell size and graphics support; that is only
            # possible before Textual starts.
            import textual_image.widget  # noqa: F401
        from ..app import PneumoApp

        PneumoApp(data=data, runs_dir=runs, attach=run_dir, image_protocol=image_protocol.value).run()
