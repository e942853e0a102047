"""pneumo report: Markdown plus PNG figures drawn with Pillow."""

import numpy as np
from PIL import Image
from review_fixtures import write_run
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.evaluation.report import draw_confusion, draw_curve
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


def test_curve_marks_the_operating_point():
    image = draw_curve([0, 0.2, 1], [0, 0.8, 1], "ROC", "x", "y", point=(0.2, 0.8), size=300)
    pixels = np.asarray(image)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    ys, xs = np.nonzero(red)
    # plot box 60..280 x 40..250: (0.2, 0.8) sits at (104, 82)
    assert abs(xs.mean() - 104) < 3 and abs(ys.mean() - 82) < 3


def test_confusion_figure_is_an_image():
    image = draw_confusion({"tp": 5, "fp": 1, "tn": 7, "fn": 2})
    assert image.size == (420, 420) and len(set(image.getdata())) > 3
