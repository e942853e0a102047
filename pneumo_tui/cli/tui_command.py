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
        prepare_terminal(image_protocol)
        from ..app import PneumoApp

        PneumoApp(data=data, runs_dir=runs, attach=run_dir, image_protocol=image_protocol.value).run()


def prepare_terminal(protocol: ImageProtocol) -> None:
    """What must be asked of the terminal before Textual starts (it reads the answers itself afterwards).

    auto: graphics.probe_protocol (device attributes for sixel; the kitty query, but not inside tmux or
    screen, which would take it for a window title); sixel: the cell size; kitty: textual-image's own
    probe. halfcell and none: nothing is asked, so no answer can land on the screen or in tmux's title.
    Half cells get the 256-colour grey ramp where TERM says less (graphics.richer_colour_system).
    """
    import os

    from ..widgets.graphics import probe_protocol, richer_colour_system

    colour_system = richer_colour_system()
    if colour_system:
        os.environ["TEXTUAL_COLOR_SYSTEM"] = colour_system  # read when Textual is first imported, below
    drawn = probe_protocol() if protocol is ImageProtocol.auto else protocol.value
    if drawn == "kitty":
        import textual_image.widget  # noqa: F401  (textual-image's TGP widget; its import probes the terminal)
    elif drawn == "sixel":
        from textual_image._terminal import get_cell_size

        get_cell_size()
