"""The ? screen: every key, by screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pneumo_tui.plain import PlainTable as Table
from training.core.tasks import THREE_CLASSES

KEYS = {
    "Everywhere": [
        ("1 2 3 4", "Data, Train, Runs, Review screens (or click the tabs)"),
        ("?", "this help"),
        ("o", "open a dataset (folder or .npz), download, or create the demo set; Tab completes the path"),
        ("q / ctrl+q", "quit (trainings keep running)"),
    ],
    "Data": [
        ("w", "list the problems: patients in several splits, duplicates, unreadable files"),
        ("ctrl+r", "compute the statistics again"),
    ],
    "Train": [
        ("s", "start a training with the settings above (detached: survives quitting and SSH drops)"),
        ("x", "stop the followed run cleanly (it saves a checkpoint)"),
        ("R", "resume the followed run from its last checkpoint"),
        ("d", "detach: stop following, the run keeps going"),
        ("l", "log scale for the losses"),
        ("v", "next chart when only one fits"),
        ("tab", "to the next box of the form; Enter keeps its value, Esc puts back the one it had"),
        ("c", "copy the pneumo train command shown (the terminal's clipboard)"),
        ("e", "time a few training steps here for the estimate"),
    ],
    "A chart (Tab to it; Train and Runs)": [
        ("+ -", "zoom in, out"),
        ("arrows", "pan"),
        ("r", "reset the zoom and pan"),
    ],
    "Review": [
        ("m d u a", "verdict: model wrong, label doubtful, unsure, agree; n: note"),
        ("← →", "scroll the list's columns (note, subtype, patient)"),
        ("k s p c t", "filter FN/FP, subtype, patient; correct cases; sort"),
        ("g", "Grad-CAM overlay (saliency, not localisation)"),
        ("[ ] , . + - 0", "contrast, brightness, zoom, fit (r resets the contrast; shift+arrows pan)"),
        ("i", "invert the film"),
        ("f / enter", "the selected film full screen"),
        ("T", "thumbnails of the misclassified cases, FN and FP apart, the most confident first"),
        ("e", "evaluation of the run"),
    ],
    "Evaluation (e on Review or Runs)": [
        ("← → (↑ ↓)", "move the threshold by 0.01 (0.001); every figure follows"),
        ("h y Y s x", "presets on validation: 0.5, Youden, its centre, sensitivity ≥ X; x sets X"),
        ("v", "val or test split (test: look, don't tune)"),
        ("w", "save the threshold with the run"),
        ("f a", "a site's shift; adapt to it"),
        ("c", f"three classes {' / '.join(THREE_CLASSES)}, with the run of the other task on the same data"),
        ("esc", "back"),
    ],
    "Full-screen film (f or Enter on Review)": [
        ("→ ← / j k", "next, previous case (of the list it was opened from)"),
        ("g", "Grad-CAM blended over the film; { } less, more of it"),
        ("s", "side by side: the film, and the film with Grad-CAM"),
        ("[ ] , . + - 0 i", "contrast, brightness, zoom, fit, invert (r resets; shift+arrows pan)"),
        ("m d u a", "verdict, as on Review"),
        ("esc / f", "back"),
    ],
    "Thumbnails (T on Review)": [
        ("arrows", "move between the thumbnails"),
        ("enter", "the thumbnail's film full screen"),
        ("esc / T", "back"),
    ],
    "Runs": [
        ("up/down", "move in the table"),
        ("space", "add/remove the run in the overlay (its colour is fixed)"),
        ("enter", "attach: follow the run live on the Train screen"),
        ("r", "review the run's misclassified X-rays (Review screen)"),
        ("e", "evaluation: ROC/PR, threshold, confidence intervals"),
        ("c", "compare the two selected runs (McNemar, DeLong)"),
        ("[ ]", "less / more smoothing (TensorBoard moving average; raw curve faint)"),
        ("m", "which per-epoch metric to overlay"),
        ("l", "log scale for losses"),
        ("v", "next chart when only one fits"),
        ("/", "filter by id, name, tags, note, recipe, model, data (Enter keeps, Esc clears)"),
        ("s S", "sort by the next column / turn the order round (or click a header)"),
        ("p h", "settings columns (those that differ first) / hide the constant ones"),
        ("n t N", "name the run (its id stays), its tags, a note"),
        ("a A d", "archive (restore) the run, show the archived ones, delete it (asks; never a running run)"),
        ("f", "config diff of the two picked runs, beside the overlay"),
        ("C", "clone: the Train form filled with the run's settings (s there starts a run like it)"),
    ],
}


def help_table() -> Table:
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for section, rows in KEYS.items():
        table.add_row(Text(section, style="underline"), "")
        for key, text in rows:
            table.add_row(key, text)
    return table


class HelpScreen(ModalScreen):
    # q quits here as everywhere (a modal screen hides the app's keys, so it is bound here too).
    BINDINGS = [Binding("escape,question_mark", "dismiss", "Close"), Binding("q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static("Keys · Esc or ? close · q quit", classes="dialog-title")
            yield Static(help_table())
