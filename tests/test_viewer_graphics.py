"""The film's pixels as the terminal gets them: sixel with all grey levels, inside its region, tmux, half cells.

The sixel tests decode the escape sequence the viewer writes (tests/sixel_decode.py) instead of trusting
the encoder; no terminal is needed. A real terminal's screenshot is still to be compared (BENCHMARKS.md).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from review_fixtures import write_run
from rich.color import ColorSystem
from sixel_decode import decode, split_placed
from test_review_screens import Host
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.widgets import Static

from pneumo_tui.screens.review import ReviewScreen
from pneumo_tui.widgets import graphics
from pneumo_tui.widgets.graphics import GREY_REGISTERS, luminance, richer_colour_system
from pneumo_tui.widgets.samples import SampleStrip
from pneumo_tui.widgets.xray import FilmImage, get_image_protocol, set_image_protocol

CELL = (10, 20)  # pixels of a cell, pinned (textual-image's default when the terminal does not say)


@pytest.fixture
def sixel(monkeypatch):
    from textual_image._terminal import CellSize, get_cell_size

    monkeypatch.setattr(get_cell_size, "_result", CellSize(*CELL), raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setattr(FilmImage, "encode_in_thread", False)  # drawn at once: the tests read what is written
    before = get_image_protocol()
    set_image_protocol("sixel")
    yield
    set_image_protocol(before)


def gradient_film(width: int = 300, height: int = 360) -> np.ndarray:
    """A film with every grey level, in smooth ramps (so that resizing keeps them)."""
    y, x = np.mgrid[0:height, 0:width]
    return ((x / (width - 1) * 0.7 + y / (height - 1) * 0.3) * 255).round().astype(np.uint8)


@pytest.fixture
def rich_run(tmp_path):
    """A run whose every case is a 300x360 film with all 256 grey levels."""
    run = write_run(tmp_path / "run-a")
    film = Image.fromarray(gradient_film(), "L")
    for png in Path(run).parent.rglob("case-*.png"):
        film.save(png)
    return run


def placed_sixel(widget: FilmImage) -> str:
    """What the widget writes for its whole region: the control text on its last line."""
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    controls = [seg.text for seg in lines[-1] if seg.control]
    assert len(controls) == 1 and all(not seg.control for line in lines[:-1] for seg in line)
    return controls[0]


def test_grey_registers_keep_every_grey_level_apart():
    lum = [luminance(r) for r in GREY_REGISTERS]
    assert len(GREY_REGISTERS) == 256 and all(np.diff(lum) > 0)  # 256 distinct, in order
    assert all(max(r) - min(r) <= 1 for r in GREY_REGISTERS)  # at most 1 % off grey in any channel
    assert max(abs(v - i * 100 / 255) for i, v in enumerate(lum)) < 0.1  # each within 0.1 % of its level


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_sixel_film_keeps_the_grey_levels_and_stays_in_its_region(sixel, rich_run, size):
    app = Host(lambda: ReviewScreen(rich_run))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        widget = app.screen.query_one("#film-xray FilmImage", FilmImage)
        (x, y), data = split_placed(placed_sixel(widget))
        pixels, registers, (w, h) = decode(data)
        region = widget.region
        cw, ch = CELL
        # starts inside its region, ends inside it, whole bands, never on the last terminal row
        assert region.x <= x and region.y <= y
        assert x * cw + w <= region.right * cw and y * ch + h <= region.bottom * ch
        assert (y * ch + h) <= (size[1] - 1) * ch and h % 6 == 0
        assert pixels.shape == (h, w) and (pixels >= 0).all()  # every pixel set: nothing of the last image left
        greys = {luminance(registers[i]) for i in np.unique(pixels)}
        assert len(greys) > 200, f"only {len(greys)} grey levels drawn"
        assert all(max(registers[i]) - min(registers[i]) <= 1 for i in np.unique(pixels))  # grey, not colour
        # the film fills the screen's height but the facts line, the status and the key bar
        assert h >= (size[1] - 6) * ch


async def test_sample_strip_at_the_bottom_never_reaches_the_last_row(sixel):
    samples = {"NORMAL": [(f"n{i}", Image.fromarray(gradient_film(64, 64), "L")) for i in range(3)]}

    class Bottom(App):
        def compose(self) -> ComposeResult:
            with Vertical():
                yield Static("filler", classes="filler")
                yield SampleStrip(samples, "sixel")

        CSS = ".filler { height: 1fr; }"

    async with Bottom().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widgets = list(pilot.app.query(FilmImage))
        assert widgets and widgets[0].region.bottom == 24  # the strip touches the last row
        for widget in widgets:
            (x, y), data = split_placed(placed_sixel(widget))
            _, _, (w, h) = decode(data)
            assert y * CELL[1] + h <= 23 * CELL[1] and region_contains(widget.region, x, y)


def region_contains(region: Region, x: int, y: int) -> bool:
    return region.x <= x < region.right and region.y <= y < region.bottom


def test_tmux_passthrough_wraps_the_image_where_it_is_on(monkeypatch):
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    monkeypatch.setattr(graphics, "tmux_passthrough", lambda: True)
    monkeypatch.setattr(graphics, "tmux_pane_offset", lambda: (40, 2))
    sixel = graphics.grey_sixel(gradient_film(30, 24))
    placed = graphics.place_sixel(sixel, 3, 4)
    assert placed.startswith("\x1bPtmux;") and placed.endswith("\x1b\\")
    inner = placed[len("\x1bPtmux;"):-2].replace("\x1b\x1b", "\x1b")
    (x, y), data = split_placed(inner)
    assert (x, y) == (43, 6) and data == sixel  # moved to the pane's cell in the outer terminal
    monkeypatch.delenv("TMUX")
    assert graphics.place_sixel(sixel, 3, 4).startswith("\x1b7\x1b[5;4H\x1bP")  # no tmux: plain


async def test_sixel_in_tmux_without_passthrough_says_why(monkeypatch, sixel):
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    monkeypatch.setattr(graphics, "tmux_passthrough", lambda: False)
    monkeypatch.setattr(graphics, "tmux_sixel", lambda: False)

    class One(App):
        def compose(self) -> ComposeResult:
            yield FilmImage(Image.fromarray(gradient_film(40, 40), "L"), "sixel")

    async with One().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = pilot.app.query_one(FilmImage)
        assert "allow-passthrough" in widget.reason
        lines = widget.render_lines(Region(0, 0, *widget.size))
        text = "".join(seg.text for line in lines for seg in line)
        assert "allow-passthrough" in text and "\x1bP" not in text  # a visible reason, no image bytes


async def test_halfcell_film_has_grey_levels_in_256_colours():
    class One(App):
        def compose(self) -> ComposeResult:
            yield FilmImage(Image.fromarray(gradient_film(120, 120), "L"), "halfcell")

    async with One().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = pilot.app.query_one(FilmImage)
        lines = widget.render_lines(Region(0, 0, *widget.size))
        colours = {c for line in lines for seg in line if seg.text == "\u2580"
                   for c in (seg.style.color, seg.style.bgcolor)}
        in_256 = {c.downgrade(ColorSystem.EIGHT_BIT).number for c in colours}
        in_16 = {c.downgrade(ColorSystem.STANDARD).number for c in colours}
        assert len(colours) > 40 and len(in_256) >= 20 and len(in_16) <= 4  # 16 colours: a flat rectangle


def test_half_cells_get_the_256_colour_ramp_whatever_term_says():
    assert richer_colour_system({"TERM": "xterm"}) == "256"
    assert richer_colour_system({"TERM": "screen"}) == "256"
    assert richer_colour_system({"TERM": "xterm", "COLORTERM": "truecolor"}) is None  # Textual takes true colour
    assert richer_colour_system({"TERM": "xterm-256color"}) is None
    assert richer_colour_system({"TERM": "xterm", "NO_COLOR": "1"}) is None
    assert richer_colour_system({"TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "standard"}) is None  # the user's
    assert richer_colour_system({"TERM": "linux"}) is None and richer_colour_system({}) is None


PROBE = """
import sys
from pneumo_tui.app import PneumoApp
PneumoApp.run = lambda self: print("RUN", __import__("os").environ.get("TEXTUAL_COLOR_SYSTEM"))
from pneumo_tui.cli import main
sys.argv = ["pneumo", "tui", "--runs", sys.argv[1], "--image-protocol", sys.argv[2]]
try:
    main()
except SystemExit:
    pass
from pneumo_tui.widgets import graphics
print("ASKED", graphics._detected, "textual_image.renderable" in sys.modules)
"""


@pytest.mark.parametrize("protocol", ["halfcell", "none", "auto"])
def test_no_terminal_probe_for_halfcell_or_none(tmp_path, protocol):
    env = {k: v for k, v in os.environ.items() if k not in ("TEXTUAL_COLOR_SYSTEM", "COLORTERM", "NO_COLOR")}
    env.update(TERM="xterm", PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), protocol], capture_output=True, env=env,
                         timeout=120).stdout.decode()
    assert "RUN 256" in out, out  # TERM=xterm: the 256-colour grey ramp
    # auto asks (here, not a terminal: half cells, without writing a byte); halfcell and none never ask
    assert f"ASKED {'halfcell' if protocol == 'auto' else None} False" in out, out
    assert "\x1b" not in out  # and nothing was written to the terminal


def test_no_kitty_query_inside_tmux_or_screen():
    """The kitty query is an APC sequence, which tmux and screen take for the window title."""
    assert graphics.multiplexed({"TMUX": "/tmp/tmux-0/default,1,0"}) and graphics.multiplexed({"STY": "1.pts"})
    assert graphics.multiplexed({"TERM": "screen-256color"}) and not graphics.multiplexed({"TERM": "xterm"})


async def test_a_film_scrolled_half_out_of_view_draws_only_its_visible_part(sixel):
    from textual.containers import VerticalScroll

    class Scrolled(App):
        CSS = "FilmImage { height: 12; } .gap { height: 8; }"

        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield Static("above", classes="gap")
                yield FilmImage(Image.fromarray(gradient_film(120, 120), "L"), "sixel")
                yield Static("below", classes="gap")
                yield Static("below", classes="gap")

    async with Scrolled().run_test(size=(40, 16)) as pilot:
        await pilot.pause()
        scroll = pilot.app.query_one(VerticalScroll)
        scroll.scroll_to(y=14, animate=False)
        await pilot.pause()
        widget = pilot.app.query_one(FilmImage)
        visible = pilot.app.screen.find_widget(widget).visible_region
        assert visible.height < widget.region.height  # half out of view, above the screen
        (x, y), data = split_placed(widget.sixel_sequence(widget.region, visible, 16))
        _, _, (w, h) = decode(data)
        assert y == visible.y and y * CELL[1] + h <= visible.bottom * CELL[1] and h % 6 == 0


async def test_sixel_is_encoded_off_the_ui_thread_and_says_so_meanwhile(sixel, monkeypatch):
    monkeypatch.setattr(FilmImage, "encode_in_thread", True)

    class One(App):
        def compose(self) -> ComposeResult:
            yield FilmImage(Image.fromarray(gradient_film(300, 300), "L"), "sixel")

    async with One().run_test(size=(80, 24)) as pilot:
        widget = pilot.app.query_one(FilmImage)
        await pilot.pause()
        widget.image = Image.fromarray(gradient_film(310, 300), "L")  # a new picture: encoded again
        lines = widget.render_lines(Region(0, 0, *widget.size))
        text = "".join(seg.text for line in lines for seg in line)
        assert "drawing…" in text and "\x1bP" not in text  # said, not a silent blank
        for _ in range(100):
            await pilot.pause(0.05)
            if widget._sixel is not None:
                break
        (x, y), data = split_placed(placed_sixel(widget))
        assert decode(data)[0].shape[1] <= widget.size.width * CELL[0]


async def test_a_new_window_keeps_the_films_last_sixel_until_the_new_one_is_ready(sixel, monkeypatch):
    from pneumo_tui.widgets.xray import XRayView

    class One(App):
        def compose(self) -> ComposeResult:
            yield XRayView(gradient_film(300, 300), protocol="sixel")

    async with One().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = pilot.app.query_one(XRayView)
        widget = view.query_one(FilmImage)
        first = placed_sixel(widget)  # drawn at once (encode_in_thread off)
        monkeypatch.setattr(FilmImage, "encode_in_thread", True)
        view.contrast(1.25)  # the same film, another window: the last picture stays while the new one encodes
        assert placed_sixel(widget) == first
        view.set_image(gradient_film(300, 300)[::-1])  # a new film: never the previous one meanwhile
        lines = widget.render_lines(Region(0, 0, *widget.size))
        assert "drawing…" in "".join(seg.text for line in lines for seg in line)
        assert not any(seg.control for line in lines for seg in line)
