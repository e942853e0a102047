"""XRayView: one chest X-ray in the terminal, with window/level, zoom and a heatmap overlay.

The pixels are prepared here (numpy + Pillow) and handed to textual-image,
which draws them with the protocol chosen once for the app
(``set_image_protocol``, from ``pneumo tui --image-protocol``): auto detects
sixel or the kitty graphics protocol, halfcell works in any colour terminal
(tmux, SSH), none shows a text placeholder.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
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


def image_class(protocol: str | None = None):
    """The textual-image widget class for ``protocol`` (not for "none")."""
    from textual_image import widget

    protocol = protocol or _protocol
    return {
        "auto": widget.Image,
        "sixel": widget.SixelImage,
        "kitty": widget.TGPImage,
        "halfcell": widget.HalfcellImage,
    }[protocol]


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


class XRayView(Widget):
    """Shows a 2-D uint8 array (or PIL image); reactive window/level, zoom, pan and overlay."""

    DEFAULT_CSS = """
    XRayView { height: 1fr; width: 1fr; align: center middle; }
    XRayView > .xray-image { width: auto; height: auto; }
    XRayView > .xray-placeholder { width: 100%; height: 100%; content-align: center middle; color: $text-muted; }
    """

    MIN_WIDTH, ZOOM_MAX = 8.0, 8.0
    level: reactive[float] = reactive(127.5)
    window: reactive[float] = reactive(255.0)
    zoom: reactive[float] = reactive(1.0)
    centre: reactive[tuple[float, float]] = reactive((0.5, 0.5))
    show_overlay: reactive[bool] = reactive(False)

    def __init__(self, image=None, protocol: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.protocol = protocol or _protocol
        self._pixels: np.ndarray | None = None
        self._heatmap: np.ndarray | None = None
        self.set_image(image, refresh=False)

    def compose(self) -> ComposeResult:
        if self.protocol == "none":
            yield Static(self._placeholder_text(), classes="xray-placeholder", markup=False)
        else:
            yield image_class(self.protocol)(self.render_pil(), classes="xray-image")

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
            self._redraw()

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

    # --- drawing -----------------------------------------------------------

    def render_pil(self) -> PILImage.Image | None:
        """The picture as it should look now (window, zoom, overlay applied)."""
        if self._pixels is None:
            return None
        top, left, bottom, right = zoom_crop(self._pixels.shape, self.zoom, self.centre)
        gray = apply_window(self._pixels[top:bottom, left:right], self.level, self.window)
        if self.show_overlay and self._heatmap is not None:
            return PILImage.fromarray(blend_heatmap(gray, self._heatmap[top:bottom, left:right]), "RGB")
        return PILImage.fromarray(gray, "L").convert("RGB")

    def describe(self) -> str:
        """One line for a status bar: what the view is doing to the pixels."""
        if self._pixels is None:
            return "no image"
        h, w = self._pixels.shape
        return f"{w}x{h} · level {self.level:.0f} window {self.window:.0f} · zoom {self.zoom:.1f}x"

    def _placeholder_text(self) -> str:
        return f"[X-ray {self.describe()}]\n(images off: --image-protocol none)"

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        if self.protocol == "none":
            self.query_one(".xray-placeholder", Static).update(Text(self._placeholder_text()))
            return
        self.query_one(".xray-image").image = self.render_pil()
