"""Text folded at path separators and spaces, never inside a name: file names are read whole or not at all."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widget import Widget


def fold_line(line: str, width: int, indent: int = 2) -> list[str]:
    """``line`` cut to ``width`` at spaces and path separators only, never inside a name (a name longer than the
    width stays whole); continuation lines are indented ``indent`` more than the first."""
    if width <= 0 or len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")) + indent)
    pieces = re.findall(r"[^/ ]*(?:/|\s+|$)", line)
    out, current = [], ""
    for piece in pieces:
        if not piece:
            continue
        if current and len(current) + len(piece.rstrip()) > width:
            out.append(current.rstrip())
            current = indent + piece.lstrip(" ")
        else:
            current += piece
    if current.strip():
        out.append(current.rstrip())
    return out


class FoldedLines(Widget):
    """Lines folded to the widget's width at path separators and spaces (names stay whole)."""

    DEFAULT_CSS = """
    FoldedLines { height: auto; }
    """

    def __init__(self, lines: list[str], **kwargs):
        super().__init__(**kwargs)
        self.lines = lines
        self._folded: tuple[int, list[str]] | None = None

    def folded(self, width: int) -> list[str]:
        if self._folded is None or self._folded[0] != width:
            self._folded = (width, [part for line in self.lines for part in fold_line(line, width)])
        return self._folded[1]

    def get_content_width(self, container, viewport) -> int:
        return max((len(line) for line in self.lines), default=0)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.folded(width))

    def render(self) -> Text:
        return Text("\n".join(self.folded(self.content_region.width)), no_wrap=True, overflow="ignore")
