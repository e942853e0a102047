"""Review: the cases a run got wrong, one X-ray at a time, with a verdict and a note each.

``ReviewView(run_dir)`` is a widget (the app's Review tab mounts it);
``ReviewScreen(run_dir)`` is the same as a pushable screen. Errors are judged
at the run's saved threshold (``threshold.json``, else 0.5).
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from training.core.errors import one_line
from training.evaluation.review_cases import CaseImages, confidence, review_cases
from training.run.operating_point import load_threshold
from training.run.paths import RunPaths
from training.run.review_notes import ReviewNotes
from training.run.store import run_task

from ..messages import OpenEvaluation
from ..stylesheets import sheet
from ..widgets.folded import fold_line
from ..widgets.xray import XRayView
from ..words import SYNTHETIC_LINE, synthetic_run

VERDICT = Binding.Group("Verdict")
FILTER = Binding.Group("Filter")
KIND_FILTERS = ("errors", "FN", "FP")
SORTS = ("most confident first", "least confident first", "by id")
VERDICT_KEYS = {"m": "model wrong", "d": "label doubtful", "u": "unsure", "a": "agree"}
CAVEAT = "saliency is not localisation"
SYNTHETIC_MARK = SYNTHETIC_LINE.split(";")[0]  # "SYNTHETIC data: drawn shapes, not radiographs", as the CLI says


class ReviewView(Vertical):
    """List of misclassified cases (left) and the selected X-ray (right).

    Its layout is ``styles/review.tcss`` (the app and ReviewScreen load it). ``e`` posts
    OpenEvaluation; whoever hosts the view (the app, or ReviewScreen) opens it.
    """

    # In the key bar: the verdicts as one entry, then note, Grad-CAM and evaluation, the filters last (the line
    # under the list says what each filter is set to), so that at 80 columns a cut takes the filters' names only.
    BINDINGS = [
        Binding("m", "verdict('m')", "Model wrong", group=VERDICT),
        Binding("d", "verdict('d')", "Label doubtful", group=VERDICT),
        Binding("u", "verdict('u')", "Unsure", group=VERDICT),
        Binding("a", "verdict('a')", "Agree", group=VERDICT),
        Binding("x", "clear_verdict", "Clear verdict", show=False),
        Binding("n", "edit_note", "Note"),
        Binding("f", "film", "Film"),
        Binding("T", "thumbnails", "Thumbnail grid", show=False),  # in ? help: the bar keeps Grad-CAM at 80 columns
        Binding("g", "toggle_gradcam", "Grad-CAM"),
        Binding("e", "evaluation", "Evaluate"),
        Binding("k", "cycle_kind", "FN/FP", group=FILTER),
        Binding("s", "cycle_subtype", "Subtype", group=FILTER),
        Binding("p", "toggle_patient", "Patient", group=FILTER),
        Binding("c", "toggle_correct", "Correct cases", group=FILTER),
        Binding("t", "cycle_sort", "Sort", group=FILTER),
        Binding("right_square_bracket", "contrast(1.25)", "Contrast +", show=False),
        Binding("left_square_bracket", "contrast(0.8)", "Contrast -", show=False),
        Binding("full_stop", "brightness(12)", "Brighter", show=False),
        Binding("comma", "brightness(-12)", "Darker", show=False),
        Binding("r", "reset_window", "Reset contrast", show=False),
        Binding("plus,equals_sign", "zoom(1.5)", "Zoom in", show=False),
        Binding("minus", "zoom(0.6667)", "Zoom out", show=False),
        Binding("0", "fit", "Fit", show=False),
        Binding("i", "invert", "Invert", show=False),
        Binding("shift+left", "pan(0, -0.25)", "Pan", show=False),
        Binding("shift+right", "pan(0, 0.25)", "Pan", show=False),
        Binding("shift+up", "pan(-0.25, 0)", "Pan", show=False),
        Binding("shift+down", "pan(0.25, 0)", "Pan", show=False),
    ]

    def __init__(self, run_dir: Path, split: str = "test", **kwargs):
        super().__init__(**kwargs)
        self.run_dir = Path(run_dir)
        self.split = split
        self.threshold = load_threshold(self.run_dir)
        self.synthetic = synthetic_run(self.run_dir)
        self.question = run_task(self.run_dir)  # names the true class of each case
        self.notes = ReviewNotes(self.run_dir)
        self.images = CaseImages(self.run_dir)
        # all cases of the split, correct ones included: filters only hide
        try:
            self.all_cases = self._cases(split)
        except ValueError:
            if split != "test":
                raise
            self.split = "val"  # no test rows (e.g. a run evaluated on validation only)
            self.all_cases = self._cases("val")
        self._names = short_names(self.all_cases)
        self.kind_filter = 0
        self.subtype_filter: str | None = None
        self.patient_filter: str | None = None
        self.show_correct = False
        self.sort = 0
        self.shown: list[dict] = []
        self.selected: dict | None = None
        self._model = None  # loaded on the first Grad-CAM
        self._cams: dict[str, object] = {}
        self._cam_lock = threading.Lock()
        self.cam_listener = None  # called with a case id when its Grad-CAM is ready or failed (the film screen)

    def _cases(self, split: str) -> list[dict]:
        return review_cases(self.run_dir, split, include_correct=True, threshold=self.threshold, notes=self.notes)

    # --- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="review-title")
        with Horizontal(id="review-body"):
            with Vertical(id="review-list"):
                table = DataTable(id="review-cases", cursor_type="row", zebra_stripes=True)
                # What tells cases apart first; subtype and patient (also beside the X-ray) last: → scrolls to them.
                table.add_columns("kind p", "verdict", "image", "note", "subtype", "patient")
                yield table
                yield Static("", id="review-filters")
            with Vertical(id="review-side"):
                yield Static("", id="review-case")
                yield XRayView(id="review-xray")
                yield Static("", id="review-view-status")
                yield Input(placeholder="note for this case; Enter saves, Esc cancels", id="review-note")

    # --- the children the view works with --------------------------------------

    @property
    def cases(self) -> DataTable:
        return self.query_one(DataTable)

    def text(self, name: str) -> Static:
        """The text block ``name``: title, filters, case or view-status."""
        return self.query_one(f"#review-{name}", Static)

    @property
    def xray(self) -> XRayView:
        return self.query_one(XRayView)

    @property
    def short_names(self) -> dict[str, str]:
        """{case id: the name the list shows}."""
        return self._names

    @property
    def note_input(self) -> Input:
        return self.query_one(Input)

    @property
    def focus_target(self) -> DataTable | None:
        """The list of cases (None until the view has composed it)."""
        try:
            return self.cases
        except NoMatches:
            return None

    def on_mount(self) -> None:
        if self.notes.problem:
            self.notify(self.notes.problem, severity="warning", timeout=8)
        self.refresh_cases()
        self.cases.focus()

    def on_resize(self) -> None:
        # Below 100 columns the X-ray side narrows so that verdict and image name stay whole in the list.
        self.set_class(self.size.width < 100, "-narrow")
        self.call_after_refresh(self._update_case_text)  # the id is folded to the side's new width
        self.call_after_refresh(self._update_view_status)  # with or without the half-cell hint

    def on_show(self) -> None:
        # shown as a tab of the app: the list takes the keys at once
        self.cases.focus()

    def _title(self) -> Text:
        errors = [c for c in self.all_cases if c["kind"] in ("FN", "FP")]
        fn = sum(c["kind"] == "FN" for c in errors)
        title = Text(f"Review {self.run_dir.name} · {self.split} · threshold {self.threshold:.3f} · "
                     f"{fn} FN, {len(errors) - fn} FP of {len(self.all_cases)}", style="bold")
        if self.synthetic:  # in words, so that NO_COLOR loses nothing
            title.append(" · ")
            title.append(SYNTHETIC_MARK, style="bold reverse")
        return title

    # --- the list ------------------------------------------------------------

    def visible_cases(self) -> list[dict]:
        kinds = {"errors": ("FN", "FP"), "FN": ("FN",), "FP": ("FP",)}[KIND_FILTERS[self.kind_filter]]
        if self.show_correct:
            # the correct cases of the same true class: FN goes with TP, FP with TN
            kinds = kinds + tuple({"FN": "TP", "FP": "TN"}[k] for k in kinds)
        cases = [c for c in self.all_cases if c["kind"] in kinds
                 and (self.subtype_filter is None or (c.get("subtype") or "none") == self.subtype_filter)
                 and (self.patient_filter is None or c.get("patient") == self.patient_filter)]
        if SORTS[self.sort] == "least confident first":
            return sorted(cases, key=lambda c: (confidence(c, self.threshold), c["id"]))
        if SORTS[self.sort] == "by id":
            return sorted(cases, key=lambda c: c["id"])
        return sorted(cases, key=lambda c: (-confidence(c, self.threshold), c["id"]))

    def refresh_cases(self) -> None:
        table = self.cases
        keep = self.selected["id"] if self.selected else None
        self.shown = self.visible_cases()
        table.clear()
        for case in self.shown:
            table.add_row(*self._row(case), key=case["id"])
        self.text("filters").update(Text(self._filters_text()))  # a typed patient id is text
        if not self.shown:
            self._select(None)
            return
        index = next((i for i, c in enumerate(self.shown) if c["id"] == keep), 0)
        table.move_cursor(row=index)
        self._select(self.shown[index])

    def _row(self, case: dict) -> tuple:
        kind_style = {"FN": "bold red", "FP": "bold yellow"}.get(case["kind"], "green")
        kind = Text.assemble((case["kind"], kind_style), f" {case['probability']:.3f}")
        # names from disk are text, never markup
        return (kind, Text(case.get("verdict") or "-"), Text(self._names.get(case["id"], case["id"])),
                Text(case.get("note") or ""), Text(case.get("subtype") or "-"), Text(case.get("patient") or "-"))

    def _filters_text(self) -> str:
        return (f"{len(self.shown)} shown · k kind: {KIND_FILTERS[self.kind_filter]} · s subtype: "
                f"{self.subtype_filter or 'any'} · p patient: {self.patient_filter or 'any'} · "
                f"c correct: {'shown' if self.show_correct else 'hidden'} · t sort: {SORTS[self.sort]}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        case = next((c for c in self.shown if c["id"] == event.row_key.value), None)
        if case is not None and case is not self.selected:
            self._select(case)

    # --- the selected case ----------------------------------------------------

    def _select(self, case: dict | None) -> None:
        self.selected = case
        xray = self.xray
        if case is None:
            self.text("case").update("No case matches the filters.")
            xray.set_image(None)
            self._update_view_status()
            return
        self._image_problem = None
        try:
            xray.set_image(self.images.load(case))
        except Exception as exc:  # a missing or broken file is shown, not raised
            xray.set_image(None)
            self._image_problem = f"image unavailable: {one_line(exc)}"
        self._update_case_text()
        if xray.show_overlay:
            self._request_gradcam()
        self._update_view_status()

    def _case_text(self, case: dict) -> Text:
        label = self.question.class_name(case["label"])
        verdict = case.get("verdict") or "no verdict"
        note = f" · {case['note']}" if case.get("note") else ""
        head = f"{case['kind']} {case['id']}"
        width = self.text("case").content_region.width
        first, *rest = fold_line(head, width, 0) if width else [head]  # at the "/", the file name whole
        return Text.assemble((first[:2], "bold"), first[2:], *(f"\n{line}" for line in rest),
                             f"\ntrue {label} · p(pneumonia) {case['probability']:.3f} · subtype "
                             f"{case.get('subtype') or '-'} · patient {case.get('patient') or '-'}\n{verdict}{note}")

    _image_problem: str | None = None  # why the selected case's X-ray cannot be shown

    def _update_case_text(self) -> None:
        if self.selected is not None:
            text = self._case_text(self.selected)
            if self._image_problem:
                text.append(f"\n{self._image_problem}", style="red")
            self.text("case").update(text)

    def _update_view_status(self) -> None:
        xray = self.xray
        status = self.text("view-status")
        text = xray.describe()
        if xray.show_overlay:
            state = "on" if xray.has_heatmap else self._cam_state
            text += f"\nGrad-CAM {state} · {CAVEAT}"
        if xray.hint and not self.has_class("-narrow"):  # narrow: the film screen (f) says it, the film keeps rows
            text += f"\n{xray.hint}"
        status.set_class(xray.show_overlay, "caveat")
        status.update(Text(text))

    _cam_state = "computing…"

    @property
    def cam_state(self) -> str:
        """The last Grad-CAM's state in words: computing…, or unavailable and why."""
        return self._cam_state

    # --- verdicts and notes --------------------------------------------------

    def action_verdict(self, key: str) -> None:
        self._save(verdict=VERDICT_KEYS[key])

    def action_clear_verdict(self) -> None:
        self._save(verdict=None)

    def _save(self, verdict=..., text: str | None = None) -> None:
        case = self.selected
        if case is None:
            return
        try:
            note = self.notes.set(case["id"], verdict, text)
        except OSError as exc:
            self.notify(f"could not save {RunPaths(self.run_dir).review.name}: {exc}", severity="error")
            return
        for c in self.all_cases:
            if c["id"] == case["id"]:
                c["verdict"], c["note"] = note.verdict, note.text
        table = self.cases
        if case["id"] not in table.rows:  # given on the film screen to a case the filters hide
            return
        row = table.get_row_index(case["id"])
        for column, value in zip(table.ordered_columns, self._row(case), strict=True):
            table.update_cell(case["id"], column.key, value, update_width=True)  # a verdict is never cut
        table.move_cursor(row=row)
        self._update_case_text()

    def action_edit_note(self) -> None:
        if self.selected is None:
            return
        note = self.note_input
        note.value = self.selected.get("note") or ""
        note.add_class("editing")
        note.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "review-note":
            return
        event.stop()
        self._save(text=event.value.strip())
        self._close_note()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.note_input.has_class("editing"):
            event.stop()
            self._close_note()

    def _close_note(self) -> None:
        self.note_input.remove_class("editing")
        self.cases.focus()

    # --- filters ---------------------------------------------------------------

    def action_cycle_kind(self) -> None:
        self.kind_filter = (self.kind_filter + 1) % len(KIND_FILTERS)
        self.refresh_cases()

    def action_cycle_subtype(self) -> None:
        options = [None] + sorted({c.get("subtype") or "none" for c in self.all_cases})
        self.subtype_filter = options[(options.index(self.subtype_filter) + 1) % len(options)]
        self.refresh_cases()

    def action_toggle_patient(self) -> None:
        if self.patient_filter is not None:
            self.patient_filter = None
        elif self.selected is not None and self.selected.get("patient"):
            self.patient_filter = self.selected["patient"]
        self.refresh_cases()

    def action_toggle_correct(self) -> None:
        self.show_correct = not self.show_correct
        self.refresh_cases()

    def action_cycle_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self.refresh_cases()

    # --- picture controls ------------------------------------------------------

    def action_contrast(self, factor: float) -> None:
        self.xray.contrast(factor)
        self._update_view_status()

    def action_brightness(self, step: float) -> None:
        self.xray.brightness(step)
        self._update_view_status()

    def action_reset_window(self) -> None:
        self.xray.reset_window()
        self._update_view_status()

    def action_zoom(self, factor: float) -> None:
        self.xray.zoom_by(factor)
        self._update_view_status()

    def action_fit(self) -> None:
        self.xray.fit()
        self._update_view_status()

    def action_invert(self) -> None:
        self.xray.inverted = not self.xray.inverted
        self._update_view_status()

    # --- the full-screen film and the thumbnails ----------------------------------------------------------

    def action_film(self) -> None:
        """The selected case on the whole screen; the arrows step through the list as it is shown."""
        from .film import FilmScreen

        if self.selected is None:
            return
        index = next((i for i, c in enumerate(self.shown) if c["id"] == self.selected["id"]), 0)
        self.app.push_screen(FilmScreen(self, self.shown, index), callback=lambda _: self._back_from_film())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_film()  # Enter on a row

    def action_thumbnails(self) -> None:
        from .thumbs import ThumbsScreen

        self.app.push_screen(ThumbsScreen(self), callback=lambda _: self._back_from_film())

    def _back_from_film(self) -> None:
        """Verdicts may have been given there: the list shows them."""
        self.cam_listener = None
        if self.is_attached:
            self.refresh_cases()
            self.cases.focus()

    def select_case(self, case: dict) -> None:
        """Make ``case`` the selected one (the list's cursor moves to it where it is listed)."""
        if self.selected is not None and self.selected["id"] == case["id"]:
            return
        try:
            self.cases.move_cursor(row=self.cases.get_row_index(case["id"]))
        except Exception:  # not listed under the current filters: selected all the same
            pass
        self._select(case)

    def action_pan(self, dy: float, dx: float) -> None:
        self.xray.pan(dy, dx)
        self._update_view_status()

    # --- Grad-CAM ----------------------------------------------------------------

    def action_toggle_gradcam(self) -> None:
        xray = self.xray
        xray.show_overlay = not xray.show_overlay
        if xray.show_overlay and not xray.has_heatmap:
            self._request_gradcam()
        self._update_view_status()

    def cached_gradcam(self, case_id: str):
        """The map already computed for ``case_id``, or None."""
        return self._cams.get(case_id)

    def request_gradcam(self, case_id: str, pixels) -> None:
        """Compute ``case_id``'s map in the worker; cam_listener hears when it is there."""
        self._cam_state = "computing…"
        self.compute_gradcam(case_id, pixels)

    def _request_gradcam(self) -> None:
        xray = self.xray
        if self.selected is None or xray.pixels is None:
            return
        case_id = self.selected["id"]
        if case_id in self._cams:
            xray.set_heatmap(self._cams[case_id])
            return
        self._cam_state = "computing…"
        self.compute_gradcam(case_id, xray.pixels)

    @work(thread=True, exclusive=True, group="gradcam")
    def compute_gradcam(self, case_id: str, pixels) -> None:
        """Grad-CAM off the UI thread: a ResNet on a full-size X-ray takes seconds on a CPU."""
        try:
            from training.evaluation.gradcam import explain_image

            # one at a time: hooks live on the shared model, two threads would read each other's activations
            with self._cam_lock:
                if get_current_worker().is_cancelled:
                    return  # the reviewer moved on while we waited
                model, config = self._load_model()
                recipe = config.get("recipe") or {}
                result = explain_image(model, pixels, int(recipe.get("image_size", 200)), recipe.get("fit", "squash"))
        except Exception as exc:  # no checkpoint, a model without convolutions...: say why
            self.app.call_from_thread(self._gradcam_failed, one_line(exc), case_id)
            return
        self.app.call_from_thread(self._show_gradcam, case_id, result.heatmap)

    def _load_model(self):
        if self._model is None:
            from training.engine.checkpoint import load_model_from_run

            self._model = load_model_from_run(self.run_dir, "best")
        return self._model

    def _show_gradcam(self, case_id: str, heatmap) -> None:
        self._cams[case_id] = heatmap
        if self.selected is not None and self.selected["id"] == case_id:
            self.xray.set_heatmap(heatmap)
        self._update_view_status()
        if self.cam_listener is not None:
            self.cam_listener(case_id)

    def _gradcam_failed(self, reason: str, case_id: str = "") -> None:
        self._cam_state = f"unavailable: {reason}"
        self._update_view_status()
        if self.cam_listener is not None:
            self.cam_listener(case_id)

    # --- navigation --------------------------------------------------------------

    def action_evaluation(self) -> None:
        # a threshold saved there changes which cases are errors: the host reloads this view on the way back
        self.post_message(OpenEvaluation(self.run_dir, review=self))

    def reload(self) -> None:
        """Re-read threshold, predictions and notes (e.g. after a new threshold was saved)."""
        self.threshold = load_threshold(self.run_dir)
        self.notes.load()
        self.all_cases = self._cases(self.split)
        self._names = short_names(self.all_cases)
        self.text("title").update(self._title())
        self.refresh_cases()


def short_names(cases: list[dict]) -> dict[str, str]:
    """{id: the name shown in the list}: the id without what every case shares, so that names that differ at
    the end (``...-0001``, ``...-0003``) are told apart in a narrow column. The split and class folders go
    (the title names the split, the kind the true class), and the extension when every id has the same one;
    the full id is shown beside the X-ray."""
    names = {}
    for case in cases:
        parts = case["id"].split("/")
        while len(parts) > 1 and parts[0] in (case.get("split"), "NORMAL", "PNEUMONIA"):
            parts = parts[1:]
        names[case["id"]] = "/".join(parts)
    suffixes = {Path(name).suffix for name in names.values()}
    if len(suffixes) == 1 and (suffix := suffixes.pop()):
        names = {key: name[: -len(suffix)] for key, name in names.items()}
    return names


class ReviewScreen(Screen):
    """ReviewView as a full screen; Esc goes back. It opens the evaluation the view asks for."""

    BINDINGS = [Binding("escape", "dismiss", "Back")]
    CSS_PATH = sheet("review")

    def __init__(self, run_dir: Path, split: str = "test", **kwargs):
        super().__init__(**kwargs)
        self.run_dir = Path(run_dir)
        self.split = split

    def compose(self) -> ComposeResult:
        yield ReviewView(self.run_dir, self.split, id="review-view")
        yield Footer()

    @property
    def review_view(self) -> ReviewView:
        return self.query_one(ReviewView)

    @on(OpenEvaluation)
    def open_evaluation(self, message: OpenEvaluation) -> None:
        from .evaluation import EvaluationScreen

        message.stop()
        self.app.push_screen(EvaluationScreen(message.run_dir), callback=lambda _: self.review_view.reload())
