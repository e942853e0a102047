"""pneumo report: Markdown plus PNG figures drawn with matplotlib."""

import csv
import io
import subprocess
import sys

import numpy as np
from PIL import Image
from review_fixtures import write_run
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.evaluation import report as report_module
from training.evaluation.report import draw_confusion, draw_curve, draw_thumbnails, write_report
from training.evaluation.review_cases import review_cases
from training.run.review_notes import ReviewNotes


def test_report_writes_markdown_and_figures(tmp_path):
    run = write_run(tmp_path / "run-a")
    case = review_cases(run)[0]
    ReviewNotes(run).set(case["id"], "label doubtful", "needs | a second read")
    (tmp_path / "images" / review_cases(run)[1]["id"]).unlink()  # a missing image must not stop the report
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out), "--n-boot", "200"])
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text()
    for png in ("roc.png", "pr.png", "confusion.png", "misclassified.png"):
        assert f"]({png})" in text
        with Image.open(out / png) as im:
            assert im.format == "PNG" and im.width > 100
    assert "SYNTHETIC DATA" in text
    assert "95% CI" in text and "label doubtful" in text and "needs \\| a second read" in text
    n_errors = len(review_cases(run))
    assert text.count("\n| FN |") + text.count("\n| FP |") == n_errors


def _pixels(figure) -> np.ndarray:
    with Image.open(io.BytesIO(report_module._png_bytes(figure))) as im:
        return np.asarray(im.convert("RGB"))


def _texts(figure) -> list:
    from matplotlib.text import Text

    return [t for t in figure.findobj(Text) if t.get_text()]


def test_curve_marks_the_operating_point():
    figure = draw_curve([0, 0.2, 1], [0, 0.8, 1], "ROC", "x", "y", point=(0.2, 0.8), size=300)
    pixels = _pixels(figure)
    assert pixels.shape == (300, 300, 3)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    ax = figure.axes[0]
    legend = ax.get_legend().get_window_extent()  # its red marker is not the point
    red[round(300 - legend.y1):round(300 - legend.y0) + 1, round(legend.x0):round(legend.x1) + 1] = False
    ys, xs = np.nonzero(red)
    # where the axes put (0.2, 0.8), in image rows counted from the top
    x_px, y_px = ax.transData.transform((0.2, 0.8))
    assert abs(xs.mean() - x_px) < 3 and abs(ys.mean() - (300 - y_px)) < 3
    assert {"ROC", "x", "y", "operating point"} <= {t.get_text() for t in _texts(figure)}


def test_confusion_figure_shows_counts_and_row_shares():
    figure = draw_confusion({"tp": 5, "fp": 1, "tn": 7, "fn": 2}, "Confusion matrix (test)")
    pixels = _pixels(figure)
    assert pixels.shape == (420, 420, 3) and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 3
    texts = {t.get_text() for t in _texts(figure)}
    assert {"5", "1", "7", "2", "TN  88% of row", "FP  12% of row", "FN  29% of row", "TP  71% of row"} <= texts
    assert {"Confusion matrix (test)", "predicted", "true", "NORMAL", "PNEUMONIA"} <= texts


def test_text_from_disk_is_never_mathtext(tmp_path, monkeypatch):
    """An id or a note with $ is shown as written; as mathtext "$\\bogus$" would even fail to draw."""
    run = write_run(tmp_path / "run-a")
    odd_id = "test/PNEUMONIA/$x^2$-$\\bogus$.png"
    rows = list(csv.DictReader((run / "predictions.csv").open()))
    # the most confident miss: among the thumbnails whatever else changes
    missed = min((r for r in rows if r["split"] == "test" and r["label"] == "1"), key=lambda r: float(r["probability"]))
    missed["id"] = odd_id
    with open(run / "predictions.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ReviewNotes(run).set(odd_id, "label doubtful", "costs $5, not $\\alpha$")
    drawn = {}
    save = report_module._save_png
    monkeypatch.setattr(report_module, "_save_png", lambda figure, path: (drawn.setdefault(path.name, figure),
                                                                          save(figure, path)))
    text = write_report(run, tmp_path / "report", n_boot=50).read_text()
    assert report_module.md_text(odd_id) in text and "$x^2$" not in text  # no math in a viewer either
    captions = [t for t in _texts(drawn["misclassified.png"]) if "$" in t.get_text()]
    shorten = report_module._shorten  # captions keep the last 25 characters of a long id or note
    assert sorted(t.get_text() for t in captions) == sorted(
        [shorten(odd_id, 26), shorten("label doubtful: costs $5, not $\\alpha$", 26)])
    assert any("$x^2$-$\\bogus$.png" in t.get_text() for t in captions)
    for figure in drawn.values():
        for t in _texts(figure):
            assert not t.get_parse_math() and not t.get_usetex()


def test_thumbnail_captions_and_missing_images():
    cases = [{"kind": "FN", "probability": 0.123, "id": "a/$x^2$.png", "verdict": "agree", "note": ""},
             {"kind": "FP", "probability": 0.9, "id": "b.png"}]
    figure = draw_thumbnails(cases, [np.zeros((600, 500), np.uint8), None])
    texts = [t.get_text() for t in _texts(figure)]
    assert texts.count("a/$x^2$.png") == 1 and "FN  p=0.123" in texts and "agree" in texts
    assert "image unavailable" in texts and "FP  p=0.900" in texts
    assert _pixels(figure).shape[1] > 4 * 160


def test_matplotlib_is_imported_lazily_and_never_pyplot(tmp_path):
    run = write_run(tmp_path / "run-a")
    code = ("import sys; from training.evaluation.report import write_report; "
            "print('matplotlib' in sys.modules); "
            f"write_report({str(run)!r}, {str(tmp_path / 'out')!r}, n_boot=20); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


HOSTILE_NOTES = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[open](javascript:alert(1))",
                 "<javascript:alert(1)>", "**bold** `code` $x^2$", "=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3",
                 "@SUM(A1)"]


def test_the_report_escapes_html_and_links_in_everything_taken_from_disk(tmp_path):
    # Notes were copied into report.md with only | escaped, so <script>, <img onerror=...> and javascript: links
    # landed in a file that clinicians open in a viewer.
    run = write_run(tmp_path / "run-<b>x</b>")
    for case, note in zip(review_cases(run), HOSTILE_NOTES, strict=False):
        ReviewNotes(run).set(case["id"], "unsure", note)
    text = write_report(run, tmp_path / "report", n_boot=100).read_text()
    for raw in ("<script", "<img", "](javascript", "<javascript", "javascript:", "<b>", "**bold**", "`code`"):
        assert raw not in text, raw
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text  # shown as the characters they are


def test_the_csv_export_neutralises_formulas(tmp_path):
    # Notes beginning with = + - @ were written as they are: =HYPERLINK(...) opens as a formula in a spreadsheet.
    run = write_run(tmp_path / "run")
    cases = review_cases(run)
    notes = ReviewNotes(run)
    for case, note in zip(cases, HOSTILE_NOTES, strict=False):
        notes.set(case["id"], "unsure", note)
    out = tmp_path / "notes.csv"
    notes.export_csv(out, cases)
    exported = {r["id"]: r for r in csv.DictReader(out.open())}
    for case, note in zip(cases, HOSTILE_NOTES, strict=False):
        cell = exported[case["id"]]["note"]
        assert cell == ("'" + note if note[0] in "=+-@" else note)
        assert float(exported[case["id"]]["probability"]) == case["probability"]  # numbers stay numbers


def test_the_report_says_what_the_operating_point_stands_on(tmp_path):
    small = write_report(write_run(tmp_path / "small", n_val=10), tmp_path / "r1", n_boot=50).read_text()
    assert "stands on 10 validation images" in small and "(Wilson)" in small and "**Warning:**" in small
    big = write_report(write_run(tmp_path / "big", n_val=400), tmp_path / "r2", n_boot=50).read_text()
    assert "stands on 400 validation images" in big and "Warning" not in big


def test_the_report_shows_the_rules_flat_optimum_and_spread_as_pneumo_threshold_does(tmp_path):
    # The flat optimum and the bootstrap spread of the saved rule were shown by `pneumo threshold` and the
    # Evaluation screen but not in the report (issue 17, item 1).
    run = write_run(tmp_path / "run", n_val=200, separation=4.0)
    result = CliRunner().invoke(app, ["threshold", str(run), "--youden", "--centre"])
    assert result.exit_code == 0, result.output
    text = write_report(run, tmp_path / "r", n_boot=50).read_text()
    printed = [line.strip() for line in result.output.splitlines() if "flat optimum" in line or "moves by" in line]
    assert len(printed) == 2
    for line in printed:
        assert f"- On validation, {line}." in text


def test_a_hostile_flat_optimum_in_threshold_json_is_left_out_of_the_report(tmp_path):
    import json

    run = write_run(tmp_path / "run", n_val=100)
    (run / "threshold.json").write_text(json.dumps({"threshold": 0.4, "how": "x", "rule": "youden",
                                                    "flat_rule": "youden", "flat_low": "[b]", "flat_high": 0.9,
                                                    "flat_centre": 0.5, "flat_width_logits": 1.0,
                                                    "flat_tolerance": 0.01, "spread_logits": 0.2}))
    text = write_report(run, tmp_path / "r", n_boot=50).read_text()
    assert "threshold **0.400**" in text.replace("probability >= ", "threshold ") and "flat optimum" not in text
