"""Evaluation: the confusion matrix, ROC and PR curves, and a threshold explorer.

Arrow keys move the threshold and every figure follows. Presets (0.5, Youden,
"sensitivity >= X") are always computed on the VALIDATION rows: the test
split may be looked at, never tuned on. ``w`` saves the threshold with the
run, where ``pneumo eval``, ``predict`` and ``review`` pick it up. Beside the
figures: how many validation images (of each class) the operating point
stands on, its sensitivity and specificity there with 95% Wilson intervals,
and the warning below the stated minimum, in ``pneumo threshold``'s words.
``c`` shows, in place of the curves, the three classes NORMAL / BACTERIAL / VIRAL on val and test when a run of
the other task on the same data and images sits beside the run (``training.evaluation.three_class``), worked
out in a worker (it may run the subtype model); otherwise why there is none, in one line.

``EvaluationView(run_dir)`` is a widget; ``EvaluationScreen(run_dir)`` the
same as a pushable screen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual_plot import HiResMode, PlotWidget

from training.core.tasks import DEFAULT_TASK
from training.evaluation.review_cases import labels_and_probabilities, load_rows
from training.metrics.binary import binary_metrics
from training.metrics.bootstrap import bootstrap_cis
from training.metrics.thresholds import (
    choose_threshold,
    operating_point_support,
    pr_curve,
    roc_curve,
    rule_stability,
    threshold_for_sensitivity,
    youden,
)
from training.run.operating_point import load_threshold, save_threshold, saved_rule
from training.run.paths import RunPaths
from training.run.store import run_task

from ..stylesheets import sheet
from ..words import SYNTHETIC_LINE, stability_words, support_words, synthetic_run

N_BOOT = 1000



def confusion_text(c: dict, classes: tuple[str, str]) -> str:
    """The confusion matrix as four lines of text, rows the truth and columns the call, named by the task's
    (negative, positive) classes."""
    negative, positive = classes
    width = len("true ") + max(len(negative), len(positive))
    return (f"{'':{width}}predicted\n"
            f"{'':{width}}{negative}  {positive}\n"
            f"{'true ' + negative:<{width}}{c['tn']:>{len(negative)}}  {c['fp']:>{len(positive)}}\n"
            f"{positive:>{width - 2}}  {c['fn']:>{len(negative)}}  {c['tp']:>{len(positive)}}\n")

class EvaluationView(Vertical, can_focus=True):
    """Numbers on the left, ROC and PR on the right; the view holds focus so arrows move the threshold.

    Its layout is ``styles/evaluation.tcss``, which EvaluationScreen loads.
    """

    BINDINGS = [
        Binding("left", "nudge(-0.01)", "Threshold -"),
        Binding("right", "nudge(0.01)", "Threshold +"),
        Binding("shift+left,down", "nudge(-0.001)", "Fine -", show=False),
        Binding("shift+right,up", "nudge(0.001)", "Fine +", show=False),
        Binding("h", "preset_half", "0.5"),
        Binding("y", "preset_youden", "Youden (val)"),
        Binding("Y", "preset_youden_centre", "Youden centre (val)"),
        Binding("s", "preset_sensitivity", "Sens >= X (val)"),
        Binding("x", "edit_target", "Set X"),
        Binding("v", "toggle_split", "val/test"),
        Binding("c", "toggle_three", "3 classes"),
        Binding("w", "save", "Save threshold"),
        Binding("f", "edit_site", "Site shift"),
        Binding("a", "adapt", "Adapt to site", show=False),
        Binding("pageup", "scroll_numbers(-1)", "Scroll figures", show=False),
        Binding("pagedown", "scroll_numbers(1)", "Scroll figures", show=False),
    ]

    def __init__(self, run_dir: Path, split: str | None = None, runs_dir: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.run_dir = Path(run_dir)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else self.run_dir.parent  # where a partner is sought
        rows = load_rows(self.run_dir)
        self.rows = {s: [r for r in rows if r.get("split") == s] for s in ("val", "test")}
        if not any(self.rows.values()):
            raise ValueError(f"{self.run_dir.name}: {RunPaths(self.run_dir).predictions.name} has no val or test rows")
        # look at validation by default: that is where the threshold may be chosen
        self.split = split or ("val" if self.rows["val"] else "test")
        self.threshold = load_threshold(self.run_dir)
        self.synthetic = synthetic_run(self.run_dir)
        self.question = run_task(self.run_dir)  # the question: its two classes name every figure here
        self.how = "saved" if RunPaths(self.run_dir).threshold.exists() else "default"
        self.rule = saved_rule(self.run_dir)  # the rule the threshold came from (None: set by hand or default)
        self._stability: dict[str, dict] = {}  # rule -> its flat optimum and spread on validation
        self.target_sensitivity = 0.95
        self.cis: dict | None = None
        self.site: Path | None = None
        self.shift: dict | None = None
        self.three: dict | str | None = None  # None: not asked; "computing"; {split: result}; or why there is none

    # --- data ------------------------------------------------------------------

    def arrays(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        return labels_and_probabilities(self.rows[split or self.split])

    def metrics(self) -> dict:
        return binary_metrics(*self.arrays(), self.threshold)

    def _both_classes(self, split: str | None = None) -> bool:
        labels, _ = self.arrays(split)
        return 0 < labels.sum() < len(labels)

    # --- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="eval-title")
        with Horizontal(id="eval-body"):
            # Scrolls (PageUp/PageDown) where the terminal is too short for every figure.
            with VerticalScroll(id="eval-numbers", can_focus=False):
                yield Static("", id="eval-confusion")
                yield Static("", id="eval-metrics")
                yield Input(placeholder="target sensitivity, e.g. 0.95", id="eval-target")
                yield Static("", id="eval-target-error")
                yield Static("", id="eval-support")
                yield Static("", id="eval-stability")
                yield Input(placeholder="folder of a site's films (labels not read)", id="eval-site")
                yield Static("", id="eval-shift")
                yield Static("", id="eval-ci")
                yield Static(
                    "←/→ threshold ±0.01 (↑/↓ ±0.001) · h 0.5 · y Youden · Y its centre · s sensitivity ≥ X · "
                    "x set X\nv val/test · w save threshold · f a site's shift (a: adapt) · c three classes · "
                    "PgUp/PgDn scroll. Presets use validation rows only.",
                    id="eval-help")
            with Vertical(id="eval-plots"):
                yield PlotWidget(id="eval-roc", allow_pan_and_zoom=False)
                yield PlotWidget(id="eval-pr", allow_pan_and_zoom=False)
            with VerticalScroll(id="eval-three-panel", can_focus=False):
                yield Static("", id="eval-three")

    # --- the children the view works with -----------------------------------------

    def text(self, name: str) -> Static:
        """The text block ``name``: title, confusion, metrics, support, target-error, ci or three."""
        return self.query_one(f"#eval-{name}", Static)

    def plot(self, name: str) -> PlotWidget:
        """The plot ``name``: roc or pr."""
        return self.query_one(f"#eval-{name}", PlotWidget)

    @property
    def target_input(self) -> Input:
        return self.query_one("#eval-target", Input)

    @property
    def site_input(self) -> Input:
        return self.query_one("#eval-site", Input)

    def on_mount(self) -> None:
        for plot in self.query(PlotWidget):
            plot.can_focus = False  # arrow keys belong to the threshold
        self.update_all()
        self.focus()

    def update_all(self) -> None:
        self._update_numbers()
        self._update_plots()
        self._start_bootstrap()

    def _update_numbers(self) -> None:
        m = self.metrics()
        c = m["confusion"]
        title = Text(f"Evaluation {self.run_dir.name} · {self.split} split ({m['n']} images)", style="bold")
        if self.split == "test":
            title.append("  (test: look, don't tune)", style="yellow")
        title.append(f" · threshold {self.threshold:.3f} ({self.how})")
        if self.question.name != DEFAULT_TASK:
            title.append(f" · task {self.question.name}: {self.question.question}")
        if self.synthetic:  # in words, so that NO_COLOR loses nothing
            title.append(" · ")
            title.append(SYNTHETIC_LINE.split(";")[0], style="bold reverse")
        self.text("title").update(title)
        self.text("confusion").update(
            confusion_text(c, self.question.classes) +
            f"[red]FN {c['fn']} missed[/] · [yellow]FP {c['fp']} false alarms[/]")

        def fmt(key):
            return "n/a" if m[key] is None else f"{m[key]:.3f}"

        self.text("metrics").update(
            f"sensitivity {fmt('sensitivity')}   specificity {fmt('specificity')}\n"
            f"PPV         {fmt('precision')}   NPV         {fmt('npv')}\n"
            f"accuracy    {fmt('accuracy')}   AUC         {fmt('auc')}\n"
            f"target X = sensitivity ≥ {self.target_sensitivity:.2f}")
        self.text("support").update(self.support_text())
        self.text("stability").update(self.stability_text())

    def support_text(self) -> Text:
        """What the operating point stands on: the validation images of each class, its sensitivity and
        specificity there with 95% Wilson intervals, and the warning below the minimum (``pneumo threshold``'s
        words), whichever split is looked at: validation is where a threshold is chosen."""
        support = operating_point_support(*self.arrays("val"), self.threshold, self.question.classes)
        stands_on, warning = support_words("validation", support)
        text = Text("Operating point ", style="bold")
        text.append(stands_on.replace(": sensitivity", ":\nsensitivity").replace(", specificity", ",\nspecificity"))
        if warning:
            text.append("\n")
            text.append(warning, style="bold yellow")
        return text

    def stability_text(self) -> Text:
        """Where the current rule's optimum is flat on validation and how far its choice moves (``pneumo
        threshold``'s words); for a hand-set threshold, those of plain Youden. Worked out once per rule."""
        rule = self.rule or "youden"
        if rule not in self._stability:
            labels, probabilities = self.arrays("val") if self.rows["val"] else (np.zeros(0), np.zeros(0))
            self._stability[rule] = rule_stability(rule, labels, probabilities) if self._both_classes("val") else {}
        return Text("\n".join(stability_words(self._stability[rule], self.rule)), style="dim")

    def _update_plots(self) -> None:
        roc, pr = self.plot("roc"), self.plot("pr")
        for plot in (roc, pr):
            plot.clear()
            plot.set_xlimits(0, 1)
            plot.set_ylimits(0, 1.02)
        if not self._both_classes():
            return
        labels, probs = self.arrays()
        m = self.metrics()
        fpr, tpr, _ = roc_curve(labels, probs)
        roc.plot(fpr, tpr, line_style="dodger_blue1", hires_mode=HiResMode.BRAILLE)
        roc.plot([0, 1], [0, 1], line_style="grey37", hires_mode=HiResMode.BRAILLE)
        roc.scatter([1 - m["specificity"]], [m["sensitivity"]], marker="●", marker_style="bold red")
        roc.set_xlabel("1 - specificity")
        roc.set_ylabel("sensitivity")
        recall, precision, _ = pr_curve(labels, probs)
        pr.plot(recall, precision, line_style="dodger_blue1", hires_mode=HiResMode.BRAILLE)
        if m["precision"] is not None:
            pr.scatter([m["sensitivity"]], [m["precision"]], marker="●", marker_style="bold red")
        pr.set_xlabel("recall (sensitivity)")
        pr.set_ylabel("precision (PPV)")

    # --- bootstrap intervals (a worker: thousands of resamples) ---------------------

    def _start_bootstrap(self) -> None:
        self.text("ci").update("95% CI: computing…")
        if self._both_classes():
            labels, probs = self.arrays()
            self.compute_cis(labels, probs, self.threshold, self.split)
        else:
            self.text("ci").update("95% CI: needs both classes")

    @work(thread=True, exclusive=True, group="bootstrap")
    def compute_cis(self, labels, probs, threshold: float, split: str) -> None:
        cis = bootstrap_cis(labels, probs, threshold, n_boot=N_BOOT, seed=0)
        self.app.call_from_thread(self._show_cis, cis, threshold, split)

    def _show_cis(self, cis: dict, threshold: float, split: str) -> None:
        if threshold != self.threshold or split != self.split:
            return  # an older request; the newer one is on its way
        self.cis = cis
        lines = [f"95% CI ({cis['n_boot']} stratified bootstrap resamples)"]
        for key in ("accuracy", "sensitivity", "specificity", "auc"):
            lines.append(f"{key:<12} {cis[key]['value']:.3f}  [{cis[key]['low']:.3f}, {cis[key]['high']:.3f}]")
        self.text("ci").update("\n".join(lines))

    # --- threshold actions --------------------------------------------------------

    def set_threshold(self, value: float, how: str, rule: str | None = None) -> None:
        self.threshold = float(np.clip(value, 0.0, 1.0))
        self.how, self.rule = how, rule
        self.update_all()

    def action_nudge(self, step: float) -> None:
        self.set_threshold(round(self.threshold + step, 4), "manual")

    def action_preset_half(self) -> None:
        self.set_threshold(0.5, "0.5")

    def action_preset_youden_centre(self) -> None:
        if not self._both_classes("val"):
            self.notify("Youden needs validation rows of both classes", severity="warning")
            return
        self.set_threshold(*choose_threshold("youden-centre", *self.arrays("val")), "youden-centre")

    def action_preset_youden(self) -> None:
        if not self._both_classes("val"):
            self.notify("Youden needs validation rows of both classes", severity="warning")
            return
        self.set_threshold(youden(*self.arrays("val")), "youden on val", "youden")

    def action_preset_sensitivity(self) -> None:
        if not self._both_classes("val"):
            self.notify("this preset needs validation rows of both classes", severity="warning")
            return
        x = self.target_sensitivity
        self.set_threshold(threshold_for_sensitivity(*self.arrays("val"), x), f"sensitivity>={x:g} on val",
                           f"sensitivity>={x:g}")

    def action_edit_target(self) -> None:
        target = self.target_input
        target.value = ""
        target.placeholder = f"target sensitivity (now {self.target_sensitivity:g}); Enter applies, Esc cancels"
        target.add_class("editing")
        target.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "eval-site":
            event.stop()
            self._check_site(event.value.strip())
            return
        if event.input.id != "eval-target":
            return
        event.stop()
        why = target_problem(event.value)
        if why is not None:  # said where it was typed, until it is right or the box is left
            self.text("target-error").update(Text(why, style="bold red"))
            return
        self.target_sensitivity = float(event.value)
        self._close_target()
        self.action_preset_sensitivity()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.target_input.has_class("editing"):
            event.stop()  # leaves the box, not the screen
            self._close_target()
        elif event.key == "escape" and self.site_input.has_class("editing"):
            event.stop()
            self.site_input.remove_class("editing")
            self.focus()

    # --- a site's shift, and adapting to it ------------------------------------------------

    def action_edit_site(self) -> None:
        self.site_input.add_class("editing")
        self.site_input.focus()

    def _check_site(self, folder: str) -> None:
        self.site_input.remove_class("editing")
        self.focus()
        if not folder or not Path(folder).expanduser().is_dir():
            self.text("shift").update(Text(f"No such folder: {folder or '(empty)'}", style="bold red"))
            return
        self.site = Path(folder).expanduser()
        self.text("shift").update(Text(f"Comparing {self.site} with validation ...", style="italic"))
        self._detect(self.site)

    @work(thread=True, exclusive=True, group="eval-shift")
    def _detect(self, folder: Path) -> None:
        from training.core.errors import one_line
        from training.evaluation.site_shift import detect_shift

        try:
            result = detect_shift(self.run_dir, folder)
        except Exception as exc:  # noqa: BLE001 - an unusable folder or run is said in one line
            self.app.call_from_thread(self.text("shift").update, Text(f"Shift: {one_line(exc)}", style="red"))
            return
        self.app.call_from_thread(self._show_shift, result)

    def _show_shift(self, result: dict) -> None:
        self.shift = result
        text = Text("SHIFTED: " if result["shifted"] else "not shifted: ", style="bold yellow" if result["shifted"]
                    else "bold")
        text.append(result["verdict"])
        text.append(f"\n(site {result['n_site']} films, positive rate {result['positive_rate']['site']:.2f} against "
                    f"validation's {result['positive_rate']['reference']:.2f})")
        if result["shifted"]:
            text.append("\na: adapt for it without labels (a derived run: the site's prior by EM)", style="bold")
        self.text("shift").update(text)

    def action_adapt(self) -> None:
        if not self.shift or not self.shift.get("shifted"):
            self.notify("check a site first (f); adapting is offered where a shift is found", severity="warning")
            return
        self.notify(f"adapting {self.run_dir.name} to {self.site} ...")
        self._adapt(self.site)

    @work(thread=True, exclusive=True, group="eval-adapt")
    def _adapt(self, folder: Path) -> None:
        from training.core.errors import one_line
        from training.evaluation.site_shift import adapt_run

        try:
            derived = adapt_run(self.run_dir, folder, prior=True)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"could not adapt: {one_line(exc)}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"wrote {derived.name} (the site's prior by EM); the Runs screen "
                                  "lists it", timeout=10)

    def _close_target(self) -> None:
        self.target_input.remove_class("editing")
        self.text("target-error").update("")
        self.focus()

    # --- three classes, with the run of the other task (a worker: it may run the subtype model) -------------

    @property
    def three_shown(self) -> bool:
        return self.query_one("#eval-three-panel").has_class("shown")

    def action_toggle_three(self) -> None:
        self.query_one("#eval-three-panel").toggle_class("shown")
        self.query_one("#eval-plots").set_class(self.three_shown, "hidden")
        if self.three_shown and self.three is None:
            self._start_three()

    def _start_three(self) -> None:
        self.three = "computing"
        self.text("three").update(Text(f"{self._three_title()}: computing… (looking for the run of the other task "
                                       "beside this one; the subtype model may run on some films)", style="italic"))
        self._compute_three()

    def _three_title(self) -> str:
        from training.core.tasks import THREE_CLASSES

        return f"Three classes, {' / '.join(THREE_CLASSES)}"

    @work(thread=True, exclusive=True, group="eval-three")
    def _compute_three(self) -> None:
        from textual.worker import get_current_worker

        from training.core.errors import one_line
        from training.evaluation.three_class import partner_or_why, three_class_splits

        try:
            partner, why = partner_or_why(self.run_dir, self.runs_dir)
            found = three_class_splits(self.run_dir, partner) if partner is not None else f"no partner: {why}"
        except Exception as exc:  # noqa: BLE001 - an unusable partner or checkpoint is said in one line
            found = f"cannot be worked out: {one_line(exc)}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_three, found)

    def _show_three(self, found: dict | str) -> None:
        from training.evaluation.three_class import figure_lines, matrix_lines, rule_line

        if not self.is_mounted:
            return  # the screen was left while the worker ran
        self.three = found
        text = Text(self._three_title(), style="bold")
        results = [r for r in found.values() if r is not None] if isinstance(found, dict) else []
        if not results:
            text.append(f": {found if isinstance(found, str) else 'no val or test images in these runs'}")
            self.text("three").update(text)  # as text: run ids and paths are never markup
            return
        first = results[0]
        text.append(", at the two runs' saved thresholds\n")
        text.append(f"pneumonia run {first.pneumonia_run} · subtype run {first.subtype_run}\n")
        text.append(rule_line(first) + "\n", style="dim")
        for split, result in found.items():
            text.append(f"\n{split}" + ("  (test: look, don't tune)" if split == "test" else "") + "\n",
                        style="bold")
            if result is None:
                text.append(f"no {split} images in these runs\n")
                continue
            text.append("\n".join(matrix_lines(result)) + "\n")
            text.append("\n".join(figure_lines(result)) + "\n")
        self.text("three").update(text)

    def action_scroll_numbers(self, pages: int) -> None:
        numbers = self.query_one("#eval-numbers", VerticalScroll)
        numbers.scroll_relative(y=pages * max(1, numbers.size.height - 2), animate=False)

    def action_toggle_split(self) -> None:
        other = "test" if self.split == "val" else "val"
        if not self.rows[other]:
            self.notify(f"no {other} rows in predictions.csv", severity="warning")
            return
        self.split = other
        self.update_all()

    def action_save(self) -> None:
        val = binary_metrics(*self.arrays("val"), self.threshold) if self.rows["val"] else {}
        how = self.how if self.how not in ("saved", "default") else "manual"
        try:
            save_threshold(self.run_dir, self.threshold, how, val_sensitivity=val.get("sensitivity"),
                           val_specificity=val.get("specificity"), rule=self.rule or "manual",
                           **(self._stability.get(self.rule) or {}))
        except OSError as exc:
            self.notify(f"could not save {RunPaths(self.run_dir).threshold.name}: {exc}", severity="error")
            return
        self.notify(f"saved threshold {self.threshold:.3f} ({how}) to {self.run_dir.name}")
        if self.three is not None:  # the three classes are at the saved thresholds: work them out again
            self.three = None
            if self.three_shown:
                self._start_three()


def target_problem(text: str) -> str | None:
    """Why ``text`` is no target sensitivity (a number in (0, 1]), in words; None when it is one."""
    shown = text.strip() or "(empty)"
    try:
        value = float(text)
    except ValueError:
        return f"{shown} is not a number: give a sensitivity between 0 and 1, e.g. 0.95"
    if not 0 < value <= 1:  # NaN too
        hint = f" ({value / 100:g} for {value:g}%)" if 1 < value <= 100 else ""
        return f"{shown} is not between 0 and 1: give a sensitivity such as 0.95{hint}"
    return None


class EvaluationScreen(Screen):
    """EvaluationView as a full screen; Esc goes back (dismiss, so the opener can reload)."""

    BINDINGS = [Binding("escape", "dismiss", "Back")]
    CSS_PATH = sheet("evaluation")

    def __init__(self, run_dir: Path, split: str | None = None, runs_dir: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.run_dir = Path(run_dir)
        self.split = split
        self.runs_dir = runs_dir

    def compose(self) -> ComposeResult:
        yield EvaluationView(self.run_dir, self.split, self.runs_dir, id="evaluation-view")
        yield Footer()
