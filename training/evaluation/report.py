"""``pneumo report RUN --out DIR``: a Markdown report with PNG figures for clinicians.

Figures are drawn with matplotlib on its Agg canvas (a ``Figure`` of its own, never
pyplot's global state) in matplotlib's default style, whatever a user's matplotlibrc
says: ROC and PR curves with the operating point marked, the confusion matrix, and
thumbnails of the misclassified X-rays with the reviewer's notes. Text read from
disk (ids, verdicts, notes) is shown as written: never parsed as mathtext or TeX.
matplotlib is imported inside the drawing functions, so importing this module costs
nothing until a figure is drawn.
"""

from __future__ import annotations

import io
import re
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from training.core.fileio import atomic_write_bytes, atomic_write_text
from training.core.tasks import PNEUMONIA, task_of_config
from training.evaluation.review_cases import CaseImages, labels_and_probabilities, load_rows, review_cases, split_rows
from training.metrics.binary import binary_metrics
from training.metrics.bootstrap import bootstrap_cis
from training.metrics.thresholds import operating_point_support, pr_curve, roc_curve
from training.run.operating_point import load_operating_point, saved_rule, saved_stability, stability_words
from training.run.state import read_run
from training.run.store import load_config

BLUE, RED, GREY, LIGHT = "#1f5ab4", "#c82828", "#787878", "#e1e1e1"
DPI = 100
MAX_THUMBNAILS = 24
LITERAL = {"parse_math": False, "usetex": False}  # for every text: a "$" in an id or a note is a dollar sign


@contextmanager
def _style():
    """matplotlib's default look (no TeX, no user colours), whatever the user's matplotlibrc sets."""
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context({"text.usetex": False, "text.parse_math": False}):
        yield


def _figure(width: int, height: int):
    from matplotlib.figure import Figure

    return Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")


def _png_bytes(figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    with _style():
        FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _save_png(figure, path: Path) -> None:
    atomic_write_bytes(path, _png_bytes(figure))


def draw_curve(x, y, title: str, xlabel: str, ylabel: str, point: tuple[float, float] | None = None,
               diagonal: bool = False, size: int = 480):
    """A line chart on [0, 1] x [0, 1] (a matplotlib ``Figure``), the operating point as a red dot."""
    with _style():
        figure = _figure(size, size)
        ax = figure.add_subplot()
        if diagonal:
            ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="chance")
        ax.plot(x, y, color=BLUE, linewidth=2, label="model")
        if point is not None:
            ax.plot([point[0]], [point[1]], "o", markersize=10, color=RED, markeredgecolor="black", clip_on=False,
                    zorder=3, label="operating point")
        ticks = np.linspace(0, 1, 6)
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xticks=ticks, yticks=ticks, aspect="equal")
        ax.grid(True, color=LIGHT)
        ax.set_title(title, **LITERAL)
        ax.set_xlabel(xlabel, **LITERAL)
        ax.set_ylabel(ylabel, **LITERAL)
        legend = ax.legend(loc="best")
        for text in legend.get_texts():
            text.set(**LITERAL)
    return figure


def draw_confusion(c: dict, title: str = "Confusion matrix", size: int = 420,
                   names: tuple[str, str] = PNEUMONIA.classes):
    """2x2 matrix (a matplotlib ``Figure``), rows = truth, columns = prediction: each cell its
    count and its share of the row, shaded by that share (blue right, red wrong)."""
    import matplotlib

    cells = [[("TN", c["tn"]), ("FP", c["fp"])], [("FN", c["fn"]), ("TP", c["tp"])]]
    with _style():
        figure = _figure(size, size)
        ax = figure.add_subplot()
        colours = np.zeros((2, 2, 4))
        for row, pair in enumerate(cells):
            row_total = sum(count for _, count in pair)
            for col, (name, count) in enumerate(pair):
                share = count / row_total if row_total else 0.0
                colours[row, col] = matplotlib.colormaps["Blues" if row == col else "Reds"](0.08 + 0.55 * share)
                ax.text(col, row - 0.08, str(count), ha="center", va="center", fontsize=24, weight="bold", **LITERAL)
                ax.text(col, row + 0.2, f"{name}  {share:.0%} of row", ha="center", va="center", fontsize=11,
                        **LITERAL)
        _matrix_axes(ax, colours, list(names), title)
    return figure


def draw_confusion_matrix(matrix: list[list[int]], names: tuple[str, ...], title: str, size: int = 480):
    """A square matrix of any size (a matplotlib ``Figure``), rows = truth, columns = prediction, drawn as
    ``draw_confusion`` draws the 2x2 one: each cell its count and its share of the row."""
    import matplotlib

    k = len(names)
    with _style():
        figure = _figure(size, size)
        ax = figure.add_subplot()
        colours = np.zeros((k, k, 4))
        for row in range(k):
            row_total = sum(matrix[row])
            for col in range(k):
                count = matrix[row][col]
                share = count / row_total if row_total else 0.0
                colours[row, col] = matplotlib.colormaps["Blues" if row == col else "Reds"](0.08 + 0.55 * share)
                ax.text(col, row - 0.1, str(count), ha="center", va="center", fontsize=20, weight="bold", **LITERAL)
                ax.text(col, row + 0.22, f"{share:.0%} of row", ha="center", va="center", fontsize=9, **LITERAL)
        _matrix_axes(ax, colours, list(names), title)
    return figure


def _matrix_axes(ax, colours: np.ndarray, names: list[str], title: str) -> None:
    """A confusion matrix's cells, class names on both axes (truth down, prediction across), white lines between
    the cells and no frame."""
    k = len(names)
    ax.imshow(colours)
    ax.set_xticks(range(k), names, **LITERAL)
    ax.set_yticks(range(k), names, rotation=90, va="center", **LITERAL)
    ax.tick_params(length=0)
    ax.set_xticks([i + 0.5 for i in range(k - 1)], minor=True)
    ax.set_yticks([i + 0.5 for i in range(k - 1)], minor=True)
    ax.tick_params(which="minor", length=0)
    ax.grid(which="minor", color="white", linewidth=3)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("predicted", **LITERAL)
    ax.set_ylabel("true", **LITERAL)
    ax.set_title(title, **LITERAL)


def draw_thumbnails(cases: list[dict], images: list[np.ndarray | None], thumb: int = 160, columns: int = 4):
    """A grid of X-ray thumbnails (a matplotlib ``Figure``), each captioned with kind,
    probability, id, and the reviewer's verdict and note. Laid out in pixels, every tile
    the same ``thumb`` square (an image keeps its aspect inside it)."""
    from matplotlib.patches import Rectangle

    rows = max(1, -(-len(cases) // columns))
    caption_h, gap = 58, 20
    width, height = columns * (thumb + gap) + gap, rows * (thumb + caption_h + gap) + gap
    with _style():
        figure = _figure(width, height)
        figure.set_layout_engine("none")
        for i, (case, pixels) in enumerate(zip(cases, images, strict=True)):
            left = gap + (i % columns) * (thumb + gap)
            top = gap + (i // columns) * (thumb + caption_h + gap)
            ax = figure.add_axes((left / width, 1 - (top + thumb) / height, thumb / width, thumb / height))
            ax.set_axis_off()
            if pixels is None:
                ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor=LIGHT, edgecolor=GREY))
                ax.text(0.5, 0.5, "image unavailable", transform=ax.transAxes, ha="center", va="center", color=GREY,
                        fontsize=9, **LITERAL)
            else:
                pixels = _shrink(np.asarray(pixels), thumb)
                grey_8bit = pixels.ndim == 2 and pixels.dtype == np.uint8
                ax.imshow(pixels, cmap="gray", vmin=0 if grey_8bit else None, vmax=255 if grey_8bit else None)
            lines = [f"{case['kind']}  p={case['probability']:.3f}", _shorten(case["id"], 26)]
            if case.get("verdict") or case.get("note"):
                lines.append(_shorten(f"{case.get('verdict') or ''}: {case.get('note') or ''}".strip(": "), 26))
            colour = RED if case["kind"] == "FN" else BLUE
            for j, line in enumerate(lines):
                figure.text(left / width, 1 - (top + thumb + 4 + 16 * j) / height, line, ha="left", va="top",
                            fontsize=7.5, color=colour if j == 0 else "black", weight="bold" if j == 0 else "normal",
                            **LITERAL)
    return figure


def _shrink(pixels: np.ndarray, size: int) -> np.ndarray:
    """An 8-bit image scaled down to fit ``size`` pixels (matplotlib would resample a
    full-size X-ray at every draw: seconds for a sheet); other arrays as they are."""
    if pixels.dtype != np.uint8 or max(pixels.shape[:2]) <= size:
        return pixels
    from PIL import Image

    image = Image.fromarray(pixels)
    scale = size / max(image.size)
    return np.asarray(image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                   Image.BILINEAR))


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def md_text(text) -> str:
    """``text`` from disk (notes, file names, config values) as inert Markdown: HTML tags, links, images, code,
    emphasis, math and table pipes all shown as the characters they are, on one line."""
    text = " ".join(str(text if text is not None else "").split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


_MD_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|$~:]")  # ':' too: no "javascript:" survives as a scheme


def _md_cell(text) -> str:
    return md_text(text)


def write_report(run_dir: Path, out_dir: Path, split: str = "test", n_boot: int = 2000, *,
                 partner: Path | None = None, no_partner: str | None = None, predict=None) -> Path:
    """Write report.md and its figures into ``out_dir``; returns the Markdown path.

    With a ``partner`` (the run of the other task that ``three_class.check_partner`` accepts) the report gets a
    "Three classes" section on val and test; with ``no_partner`` (why there is none) that section is one line
    saying so; with neither, no section. ``predict`` goes to ``three_class`` (the subtype model on image files).
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = split_rows(load_rows(run_dir), split)
    labels, probs = labels_and_probabilities(rows)
    config = load_config(run_dir)
    threshold_info = load_operating_point(run_dir)
    threshold = threshold_info["threshold"]
    metrics = binary_metrics(labels, probs, threshold)
    both_classes = 0 < labels.sum() < len(labels)

    figures = {}
    if both_classes:
        fpr, tpr, _ = roc_curve(labels, probs)
        _save_png(draw_curve(fpr, tpr, f"ROC ({split}), AUC {metrics['auc']:.3f}", "1 - specificity",
                             "sensitivity", (1 - metrics["specificity"], metrics["sensitivity"]), diagonal=True),
                  out_dir / "roc.png")
        recall, precision, _ = pr_curve(labels, probs)
        point = (metrics["sensitivity"], metrics["precision"]) if metrics["precision"] is not None else None
        _save_png(draw_curve(np.r_[0.0, recall], np.r_[precision[0], precision], f"Precision-recall ({split})",
                             "recall (sensitivity)", "precision (PPV)", point), out_dir / "pr.png")
        figures = {"roc": "roc.png", "pr": "pr.png"}
    task = task_of_config(config)
    _save_png(draw_confusion(metrics["confusion"], f"Confusion matrix ({split}), threshold {threshold:.3f}",
                             names=task.classes),
              out_dir / "confusion.png")

    cases = review_cases(run_dir, split=split, threshold=threshold)
    shown = cases[:MAX_THUMBNAILS]
    loader = CaseImages(run_dir)
    images = []
    for case in shown:
        try:
            images.append(loader.load(case))
        except Exception:  # a missing image must not stop the report; the tile says so
            images.append(None)
    if shown:
        _save_png(draw_thumbnails(shown, images), out_dir / "misclassified.png")

    cis = bootstrap_cis(labels, probs, threshold, n_boot=n_boot) if both_classes else None
    val = [r for r in load_rows(run_dir) if r.get("split") == "val"]  # where the operating point was chosen
    support = operating_point_support(*labels_and_probabilities(val), threshold, task.classes) if val else None
    text = _markdown(run_dir, config, split, threshold_info, metrics, cis, figures, cases, len(shown), support,
                     _three_class_section(run_dir, out_dir, partner, no_partner, predict))
    report = out_dir / "report.md"
    atomic_write_text(report, text)
    return report


def _best_epoch_text(run_dir: Path) -> str:
    summary = read_run(run_dir).summary()
    if summary.best_epoch is None:
        return ""
    value = f", {summary.best_metric} {summary.best_value:.4f}" if summary.best_value is not None else ""
    return f"; checkpoint of epoch {summary.best_epoch} (best on validation{value})"


def _support_lines(support: dict | None) -> list[str]:
    """How many validation images the operating point stands on, its figures there, and the warning if few."""
    if not support:
        return []

    def interval(name: str) -> str:
        f = support[name]
        return "-" if f["value"] is None else f"{f['value']:.3f} (95% CI {f['low']:.3f} - {f['high']:.3f})"

    negative, positive = support["classes"]
    lines = [f"- The operating point stands on {support['n']} validation images ({support['n_negative']} {negative}, "
             f"{support['n_positive']} {positive}): sensitivity {interval('sensitivity')}, specificity "
             f"{interval('specificity')} there (Wilson)."]
    if support["warning"]:
        lines.append(f"- **Warning:** {support['warning']}.")
    return lines


def _three_class_section(run_dir: Path, out_dir: Path, partner: Path | None, no_partner: str | None,
                         predict) -> list[str]:
    """The "Three classes" section's lines (and its figures, written into ``out_dir``); [] when not asked."""
    from training.core.tasks import THREE_CLASSES
    from training.evaluation.three_class import rule_line, three_class_splits

    heading = f"## Three classes: {' / '.join(THREE_CLASSES)}"
    if partner is None:
        return [heading, "", f"Not shown: {md_text(no_partner)}.", ""] if no_partner else []
    results = three_class_splits(run_dir, partner, predict)  # checks the pair (in either order) once
    shown = [r for r in results.values() if r is not None]
    if not shown:
        return [heading, "", "Not shown: no val or test images in these runs.", ""]
    out = [heading, "", f"The pneumonia run **{md_text(shown[0].pneumonia_run)}** and the subtype run "
           f"**{md_text(shown[0].subtype_run)}**, of the same data and the same val and test images, combined at their "
           f"saved thresholds: {md_text(rule_line(shown[0]))}.", ""]
    for split, result in results.items():
        if result is None:
            out += [f"### {split}", "", f"No {split} images in these runs.", ""]
            continue
        png = f"three_class_{split}.png"
        title = (f"Three classes ({split}), thresholds {result.pneumonia_threshold:.3f} / "
                 f"{result.subtype_threshold:.3f}")
        _save_png(draw_confusion_matrix(result.matrix, result.classes, title), out_dir / png)
        recall, precision = result.recall, result.precision
        out += [f"### {split}: {result.n} images", "", f"![Three-class confusion matrix ({split})]({png})", "",
                "| true \\ predicted | " + " | ".join(result.classes) + " | recall |",
                "|---|" + "---|" * (len(result.classes) + 1)]
        for name, row in zip(result.classes, result.matrix, strict=True):
            out.append(f"| {name} | " + " | ".join(map(str, row)) + f" | {_fmt(recall[name])} |")
        out += ["| precision | " + " | ".join(_fmt(precision[c]) for c in result.classes) + " | |", "",
                f"Accuracy {_fmt(result.accuracy)}, macro recall (the mean recall of the classes with images) "
                f"{_fmt(result.macro_recall)}.", ""]
        out += [f"- Left out: {count} {why}." for why, count in result.left_out.items()]
        if result.inferred:
            out.append(f"- The subtype model was run on {result.inferred} image files it had not predicted (its "
                       f"best checkpoint, {result.views} test-time view{'s' if result.views != 1 else ''} as in "
                       "its recipe).")
        if result.left_out or result.inferred:
            out.append("")
    return out


def _markdown(run_dir, config, split, threshold_info, metrics, cis, figures, cases, n_shown, support=None,
              three_classes: list[str] = ()) -> str:
    data = config.get("data") or {}
    synthetic = bool(data.get("synthetic"))
    c = metrics["confusion"]
    task = task_of_config(config)
    out = [f"# Pneumonia classifier report: {md_text(run_dir.name)}", "", f"Task: **{task.question}** "
           f"({task.takes}; {task.positive} is the positive class).", ""]
    if synthetic:
        out += ["> **SYNTHETIC DATA.** This run used generated demo images, not radiographs. "
                "Nothing here says anything about real chest X-rays.", ""]
    out += [
        f"- Model: {md_text(config.get('model', '?'))}; data: {md_text(data.get('source') or data.get('path') or '?')}"
        + _best_epoch_text(run_dir),
        f"- Evaluated on the **{split}** split: {metrics['n']} images "
        f"({c['tp'] + c['fn']} {task.positive}, {c['tn'] + c['fp']} {task.negative})",
        f"- Operating point: probability >= **{threshold_info['threshold']:.3f}** is called {task.positive} "
        f"({md_text(threshold_info['how'])}). Thresholds are chosen on validation images only.",
        *_support_lines(support),
        *(f"- On validation, {line}." for line in stability_words(saved_stability(run_dir),
                                                                           saved_rule(run_dir))),
        f"- Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "## Performance",
        "",
        "| measure | value | 95% CI (bootstrap) |",
        "|---|---|---|",
    ]
    names = {"accuracy": "accuracy", "sensitivity": "sensitivity (recall)", "specificity": "specificity",
             "auc": "ROC AUC"}
    for key, name in names.items():
        ci = f"{cis[key]['low']:.3f} - {cis[key]['high']:.3f}" if cis else "n/a"
        out.append(f"| {name} | {_fmt(metrics[key])} | {ci} |")
    out += [f"| PPV (precision) | {_fmt(metrics['precision'])} | |", f"| NPV | {_fmt(metrics['npv'])} | |", ""]
    if cis:
        out += [f"Intervals: {cis['n_boot']} stratified bootstrap resamples of the {split} images "
                f"(seed {cis['seed']}).", ""]
    if figures:
        out += ["## Curves", "", "The red dot is the operating point.", "",
                "![ROC curve](roc.png)", "", "![Precision-recall curve](pr.png)", ""]
    out += ["## Confusion matrix", "", "![Confusion matrix](confusion.png)", "",
            f"TP {c['tp']}, FN {c['fn']} (missed {task.positive.lower()}), FP {c['fp']} (false alarms), "
            f"TN {c['tn']}.", ""]
    out += list(three_classes)
    out += ["## Misclassified images", ""]
    if not cases:
        out += ["None at this threshold.", ""]
    else:
        if n_shown:
            more = f" (the {n_shown} most confident errors shown)" if n_shown < len(cases) else ""
            out += [f"![Misclassified thumbnails](misclassified.png){more}", ""]
        out += ["| kind | probability | image | reviewer verdict | note |", "|---|---|---|---|---|"]
        for case in cases:
            out.append(f"| {case['kind']} | {case['probability']:.3f} | {_md_cell(case['id'])} | "
                       f"{_md_cell(case.get('verdict'))} | {_md_cell(case.get('note'))} |")
        out.append("")
    out += ["## Caveats", "",
            "- A research tool, not a medical device. Figures describe this test set only.",
            f"- FN = {task.positive.lower()} called {task.negative.lower()}; FP = {task.negative.lower()} called "
            f"{task.positive.lower()}.", ""]
    return "\n".join(out)
