"""A small sixel decoder for the tests: the escape sequences the viewer writes, read back to pixels."""

from __future__ import annotations

import re

import numpy as np

_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")


def split_placed(text: str) -> tuple[tuple[int, int], str]:
    """((x, y) 0-based cell where the image starts, the sixel DCS ... ST) from what place_sixel wrote."""
    start = text.index("\x1bP")
    move = _MOVE.search(text, 0, start)
    assert move is not None, "no cursor move before the image"
    end = text.index("\x1b\\", start) + 2
    return (int(move.group(2)) - 1, int(move.group(1)) - 1), text[start:end]


def decode(sixel: str) -> tuple[np.ndarray, dict[int, tuple[int, int, int]], tuple[int, int]]:
    """(H, W) register index per pixel (-1 where none was set), {register: (r, g, b) percent}, raster (w, h)."""
    assert sixel.startswith("\x1bP") and sixel.endswith("\x1b\\")
    body = sixel[2:-2]
    q = body.index("q")
    data = body[q + 1:]
    raster = (0, 0)
    m = re.match(r'"(\d+);(\d+);(\d+);(\d+)', data)
    if m:
        raster = (int(m.group(3)), int(m.group(4)))
        data = data[m.end():]
    registers: dict[int, tuple[int, int, int]] = {}
    pixels: dict[tuple[int, int], int] = {}
    x = band = colour = 0
    i = 0
    while i < len(data):
        c = data[i]
        if c == "#":
            m = re.match(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?", data[i:])
            colour = int(m.group(1))
            if m.group(2) is not None:
                registers[colour] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
            i += m.end()
            continue
        if c == "$":
            x = 0
        elif c == "-":
            x, band = 0, band + 1
        elif c == "!":
            m = re.match(r"!(\d+)(.)", data[i:])
            count, char = int(m.group(1)), m.group(2)
            for _ in range(count):
                _put(pixels, x, band, ord(char) - 63, colour)
                x += 1
            i += m.end()
            continue
        elif "?" <= c <= "~":
            _put(pixels, x, band, ord(c) - 63, colour)
            x += 1
        i += 1
    w = max([px for px, _ in pixels] + [raster[0] - 1]) + 1
    h = max([py for _, py in pixels] + [raster[1] - 1]) + 1
    image = np.full((h, w), -1, int)
    for (px, py), reg in pixels.items():
        image[py, px] = reg
    return image, registers, raster


def _put(pixels, x, band, bits, colour):
    for r in range(6):
        if bits >> r & 1:
            pixels[(x, band * 6 + r)] = colour
