"""A strip of sample X-rays per class, drawn with the terminal image widget.

The renderer is chosen once for the app (``--image-protocol``): auto detects
sixel/kitty, halfcell works in any colour terminal (tmux, SSH), none shows a
text placeholder for terminals where even that is unwanted.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static


def image_widget(image: PILImage.Image, protocol: str, **kwargs) -> Widget:
    """An X-ray widget for ``protocol`` (the review module's XRayView; ``none`` gives its text placeholder)."""
    from .xray import XRayView

    return XRayView(image, protocol=protocol, **kwargs)


class SampleStrip(Vertical):
    """One row per class: a few X-rays with their ids."""

    DEFAULT_CSS = """
    SampleStrip { height: auto; }
    SampleStrip .sample-row { height: 10; }
    SampleStrip .sample { width: 18; height: 10; margin-right: 1; }
    SampleStrip .sample-label { height: 1; text-style: bold; }
    """

    def __init__(self, samples: dict[str, Sequence[tuple[str, PILImage.Image]]], protocol: str, **kwargs):
        super().__init__(**kwargs)
        self.samples = samples
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        for class_name, items in self.samples.items():
            yield Static(f"{class_name} ({len(items)} samples)", classes="sample-label")
            with Horizontal(classes="sample-row"):
                for _, image in items:
                    yield image_widget(image, self.protocol, classes="sample")
