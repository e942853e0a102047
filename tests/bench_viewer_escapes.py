"""What the viewer asks the terminal to draw, measured from the escape sequences themselves (no terminal).

For the Review side panel and the full-screen film at 80x24 and 120x40 (cells of 10x20 px, textual-image's
default), per protocol: the pixels drawn and the grey levels they can show.
  sixel (ours): the DCS FilmImage writes, decoded (tests/sixel_decode.py): its size, distinct luminances.
  sixel (textual-image 0.12): its encoder on the same picture (RGB, fast octree), decoded the same way.
  halfcell: the cells FilmImage renders, 2 pixels each; grey levels after Rich's downgrade per colour system.
A real terminal's screenshot (what is on the glass) is still to be made: no X server or terminal here.

Run: PYTHONPATH=.:tests .venv/bin/python tests/bench_viewer_escapes.py  (not a test: prints the BENCHMARKS table)
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from review_fixtures import write_run
from rich.color import ColorSystem
from sixel_decode import decode, split_placed
from textual.app import App
from textual.geometry import Region

from pneumo_tui.screens.review import ReviewScreen
from pneumo_tui.widgets.graphics import luminance
from pneumo_tui.widgets.xray import FilmImage, set_image_protocol

XRAY = Path(__file__).resolve().parents[2] / "shared" / "data" / "chest_xray" / "test" / "NORMAL" / "IM-0001-0001.jpeg"


class Host(App):
    def __init__(self, run):
        super().__init__()
        self.run_dir = run

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(self.run_dir))


def film_run(folder: Path) -> tuple[Path, str]:
    """A review fixture run whose films are one real Kermany X-ray (else a 256-level ramp)."""
    run = write_run(folder / "run")
    if XRAY.is_file():
        film, what = Image.open(XRAY).convert("L"), f"{XRAY.name} {Image.open(XRAY).size[0]}x{Image.open(XRAY).size[1]}"
    else:
        y, x = np.mgrid[0:1400, 0:1800]
        film, what = Image.fromarray(((x + y) * 255 // 3198).astype(np.uint8), "L"), "a 1800x1400 ramp"
    for png in folder.rglob("case-*.png"):
        film.save(png)
    return run, what


def sixel_figures(placed: str) -> tuple[str, int]:
    """("WxH", grey levels) of a placed sixel."""
    _, data = split_placed(placed)
    pixels, registers, _ = decode(data)
    levels = {round(luminance(registers[i]), 3) for i in np.unique(pixels) if i >= 0}
    return f"{pixels.shape[1]}x{pixels.shape[0]}", len(levels)


def textual_image_sixel(widget: FilmImage, placed: str) -> tuple[str, int]:
    """textual-image 0.12's encoder on the same picture at the same size (it gets RGB, as XRayView gave it)."""
    from textual_image._sixel import image_to_sixels

    _, data = split_placed(placed)
    pixels, _, _ = decode(data)
    h, w = pixels.shape
    picture = widget.image.resize((w, h), Image.Resampling.LANCZOS).convert("RGB")
    decoded, registers, _ = decode(image_to_sixels(picture))
    return f"{w}x{h}", len({registers[i] for i in np.unique(decoded) if i >= 0})


def halfcell_figures(widget: FilmImage) -> tuple[str, dict[str, int]]:
    lines = widget.render_lines(Region(0, 0, *widget.size))
    cells = [(seg.style.color, seg.style.bgcolor) for line in lines for seg in line if seg.text == "\u2580"]
    rows = sum(any(seg.text == "\u2580" for seg in line) for line in lines)
    cols = len(cells) // max(rows, 1)
    colours = {c for pair in cells for c in pair}
    levels = {name: len({c.downgrade(system).get_truecolor() for c in colours})
              for name, system in (("truecolor", ColorSystem.TRUECOLOR), ("256", ColorSystem.EIGHT_BIT),
                                   ("16", ColorSystem.STANDARD))}
    return f"{cols}x{2 * rows}", levels


async def measure(run: Path, size: tuple[int, int], protocol: str) -> list[str]:
    set_image_protocol(protocol)
    rows = []
    async with Host(run).run_test(size=size) as pilot:
        await pilot.pause()
        for where in ("Review side panel", "full-screen film"):
            if where == "full-screen film":
                await pilot.press("f")
                await pilot.pause()
            widget = pilot.app.screen.query_one(FilmImage)
            cells = f"{widget.size.width}x{widget.size.height}"
            label = f"{size[0]}x{size[1]} | {where} ({cells} cells)"
            if protocol == "sixel":
                start = time.perf_counter()
                widget._sixel = None
                placed = widget.sixel_sequence(widget.region, widget.region, size[1])
                ms = (time.perf_counter() - start) * 1000
                drawn, levels = sixel_figures(placed)
                rows.append(f"| {label} | sixel (ours) | {drawn} | {levels} | {len(placed) / 1024:.0f} KiB, "
                            f"{ms:.0f} ms to encode |")
                drawn, levels = textual_image_sixel(widget, placed)
                rows.append(f"| {label} | sixel (textual-image 0.12) | {drawn} | {levels} | |")
            else:
                drawn, levels = halfcell_figures(widget)
                rows.append(f"| {label} | halfcell | {drawn} | {levels['truecolor']} / {levels['256']} / "
                            f"{levels['16']} | (true colour / 256 colours / 16 colours) |")
    return rows


def main() -> None:
    from textual_image._terminal import CellSize, get_cell_size

    get_cell_size._result = CellSize(10, 20)
    with tempfile.TemporaryDirectory() as folder:
        run, what = film_run(Path(folder))
        print(f"film: {what}; cells of 10x20 px\n")
        print("| terminal | where | protocol | pixels drawn | grey levels | notes |")
        print("|---|---|---|---|---|---|")
        for size in ((80, 24), (120, 40)):
            for protocol in ("sixel", "halfcell"):
                for row in asyncio.run(measure(run, size, protocol)):
                    print(row)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
