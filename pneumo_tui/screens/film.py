"""The full-screen film: one case's X-ray on the whole terminal, with its facts on one line.

``FilmScreen(review, cases, index)`` is pushed by the Review view (``f`` or Enter) and by the
thumbnail grid (Enter). It steps through ``cases`` (the list it came from), keeps the picture
controls of the Review side panel (window/level, invert, zoom, pan), blends Grad-CAM with an
adjustable strength, and shows film and overlay side by side so the film under the map stays
readable. Verdicts given here are the Review's (same keys, same file).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from training.core.errors import one_line

from ..stylesheets import sheet
from ..widgets.xray import XRayView
from .review import CAVEAT

STRENGTH_STEP = 0.1


def case_facts(case: dict, name: str | None = None) -> Text:
    """The case in one line: kind, id (or ``name``, shorter), true label, probability, subtype, patient, verdict."""
    label = "PNEUMONIA" if case["label"] else "NORMAL"
    style = {"FN": "bold red", "FP": "bold yellow"}.get(case["kind"], "bold green")
    text = Text.assemble((case["kind"], style), " ", name or case["id"])  # text from disk, never markup
    text.append(f" · true {label} · p {case['probability']:.3f} · subtype {case.get('subtype') or '-'}"
                f" · patient {case.get('patient') or '-'} · ")
    text.append(case.get("verdict") or "no verdict", style="bold" if case.get("verdict") else "")
    return text


class FilmScreen(Screen):
    """One film on the whole screen; Esc or f goes back to where it was opened."""

    CSS_PATH = sheet("film")
    BINDINGS = [
        Binding("escape,f", "dismiss", "Back"),
        Binding("right,j,pagedown", "step(1)", "Next"),
        Binding("left,k,pageup", "step(-1)", "Previous"),
        Binding("g", "toggle_gradcam", "Grad-CAM"),
        Binding("left_curly_bracket", "strength(-1)", "CAM -"),
        Binding("right_curly_bracket", "strength(1)", "CAM +"),
        Binding("s", "toggle_side", "Side by side"),
        Binding("i", "invert", "Invert"),
        Binding("m", "verdict('m')", "Model wrong", show=False),
        Binding("d", "verdict('d')", "Label doubtful", show=False),
        Binding("u", "verdict('u')", "Unsure", show=False),
        Binding("a", "verdict('a')", "Agree", show=False),
        Binding("right_square_bracket", "view('contrast', 1.25)", "Contrast +", show=False),
        Binding("left_square_bracket", "view('contrast', 0.8)", "Contrast -", show=False),
        Binding("full_stop", "view('brightness', 12)", "Brighter", show=False),
        Binding("comma", "view('brightness', -12)", "Darker", show=False),
        Binding("r", "view('reset_window')", "Reset contrast", show=False),
        Binding("plus,equals_sign", "view('zoom_by', 1.5)", "Zoom in", show=False),
        Binding("minus", "view('zoom_by', 0.6667)", "Zoom out", show=False),
        Binding("0", "view('fit')", "Fit", show=False),
        Binding("shift+left", "pan(0, -0.25)", "Pan", show=False),
        Binding("shift+right", "pan(0, 0.25)", "Pan", show=False),
        Binding("shift+up", "pan(-0.25, 0)", "Pan", show=False),
        Binding("shift+down", "pan(0.25, 0)", "Pan", show=False),
    ]

    def __init__(self, review, cases: list[dict], index: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.review = review  # the ReviewView: images, Grad-CAM maps, verdicts
        self.cases = cases
        self.index = max(0, min(index, len(cases) - 1))
        self.overlay = bool(review.xray.show_overlay) if review is not None else False
        self.side_by_side = False
        self._problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="film-facts")
        with Horizontal(id="film-body"):
            yield XRayView(id="film-xray")
            yield XRayView(id="film-overlay")
        yield Static("", id="film-status")
        yield Footer()

    @property
    def case(self) -> dict | None:
        return self.cases[self.index] if self.cases else None

    @property
    def film(self) -> XRayView:
        return self.query_one("#film-xray", XRayView)

    @property
    def overlay_view(self) -> XRayView:
        return self.query_one("#film-overlay", XRayView)

    @property
    def views(self) -> tuple[XRayView, XRayView]:
        return self.film, self.overlay_view

    def on_resize(self) -> None:
        self.call_after_refresh(self._update_text)  # the facts line picks the id or the short name

    def on_mount(self) -> None:
        if self.review is not None:
            self.review.cam_listener = self._cam_ready
        # the same window and zoom as the Review's side panel had
        source = self.review.xray if self.review is not None else None
        for view in self.views:
            if source is not None:
                view.level, view.window, view.zoom = source.level, source.window, source.zoom
                view.centre, view.inverted = source.centre, source.inverted
        self.overlay_view.show_overlay = True
        self._show()

    def on_unmount(self) -> None:
        if self.review is not None and self.review.cam_listener == self._cam_ready:
            self.review.cam_listener = None

    # --- the case shown ----------------------------------------------------------------------------------

    def _show(self) -> None:
        case = self.case
        self._problem = None
        pixels = None
        if case is not None:
            try:
                pixels = self.review.images.load(case)
            except Exception as exc:  # a missing or broken file is said, not raised
                self._problem = f"image unavailable: {one_line(exc)}"
        for view in self.views:
            view.set_image(pixels)
        if case is not None and self.review is not None:
            self.review.select_case(case)  # the list follows, and verdicts go to this case
        self._layout()
        if self.overlay:
            self._request_cam()
        self._update_text()

    def _layout(self) -> None:
        film, overlay = self.views
        film.show_overlay = self.overlay and not self.side_by_side
        overlay.display = self.overlay and self.side_by_side

    def _update_text(self) -> None:
        case = self.case
        facts = self.query_one("#film-facts", Static)
        if case is None:
            facts.update("No case to show.")
        else:
            line = case_facts(case)
            if line.cell_len > facts.content_region.width and self.review is not None:
                line = case_facts(case, self.review.short_names.get(case["id"]))  # the id without its folders
            facts.update(line)
        self.query_one("#film-status", Static).update(self.status_text())

    def status_text(self) -> Text:
        """What is done to the pixels, the Grad-CAM state with its caveat, and the half-cell hint."""
        film = self.film
        text = Text(f"{self.index + 1}/{len(self.cases)} · {film.describe()}" if self.cases else film.describe())
        if self._problem:
            text.append(f" · {self._problem}", style="red")
        if self.overlay:
            state = "on" if film.has_heatmap else self.review.cam_state
            layout = "side by side" if self.side_by_side else f"blend {film.overlay_strength:.0%}"
            text.append(f"\nGrad-CAM {state} · {layout} · {CAVEAT}", style="bold")
        if film.hint:
            text.append(f"\n{film.hint}", style="dim")
        return text

    # --- keys ---------------------------------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        if self.cases:
            self.index = (self.index + step) % len(self.cases)
            self._show()

    def action_view(self, method: str, *args) -> None:
        """A picture control (contrast, brightness, zoom, pan, fit...) applied to film and overlay alike."""
        for view in self.views:
            getattr(view, method)(*args)
        self._update_text()

    def action_pan(self, dy: float, dx: float) -> None:
        self.action_view("pan", dy, dx)

    def action_invert(self) -> None:
        for view in self.views:
            view.inverted = not view.inverted
        self._update_text()

    def action_strength(self, sign: int) -> None:
        for view in self.views:
            view.strength_by(sign * STRENGTH_STEP)
        if not self.overlay:
            self.action_toggle_gradcam()
        self._update_text()

    def action_toggle_gradcam(self) -> None:
        self.overlay = not self.overlay
        self._layout()
        if self.overlay:
            self._request_cam()
        self._update_text()

    def action_toggle_side(self) -> None:
        self.side_by_side = not self.side_by_side
        if self.side_by_side and not self.overlay:
            self.overlay = True
            self._request_cam()
        self._layout()
        self._update_text()

    def action_verdict(self, key: str) -> None:
        if self.case is not None and self.review is not None:
            self.review.select_case(self.case)
            self.review.action_verdict(key)
            self._update_text()

    # --- Grad-CAM -----------------------------------------------------------------------------------------

    def _request_cam(self) -> None:
        case, film = self.case, self.film
        if case is None or film.pixels is None or self.review is None:
            return
        heatmap = self.review.cached_gradcam(case["id"])
        if heatmap is not None:
            self._set_heatmap(heatmap)
        else:
            self.review.request_gradcam(case["id"], film.pixels)

    def _cam_ready(self, case_id: str) -> None:
        """The Review computed a map (or failed): ours if it is this case's."""
        if self.case is not None and self.case["id"] == case_id:
            heatmap = self.review.cached_gradcam(case_id)
            if heatmap is not None:
                self._set_heatmap(heatmap)
        self._update_text()

    def _set_heatmap(self, heatmap) -> None:
        for view in self.views:
            if view.pixels is not None and view.pixels.shape == heatmap.shape:
                view.set_heatmap(heatmap)
