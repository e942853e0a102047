"""A keyboard slider for the curves' smoothing weight (TensorBoard's debiased moving average)."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)


class SmoothingSlider(Widget, can_focus=True):
    """A keyboard slider for the smoothing weight ([ and ] anywhere on the screen, or left/right here)."""

    DEFAULT_CSS = "SmoothingSlider { height: 1; width: 1fr; }"
    BINDINGS = [Binding("left", "step(-1)", show=False), Binding("right", "step(1)", show=False)]

    class Changed(Message):
        def __init__(self, value: float):
            super().__init__()
            self.value = value

    def __init__(self, value: float = 0.6, **kwargs):
        super().__init__(**kwargs)
        self.index = min(range(len(SMOOTHING_STEPS)), key=lambda i: abs(SMOOTHING_STEPS[i] - value))

    @property
    def value(self) -> float:
        return SMOOTHING_STEPS[self.index]

    def action_step(self, delta: int) -> None:
        index = max(0, min(len(SMOOTHING_STEPS) - 1, self.index + delta))
        if index != self.index:
            self.index = index
            self.refresh()
            self.post_message(self.Changed(self.value))

    def render(self) -> Text:
        track = "".join("●" if i == self.index else "─" for i in range(len(SMOOTHING_STEPS)))
        return Text.assemble(("smoothing ", "bold"), f"{self.value:.2f} ", track)
