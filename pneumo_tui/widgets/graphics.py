"""Terminal graphics without Textual: sixel encoding, tmux passthrough, and the colour system for half cells.

Nothing here imports Textual or textual-image, so that the CLI can decide
before the app starts (and before any terminal probe) what the terminal is
asked for.

Sixel colour registers are given in percent (``#i;2;r;g;b`` with 0..100), so
pure greys (r = g = b) give only 101 levels. ``GREY_REGISTERS`` keeps all 256
grey levels of an 8-bit film apart by "bit stealing": level ``v`` is the grey
of ``floor(v / 2.55)`` percent with one or more channels raised by 1 percent,
chosen so that the luminance (0.299 R + 0.587 G + 0.114 B) is the closest to
``v / 2.55``; no channel is more than 1 percent (2.55 of 255) off grey. The 256
luminances are distinct and increasing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

import numpy as np

LUMA = (0.299, 0.587, 0.114)
SIXEL_BAND = 6  # pixel rows per sixel band
_LONG_RUN = re.compile(rb"\?{4,}|~{4,}")
_RUNS: dict[bytes, bytes] = {}  # a run -> its code (the same few lengths come back in every band)


def _grey_register(v: int) -> tuple[int, int, int]:
    """(r, g, b) in percent whose luminance is closest to grey level ``v`` (0..255)."""
    target = v * 100.0 / 255.0
    base = int(target)
    best = None
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                rgb = (min(base + dr, 100), min(base + dg, 100), min(base + db, 100))
                error = abs(sum(w * c for w, c in zip(LUMA, rgb, strict=True)) - target)
                if best is None or error < best[0] - 1e-9:
                    best = (error, rgb)
    return best[1]


GREY_REGISTERS: tuple[tuple[int, int, int], ...] = tuple(_grey_register(v) for v in range(256))


def luminance(rgb_percent: tuple[int, int, int]) -> float:
    """Luminance of a sixel register (percent), on the 0..100 scale."""
    return sum(w * c for w, c in zip(LUMA, rgb_percent, strict=True))


def _run(match: re.Match) -> bytes:
    run = match.group()
    code = _RUNS.get(run)
    if code is None:
        code = _RUNS[run] = b"!%d%s" % (len(run), run[:1])
    return code


def _rle(row: bytes) -> bytes:
    """Sixel run-length encoding of the runs that matter, four or more empty (?) or full (~) columns:
    ``!n`` and the character. A pattern of literals is several times faster than a back-reference."""
    return _LONG_RUN.sub(_run, row)


def encode_sixel(indices: np.ndarray, registers: list[tuple[int, int, int]] | tuple) -> str:
    """A complete sixel image (DCS ... ST) of the (H, W) palette ``indices`` with ``registers`` in percent.

    Every register is defined before the first pixel (a terminal that meets a register in the middle of the
    data may draw the first bands with its default palette), the background is left as it was (P2 = 1:
    the image sets every one of its pixels itself), the pixel aspect is 1:1 and the raster size is given.
    """
    h, w = indices.shape
    out = [b'\x1bP9;1;0q"1;1;%d;%d' % (w, h)]
    out += [b"#%d;2;%d;%d;%d" % (i, r, g, b) for i, (r, g, b) in enumerate(registers)]
    columns = np.arange(w)
    for top in range(0, h, SIXEL_BAND):
        band = indices[top:top + SIXEL_BAND]
        bits = np.zeros((len(registers), w), np.uint8)
        for r in range(band.shape[0]):
            bits[band[r], columns] |= np.uint8(1 << r)
        rows = []
        for colour in np.flatnonzero(bits.any(axis=1)):
            row = (bits[colour] + 63).tobytes().rstrip(b"?")
            rows.append(b"#%d%s" % (colour, _rle(row)))
        out.append(b"$".join(rows))
        out.append(b"-")
    out[-1] = b"\x1b\\"
    return b"".join(out).decode("ascii")


def grey_sixel(gray: np.ndarray) -> str:
    """A 2-D uint8 film as sixel with one register per grey level (all 256 kept)."""
    return encode_sixel(np.asarray(gray, np.uint8), GREY_REGISTERS)


def colour_sixel(rgb: np.ndarray, colours: int = 256) -> str:
    """An (H, W, 3) uint8 picture (a film with a heatmap blended in) as sixel, median-cut to ``colours``."""
    from PIL import Image

    image = Image.fromarray(np.asarray(rgb, np.uint8), "RGB")
    paletted = image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette = paletted.getpalette()[: 3 * colours]
    registers = [tuple((palette[3 * i + c] * 100 + 127) // 255 for c in range(3)) for i in range(len(palette) // 3)]
    return encode_sixel(np.asarray(paletted), registers)


# --- what the terminal draws ------------------------------------------------------------------------------------

_detected: str | None = None  # what probe_protocol found (before the app started); None: never asked


def multiplexed(environ=os.environ) -> bool:
    """Inside tmux or GNU screen, which take an APC sequence (the kitty query) for a window title."""
    return bool(environ.get("TMUX") or environ.get("STY")) or environ.get("TERM", "").startswith(("screen", "tmux"))


def probe_protocol(environ=os.environ) -> str:
    """Ask the terminal (only before Textual starts) what it draws: "sixel", "kitty" or "halfcell".

    Sixel: device attributes (DA1) list 4. Kitty: the graphics protocol's query is answered OK; not asked
    inside tmux or screen, where the query would become the window title. Not a terminal: halfcell, nothing
    written. The answer is kept for ``detected_protocol``.
    """
    global _detected
    _detected = _probe(environ)
    return _detected


def detected_protocol() -> str:
    """What ``--image-protocol auto`` draws: what probe_protocol found, else half cells (never a late probe)."""
    return _detected or "halfcell"


def _probe(environ) -> str:
    import sys

    if not (sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__ and sys.__stdin__.isatty()):
        return "halfcell"
    from textual_image._terminal import TerminalError, capture_terminal_response

    def ask(query: str, start: str, end: str) -> str:
        try:
            with capture_terminal_response(start, end, timeout=0.1) as response:
                sys.__stdout__.write(query)
                sys.__stdout__.flush()
            return response.sequence
        except (TerminalError, TimeoutError):
            return ""

    attributes = ask("\x1b[c", "\x1b[?", "c")[3:-1].split(";")
    if "4" in attributes:
        return "sixel"
    if not multiplexed(environ) and ask("\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\", "\x1b_G", "\x1b\\"
                                        ).endswith(";OK\x1b\\"):
        return "kitty"
    return "halfcell"


# --- tmux -----------------------------------------------------------------------------------------------------


def in_tmux(environ=os.environ) -> bool:
    return bool(environ.get("TMUX"))


@lru_cache(maxsize=1)
def tmux_passthrough() -> bool:
    """Whether tmux passes escape sequences through to the outer terminal (``allow-passthrough`` on or all)."""
    return _tmux("show", "-gv", "allow-passthrough") in ("on", "all")


@lru_cache(maxsize=1)
def tmux_sixel() -> bool:
    """Whether this tmux draws sixel itself (tmux 3.4+ built with sixel, client with the sixel feature)."""
    return "sixel" in _tmux("display", "-p", "#{client_termfeatures}").split(",")


@lru_cache(maxsize=1)
def tmux_pane_offset() -> tuple[int, int]:
    """(left, top) of this pane in the outer terminal, for a passthrough image placed there."""
    try:
        left, top = _tmux("display", "-p", "#{pane_left} #{pane_top}").split()
        return int(left), int(top)
    except ValueError:
        return 0, 0


def _tmux(*args: str) -> str:
    if shutil.which("tmux") is None:
        return ""
    try:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=2).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def tmux_wrap(sequence: str) -> str:
    """``sequence`` for tmux passthrough: DCS tmux; with every ESC doubled, then ST."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def sixel_blocker(environ=os.environ) -> str | None:
    """Why sixel cannot reach the terminal from here (None when it can): tmux without passthrough or sixel."""
    if in_tmux(environ) and not tmux_passthrough() and not tmux_sixel():
        return ("inside tmux, sixel needs `tmux set -g allow-passthrough on` "
                "(or a tmux built with sixel); or run with --image-protocol halfcell")
    return None


def place_sixel(sixel: str, x: int, y: int, environ=os.environ) -> str:
    """The bytes that draw ``sixel`` with its top-left corner at cell (x, y) (0-based) of this screen.

    Inside tmux with passthrough on, the move and the image go to the outer terminal together (the pane's
    offset added) and tmux's cursor is left alone; elsewhere the cursor is moved, the image drawn, and the
    cursor put back (DECSC/DECRC).
    """
    if in_tmux(environ) and tmux_passthrough():
        left, top = tmux_pane_offset()
        return tmux_wrap(f"\x1b7\x1b[{y + top + 1};{x + left + 1}H{sixel}\x1b8")
    return f"\x1b7\x1b[{y + 1};{x + 1}H{sixel}\x1b8"


# --- colours for half cells -------------------------------------------------------------------------------------


def richer_colour_system(environ=os.environ) -> str | None:
    """The colour system to ask Textual for, or None to leave its own choice.

    Rich reads 16 colours from a plain ``TERM=xterm`` (or screen, tmux, vt220...), which turns a half-cell film
    into a flat grey rectangle, while nearly every terminal that says so draws the 256-colour grey ramp.
    256 colours then, unless the user chose (TEXTUAL_COLOR_SYSTEM), asked for no colour (NO_COLOR), the
    terminal says true colour (COLORTERM, Textual takes it) or 256 colours already, or it is a console that
    cannot (linux, dumb, none).
    """
    if "TEXTUAL_COLOR_SYSTEM" in environ or "NO_COLOR" in environ:
        return None
    if environ.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return None
    term = environ.get("TERM", "").lower()
    if not term or term in ("dumb", "linux", "vt100", "vt52") or term.endswith(("-256color", "-direct")):
        return None
    return "256"


def halfcell_hint(colour_system: str | None) -> str:
    """One line under a half-cell film: what it is, and how to get real pixels."""
    levels = {"truecolor": "256 greys", "256": "26 greys"}.get(colour_system or "", "16 colours (COLORTERM=truecolor)")
    return f"half cells, {levels} · real pixels: a sixel or kitty terminal (foot, WezTerm, kitty)"
