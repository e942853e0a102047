"""XRayView: one chest X-ray in the terminal, with window/level, zoom and a heatmap overlay.

The pixels are prepared here (numpy + Pillow) and drawn with the protocol
chosen once for the app (``set_image_protocol``, from ``pneumo tui
--image-protocol``): auto asks textual-image what the terminal supports;
sixel and halfcell are drawn by FilmImage (sixel with all 256 grey levels,
see graphics.py; half cells in any colour terminal, tmux and SSH included),
kitty by textual-image's TGP widget, none shows a text placeholder.
"""

from __future__ import annotations

import textwrap
import threading
from functools import lru_cache

import numpy as np
from PIL import Image as PILImage
from rich.color import Color
from rich.segment import ControlType, Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

PROTOCOLS = ("auto", "sixel", "kitty", "halfcell", "none")
_protocol = "auto"


def set_image_protocol(name: str) -> None:
    """Choose the renderer for every XRayView created afterwards."""
    global _protocol
    if name not in PROTOCOLS:
        raise ValueError(f"unknown image protocol {name!r}; one of: {', '.join(PROTOCOLS)}")
    _protocol = name


def get_image_protocol() -> str:
    return _protocol


def resolve_protocol(protocol: str | None = None) -> str:
    """The protocol that is drawn: "auto" becomes what graphics.probe_protocol found before the app started
    (sixel, kitty, else halfcell). Nothing here asks the terminal: once Textual runs, an answer would land
    on the screen."""
    from .graphics import detected_protocol

    protocol = protocol or _protocol
    return detected_protocol() if protocol == "auto" else protocol


def image_class(protocol: str = "kitty"):
    """The textual-image widget class for the kitty protocol (the others are drawn by FilmImage).

    Its import asks the terminal about sixel and kitty: ``pneumo tui`` imports it before the app starts.
    """
    from textual_image import widget

    return {"kitty": widget.TGPImage}[protocol]


def cell_size() -> tuple[int, int]:
    """(width, height) of a terminal cell in pixels, as textual-image measured it (10x20 when unknown)."""
    from textual_image._terminal import get_cell_size

    size = get_cell_size()
    return size.width, size.height


def apply_window(image: np.ndarray, level: float, width: float) -> np.ndarray:
    """Window/level: map [level - width/2, level + width/2] onto 0..255 (radiology contrast)."""
    low = level - width / 2.0
    out = (image.astype(np.float32) - low) * (255.0 / max(width, 1.0))
    return np.clip(out, 0, 255).astype(np.uint8)


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """The "jet" ramp (blue -> cyan -> yellow -> red), (H, W, 3) uint8, for values in [0, 1].

    Jet rather than a white-hot ramp: yellow and white vanish on the bright
    parts of a chest X-ray, red on blue does not.
    """
    h = np.clip(heat, 0.0, 1.0)[..., None]
    ramp = np.concatenate([np.clip(1.5 - np.abs(4 * h - 3), 0, 1), np.clip(1.5 - np.abs(4 * h - 2), 0, 1),
                           np.clip(1.5 - np.abs(4 * h - 1), 0, 1)], axis=-1)
    return (ramp * 255).astype(np.uint8)


def blend_heatmap(gray: np.ndarray, heat: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """Grayscale image with the heatmap blended in colour; hot regions are the most opaque."""
    rgb = np.repeat(gray[..., None].astype(np.float32), 3, axis=-1)
    alpha = strength * (0.3 + 0.7 * np.clip(heat, 0.0, 1.0))[..., None]
    return (rgb * (1 - alpha) + heat_colours(heat).astype(np.float32) * alpha).astype(np.uint8)


def zoom_crop(shape: tuple[int, int], zoom: float, centre: tuple[float, float]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the region shown at ``zoom`` around ``centre`` (fractions)."""
    h, w = shape
    ch, cw = max(1, round(h / zoom)), max(1, round(w / zoom))
    top = int(np.clip(round(centre[0] * h - ch / 2), 0, h - ch))
    left = int(np.clip(round(centre[1] * w - cw / 2), 0, w - cw))
    return top, left, top + ch, left + cw


def fit_size(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """(w, h) of a width x height picture scaled to fit in box_w x box_h, the aspect kept, at least 1x1."""
    if width <= 0 or height <= 0 or box_w <= 0 or box_h <= 0:
        return 0, 0
    scale = min(box_w / width, box_h / height)
    return max(1, min(box_w, round(width * scale))), max(1, min(box_h, round(height * scale)))


class FilmImage(Widget):
    """A picture (PIL 'L' or 'RGB') drawn strictly inside this widget, never on the terminal's last row.

    ``halfcell``: two pixels a cell (upper half block, foreground over background), in the colours the
    app's colour system gives (graphics.richer_colour_system asks for the 256-colour grey ramp at least).
    ``sixel``: the real pixels, all 256 grey levels of a grey film (graphics.grey_sixel), the image's
    height a whole number of sixel bands that fit in the widget, so the terminal neither scrolls nor
    draws into the next widget. Where nothing can be drawn the widget says why (``reason``).
    """

    DEFAULT_CSS = "FilmImage { width: 1fr; height: 1fr; }"

    def __init__(self, image: PILImage.Image | None = None, protocol: str = "halfcell", reason: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.protocol = protocol
        self._image = image
        self._reason = reason
        self._halfcells: tuple | None = None
        self._sixel: tuple | None = None  # (key, placed sixel) of the picture drawn
        self._encoding: tuple | None = None  # the key being encoded in a thread
        self._version = 0  # which picture: bumped by every new image
        self._stale: tuple | None = None  # the same film's previous (key, sixel), kept on screen while encoding
        self.last_sixel: str | None = None  # what render_lines wrote last (tests and the benchmark read it)
        self.empty_reason = "no image"  # said where there is no picture (a thumbnail says "loading…" first)

    @property
    def image(self) -> PILImage.Image | None:
        return self._image

    @image.setter
    def image(self, image: PILImage.Image | None) -> None:
        self.show(image)

    def show(self, image: PILImage.Image | None, same_film: bool = False) -> None:
        """A new picture. ``same_film``: the same X-ray with another window, zoom or overlay, whose last sixel
        may stay on screen while the new one is encoded (a new case is never shown over the previous one)."""
        self._stale = self._sixel if same_film else None
        self._image = image
        self._halfcells = self._sixel = None
        self._version += 1  # a sixel still being encoded for the previous picture is dropped
        self.refresh()

    @property
    def reason(self) -> str | None:
        """Why nothing is drawn (None when the picture is)."""
        if self._reason:
            return self._reason
        if self._image is None:
            return self.empty_reason
        if self.protocol == "sixel":
            from .graphics import sixel_blocker

            return sixel_blocker()
        return None

    @reason.setter
    def reason(self, text: str | None) -> None:
        self._reason = text
        self.refresh()

    # --- half cells ------------------------------------------------------------------------------------------

    def _halfcell_rows(self, width: int, height: int) -> tuple[int, int, np.ndarray]:
        """(left, top) offset in cells and the picture scaled to (2 * rows, cols[, 3]) pixels."""
        key = (width, height)
        if self._halfcells is None or self._halfcells[0] != key:
            w, h = fit_size(self._image.width, self._image.height, width, 2 * height)
            h += h % 2
            pixels = np.asarray(self._image.resize((w, h), PILImage.Resampling.LANCZOS))
            self._halfcells = (key, (width - w) // 2, (height - h // 2) // 2, pixels)
        return self._halfcells[1:]

    def _halfcell_line(self, y: int, width: int, height: int) -> Strip:
        left, top, pixels = self._halfcell_rows(width, height)
        row = y - top
        blank = Style(bgcolor=self.background_colors[1].rich_color)
        if row < 0 or 2 * row >= pixels.shape[0]:
            return Strip([Segment(" " * width, blank)], width)
        upper, lower = pixels[2 * row], pixels[2 * row + 1]
        segments = [Segment(" " * left, blank)] if left else []
        for a, b in zip(upper.tolist(), lower.tolist(), strict=True):
            segments.append(Segment("\u2580", _half_style(_rgb(a), _rgb(b))))
        rest = width - left - len(upper)
        if rest > 0:
            segments.append(Segment(" " * rest, blank))
        return Strip(segments, width)

    def _text_line(self, y: int, width: int, height: int, text: str | None = None) -> Strip:
        lines = textwrap.wrap(text or self.reason or "", max(width, 1)) or [""]
        row = y - (height - len(lines)) // 2
        text = lines[row] if 0 <= row < len(lines) else ""
        style = Style(color=self.styles.color.rich_color if self.styles.color else None,
                      bgcolor=self.background_colors[1].rich_color, italic=True)
        return Strip([Segment(text.center(width)[:width], style)], width)

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self.reason:
            return self._text_line(y, width, height)
        return self._halfcell_line(y, width, height)

    # --- sixel -----------------------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        if self.protocol != "sixel" or self.reason:
            return super().render_lines(crop)
        blank = Style(bgcolor=self.background_colors[1].rich_color)
        lines = [Strip([Segment(" " * crop.width, blank)], crop.width) for _ in range(crop.height)]
        try:
            if not self.screen.is_active:
                return lines  # under a modal screen: blank, so that nothing is left of the picture
            visible = self.screen.find_widget(self).visible_region
        except (NoScreen, NoMatches, KeyError):
            return lines
        plan = self._sixel_plan(self.region, visible, self.screen.size.height)
        if plan is None:
            return lines
        if self._sixel is not None and self._sixel[0] == plan[0]:
            placed = self._sixel[1]
        elif not self.encode_in_thread:
            placed = self.sixel_sequence(self.region, visible, self.screen.size.height)
        else:
            self._encode_later(plan)
            if self._stale is None or self._stale[0][1:] != plan[0][1:]:  # not the same film at the same place
                width, height = self.size
                return [self._text_line(crop.y + y, width, height, "drawing…") for y in range(crop.height)]
            placed = self._stale[1]  # the same film a moment ago (window, zoom): no flicker to "drawing…"
        self.last_sixel = placed
        if lines:
            # after the blank cells of the last line: they are written first, the picture over them
            lines[-1] = Strip([*lines[-1], Segment(placed, _NULL, control=_NO_OP)], crop.width)
        return lines

    encode_in_thread = True  # a full-screen film takes ~0.5 s to encode: off the UI thread (tests draw at once)

    def _sixel_plan(self, region: Region, visible: Region, screen_height: int) -> tuple | None:
        """Where and at what size the picture goes: (key, w, h, px_top, px_left, px_h, px_w, left, top), the
        picture fitted to ``region`` (screen cells), cut to its ``visible`` part and to whole sixel bands above
        the screen's last row; None where no whole band fits."""
        cw, ch = cell_size()
        w, h = fit_size(self._image.width, self._image.height, region.width * cw, region.height * ch)
        cols, rows = -(-w // cw), -(-h // ch)
        x0, y0 = region.x + (region.width - cols) // 2, region.y + (region.height - rows) // 2
        top, bottom = max(y0, visible.y), min(y0 + rows, visible.bottom, screen_height - 1)
        left, right = max(x0, visible.x), min(x0 + cols, visible.right)
        px_top, px_left = (top - y0) * ch, (left - x0) * cw
        px_h = min(h - px_top, (bottom - top) * ch)
        px_h -= px_h % 6  # whole sixel bands: the last one never reaches into the row below
        px_w = min(w - px_left, (right - left) * cw)
        if px_h <= 0 or px_w <= 0:
            return None
        key = (self._version, w, h, px_top, px_left, px_h, px_w, top, left)
        return key, w, h, px_top, px_left, px_h, px_w, left, top

    @staticmethod
    def _encode(image: PILImage.Image, plan: tuple) -> str:
        """The placed sixel of ``image`` for ``plan`` (pure: safe in a thread)."""
        from .graphics import colour_sixel, grey_sixel, place_sixel

        _, w, h, px_top, px_left, px_h, px_w, left, top = plan
        pixels = np.asarray(image.resize((w, h), PILImage.Resampling.LANCZOS))
        pixels = pixels[px_top:px_top + px_h, px_left:px_left + px_w]
        return place_sixel(grey_sixel(pixels) if pixels.ndim == 2 else colour_sixel(pixels), left, top)

    def _encode_later(self, plan: tuple) -> None:
        """Encode in a thread; the widget redraws when it is done (if the picture and place are still these)."""
        if self._encoding == plan[0]:
            return
        self._encoding = plan[0]
        image, app = self._image, self.app

        def encode() -> None:
            placed = self._encode(image, plan)
            if not app.is_running:
                return  # the app has closed meanwhile
            try:
                app.call_from_thread(self._encoded, plan[0], placed)
            except RuntimeError:  # it closed just now
                pass

        threading.Thread(target=encode, name="sixel", daemon=True).start()

    def _encoded(self, key: tuple, placed: str) -> None:
        if self._encoding == key:
            self._sixel, self._encoding, self._stale = (key, placed), None, None
            self.refresh()

    def sixel_sequence(self, region: Region, visible: Region, screen_height: int) -> str:
        """The escape sequence that draws the picture for a widget at ``region`` (screen cells) of which
        ``visible`` shows, on a screen ``screen_height`` rows high ("" where no whole band fits), at once."""
        plan = self._sixel_plan(region, visible, screen_height)
        if plan is None:
            return ""
        if self._sixel is None or self._sixel[0] != plan[0]:
            self._sixel = (plan[0], self._encode(self._image, plan))
        return self._sixel[1]


_NULL = Style()
_NO_OP = ((ControlType.CURSOR_FORWARD, 0),)  # a control segment: Rich and Textual pass its text as it is


def _rgb(value) -> tuple[int, int, int]:
    return (value, value, value) if isinstance(value, int) else tuple(value)


@lru_cache(maxsize=8192)
def _half_style(upper: tuple[int, int, int], lower: tuple[int, int, int]) -> Style:
    return Style(color=Color.from_rgb(*upper), bgcolor=Color.from_rgb(*lower))


class XRayView(Widget):
    """Shows a 2-D uint8 array (or PIL image); reactive window/level, zoom, pan and overlay."""

    DEFAULT_CSS = """
    XRayView { height: 1fr; width: 1fr; align: center middle; }
    XRayView > .xray-image { width: auto; height: auto; }
    XRayView > FilmImage.xray-image { width: 1fr; height: 1fr; }
    XRayView > .xray-placeholder { width: 100%; height: 100%; content-align: center middle; color: $text-muted; }
    """

    MIN_WIDTH, ZOOM_MAX = 8.0, 8.0
    level: reactive[float] = reactive(127.5)
    window: reactive[float] = reactive(255.0)
    zoom: reactive[float] = reactive(1.0)
    centre: reactive[tuple[float, float]] = reactive((0.5, 0.5))
    show_overlay: reactive[bool] = reactive(False)
    overlay_strength: reactive[float] = reactive(0.5)  # how much of the heatmap is blended in, 0.1..1
    inverted: reactive[bool] = reactive(False)  # black bones on white, as some readers prefer

    def __init__(self, image=None, protocol: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.protocol = resolve_protocol(protocol)
        self._pixels: np.ndarray | None = None
        self._heatmap: np.ndarray | None = None
        self.set_image(image, refresh=False)

    def compose(self) -> ComposeResult:
        if self.protocol == "none":
            yield Static(self._placeholder_text(), classes="xray-placeholder", markup=False)
        elif self.protocol == "kitty":
            yield image_class(self.protocol)(self.render_pil(), classes="xray-image")
        else:
            yield FilmImage(self.render_pil(), self.protocol, classes="xray-image")

    # --- content ---------------------------------------------------------

    def set_image(self, image, refresh: bool = True) -> None:
        """A new X-ray: the overlay is dropped (it belonged to the previous image)."""
        if image is None:
            self._pixels = None
        elif isinstance(image, PILImage.Image):
            self._pixels = np.asarray(image.convert("L"))
        else:
            pixels = np.asarray(image)
            if pixels.ndim == 3:
                pixels = np.asarray(PILImage.fromarray(pixels.astype(np.uint8)).convert("L"))
            self._pixels = pixels.astype(np.uint8)
        self._heatmap = None
        if refresh:
            self._redraw(new_film=True)

    def set_heatmap(self, heatmap: np.ndarray | None) -> None:
        """A [0, 1] map at the image's size (e.g. Grad-CAM); shown when ``show_overlay``."""
        if heatmap is not None and self._pixels is not None and heatmap.shape != self._pixels.shape:
            raise ValueError(f"heatmap {heatmap.shape} does not match the image {self._pixels.shape}")
        self._heatmap = heatmap
        self._redraw()

    @property
    def has_heatmap(self) -> bool:
        return self._heatmap is not None

    @property
    def pixels(self) -> np.ndarray | None:
        return self._pixels

    # --- view controls -----------------------------------------------------

    def contrast(self, factor: float) -> None:
        """factor > 1 narrows the window (more contrast)."""
        self.window = float(np.clip(self.window / factor, self.MIN_WIDTH, 512.0))

    def brightness(self, step: float) -> None:
        """Positive steps lower the level, so the image gets brighter."""
        self.level = float(np.clip(self.level - step, 0.0, 255.0))

    def reset_window(self) -> None:
        self.level, self.window = 127.5, 255.0

    def strength_by(self, step: float) -> None:
        """More (step > 0) or less of the heatmap in the blend."""
        self.overlay_strength = round(float(np.clip(self.overlay_strength + step, 0.1, 1.0)), 2)

    def zoom_by(self, factor: float) -> None:
        self.zoom = float(np.clip(self.zoom * factor, 1.0, self.ZOOM_MAX))

    def fit(self) -> None:
        self.zoom, self.centre = 1.0, (0.5, 0.5)

    def pan(self, dy: float, dx: float) -> None:
        """Move the zoomed view by a fraction of what is visible."""
        y, x = self.centre
        self.centre = (float(np.clip(y + dy / self.zoom, 0, 1)), float(np.clip(x + dx / self.zoom, 0, 1)))

    def watch_level(self) -> None:
        self._redraw()

    def watch_window(self) -> None:
        self._redraw()

    def watch_zoom(self) -> None:
        self._redraw()

    def watch_centre(self) -> None:
        self._redraw()

    def watch_show_overlay(self) -> None:
        self._redraw()

    def watch_inverted(self) -> None:
        self._redraw()

    def watch_overlay_strength(self) -> None:
        self._redraw()

    # --- drawing -----------------------------------------------------------

    def render_pil(self) -> PILImage.Image | None:
        """The picture as it should look now (window, zoom, overlay applied)."""
        if self._pixels is None:
            return None
        top, left, bottom, right = zoom_crop(self._pixels.shape, self.zoom, self.centre)
        gray = apply_window(self._pixels[top:bottom, left:right], self.level, self.window)
        if self.inverted:
            gray = 255 - gray
        if self.show_overlay and self._heatmap is not None:
            return PILImage.fromarray(blend_heatmap(gray, self._heatmap[top:bottom, left:right],
                                                    self.overlay_strength), "RGB")
        return PILImage.fromarray(gray, "L")  # grey stays grey: the sixel path keeps its 256 levels

    def describe(self) -> str:
        """One line for a status bar: what the view is doing to the pixels."""
        if self._pixels is None:
            return "no image"
        h, w = self._pixels.shape
        inverted = " · inverted" if self.inverted else ""
        return f"{w}x{h} · level {self.level:.0f} window {self.window:.0f} · zoom {self.zoom:.1f}x{inverted}"

    @property
    def hint(self) -> str | None:
        """How to get real pixels, where the film is a half-cell preview (None otherwise)."""
        if self.protocol != "halfcell":
            return None
        from .graphics import halfcell_hint

        return halfcell_hint(self.app.console.color_system if self.is_attached else None)

    def _placeholder_text(self) -> str:
        return f"[X-ray {self.describe()}]\n(images off: --image-protocol none)"

    def _redraw(self, new_film: bool = False) -> None:
        if not self.is_mounted:
            return
        if self.protocol == "none":
            self.query_one(".xray-placeholder", Static).update(Text(self._placeholder_text()))
            return
        picture = self.query_one(".xray-image")
        if isinstance(picture, FilmImage):
            picture.show(self.render_pil(), same_film=not new_film)
        else:
            picture.image = self.render_pil()
