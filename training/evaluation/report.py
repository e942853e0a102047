"""``pneumo report RUN --out DIR``: a Markdown report with PNG figures for clinicians.

Figures are drawn with Pillow's ImageDraw (no plotting library needed): ROC
and PR curves with the operating point marked, the confusion matrix, and
thumbnails of the misclassified X-rays with the reviewer's notes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.core.fileio import atomic_write_bytes, atomic_write_text
from training.evaluation.review_cases import CaseImages, labels_and_probabilities, load_rows, review_cases, split_rows
from training.metrics.binary import binary_metrics
from training.metrics.bootstrap import bootstrap_cis
from training.metrics.thresholds import pr_curve, roc_curve
from training.run.operating_point import load_operating_point
from training.run.state import read_run
from training.run.store import load_config

WHITE, BLACK, GREY, LIGHT = (255, 255, 255), (20, 20, 20), (120, 120, 120), (225, 225, 225)
BLUE, RED = (31, 90, 180), (200, 40, 40)
MAX_THUMBNAILS = 24


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _save_png(image: Image.Image, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def draw_curve(x, y, title: str, xlabel: str, ylabel: str, point: tuple[float, float] | None = None,
               diagonal: bool = False, size: int = 480) -> Image.Image:
    """A line chart on [0, 1] x [0, 1], the operating point as a red dot."""
    image = Image.new("RGB", (size, size), WHITE)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 60, 40, size - 20, size - 50
    font, small = _font(16), _font(12)

    def to_px(u: float, v: float) -> tuple[float, float]:
        return left + u * (right - left), bottom - v * (bottom - top)

    for tick in np.linspace(0, 1, 6):
        gx, gy = to_px(tick, tick)
        draw.line([(gx, top), (gx, bottom)], fill=LIGHT)
        draw.line([(left, gy), (right, gy)], fill=LIGHT)
        draw.text((gx, bottom + 6), f"{tick:.1f}", fill=GREY, font=small, anchor="mt")
        draw.text((left - 6, gy), f"{tick:.1f}", fill=GREY, font=small, anchor="rm")
    draw.rectangle([left, top, right, bottom], outline=BLACK)
    if diagonal:
        draw.line([to_px(0, 0), to_px(1, 1)], fill=GREY, width=1)
    draw.line([to_px(u, v) for u, v in zip(x, y, strict=True)], fill=BLUE, width=3, joint="curve")
    if point is not None:
        px, py = to_px(*point)
        draw.ellipse([px - 6, py - 6, px + 6, py + 6], fill=RED, outline=BLACK)
    draw.text((size / 2, 12), title, fill=BLACK, font=font, anchor="mt")
    draw.text(((left + right) / 2, size - 12), xlabel, fill=BLACK, font=small, anchor="ms")
    label = Image.new("RGB", (bottom - top, 16), WHITE)
    ImageDraw.Draw(label).text(((bottom - top) / 2, 8), ylabel, fill=BLACK, font=small, anchor="mm")
    image.paste(label.rotate(90, expand=True), (6, top))
    return image


def draw_confusion(c: dict, size: int = 420) -> Image.Image:
    """2x2 matrix, rows = truth, columns = prediction, shaded by row share."""
    image = Image.new("RGB", (size, size), WHITE)
    draw = ImageDraw.Draw(image)
    font, big = _font(14), _font(26)
    cells = {(0, 0): ("TN", c["tn"]), (0, 1): ("FP", c["fp"]), (1, 0): ("FN", c["fn"]), (1, 1): ("TP", c["tp"])}
    origin, cell = 110, (size - 130) // 2
    for (row, col), (name, count) in cells.items():
        row_total = c["tn"] + c["fp"] if row == 0 else c["fn"] + c["tp"]
        share = count / row_total if row_total else 0.0
        shade = int(245 - 150 * share)
        fill = (shade, shade, 255) if row == col else (255, shade, shade)
        x0, y0 = origin + col * cell, origin + row * cell
        draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=fill, outline=BLACK)
        draw.text((x0 + cell / 2, y0 + cell / 2 - 8), str(count), fill=BLACK, font=big, anchor="mm")
        draw.text((x0 + cell / 2, y0 + cell / 2 + 22), f"{name}  {share:.0%} of row", fill=BLACK, font=font,
                  anchor="mm")
    for i, name in enumerate(("NORMAL", "PNEUMONIA")):
        draw.text((origin + i * cell + cell / 2, origin - 10), name, fill=BLACK, font=font, anchor="ms")
        draw.text((origin - 8, origin + i * cell + cell / 2), name, fill=BLACK, font=font, anchor="rm")
    draw.text((origin + cell, 40), "predicted", fill=GREY, font=font, anchor="ms")
    draw.text((10, origin - 10), "true", fill=GREY, font=font, anchor="ls")
    return image


def draw_thumbnails(cases: list[dict], images: list[np.ndarray | None], thumb: int = 160,
                    columns: int = 4) -> Image.Image:
    """A grid of X-ray thumbnails, each captioned with kind, probability, verdict and note."""
    rows = max(1, -(-len(cases) // columns))
    caption_h = 58
    sheet = Image.new("RGB", (columns * (thumb + 10) + 10, rows * (thumb + caption_h + 10) + 10), WHITE)
    draw = ImageDraw.Draw(sheet)
    font = _font(11)
    for i, (case, pixels) in enumerate(zip(cases, images, strict=True)):
        x0 = 10 + (i % columns) * (thumb + 10)
        y0 = 10 + (i // columns) * (thumb + caption_h + 10)
        if pixels is None:
            draw.rectangle([x0, y0, x0 + thumb, y0 + thumb], fill=LIGHT, outline=GREY)
            draw.text((x0 + thumb / 2, y0 + thumb / 2), "image unavailable", fill=GREY, font=font, anchor="mm")
        else:
            tile = Image.fromarray(pixels).convert("RGB")
            scale = thumb / max(tile.size)  # small images are enlarged too
            tile = tile.resize((max(1, round(tile.width * scale)), max(1, round(tile.height * scale))), Image.BILINEAR)
            sheet.paste(tile, (x0 + (thumb - tile.width) // 2, y0 + (thumb - tile.height) // 2))
        colour = RED if case["kind"] == "FN" else BLUE
        lines = [f"{case['kind']}  p={case['probability']:.3f}", _shorten(case["id"], 26)]
        if case.get("verdict") or case.get("note"):
            lines.append(_shorten(f"{case.get('verdict') or ''}: {case.get('note') or ''}".strip(": "), 26))
        for j, line in enumerate(lines):
            draw.text((x0, y0 + thumb + 4 + j * 16), line, fill=colour if j == 0 else BLACK, font=font)
    return sheet


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _md_cell(text) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def write_report(run_dir: Path, out_dir: Path, split: str = "test", n_boot: int = 2000) -> Path:
    """Write report.md and its figures into ``out_dir``; returns the Markdown path."""
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
    _save_png(draw_confusion(metrics["confusion"]), out_dir / "confusion.png")

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
    text = _markdown(run_dir, config, split, threshold_info, metrics, cis, figures, cases, len(shown))
    report = out_dir / "report.md"
    atomic_write_text(report, text)
    return report


def _best_epoch_text(run_dir: Path) -> str:
    summary = read_run(run_dir).summary()
    if summary.best_epoch is None:
        return ""
    value = f", {summary.best_metric} {summary.best_value:.4f}" if summary.best_value is not None else ""
    return f"; checkpoint of epoch {summary.best_epoch} (best on validation{value})"


def _markdown(run_dir, config, split, threshold_info, metrics, cis, figures, cases, n_shown) -> str:
    data = config.get("data") or {}
    synthetic = bool(data.get("synthetic"))
    c = metrics["confusion"]
    out = [f"# Pneumonia classifier report: {run_dir.name}", ""]
    if synthetic:
        out += ["> **SYNTHETIC DATA.** This run used generated demo images, not radiographs. "
                "Nothing here says anything about real chest X-rays.", ""]
    out += [
        f"- Model: `{config.get('model', '?')}`; data: `{data.get('source') or data.get('path') or '?'}`"
        + _best_epoch_text(run_dir),
        f"- Evaluated on the **{split}** split: {metrics['n']} images "
        f"({c['tp'] + c['fn']} PNEUMONIA, {c['tn'] + c['fp']} NORMAL)",
        f"- Operating point: probability >= **{threshold_info['threshold']:.3f}** is called PNEUMONIA "
        f"({threshold_info['how']}). Thresholds are chosen on validation images only.",
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
            f"TP {c['tp']}, FN {c['fn']} (missed pneumonia), FP {c['fp']} (false alarms), TN {c['tn']}.", ""]
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
            "- FN = pneumonia called normal; FP = normal called pneumonia.", ""]
    return "\n".join(out)
