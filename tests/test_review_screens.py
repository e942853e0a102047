"""Review and Evaluation screens, driven by Pilot in a tiny host app (no dependency on app.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from review_fixtures import write_run
from textual.app import App
from textual.widgets import DataTable, Static

from pneumo_tui.screens.evaluation import EvaluationScreen, EvaluationView
from pneumo_tui.screens.review import CAVEAT, ReviewScreen, ReviewView
from pneumo_tui.widgets.xray import XRayView, get_image_protocol, set_image_protocol
from training.engine.checkpoint import save_checkpoint
from training.evaluation.review_cases import review_cases
from training.metrics.binary import binary_metrics
from training.metrics.thresholds import threshold_for_sensitivity, youden
from training.models import build_model
from training.run.operating_point import load_threshold
from training.run.review_notes import ReviewNotes

SIZE = (130, 42)


class Host(App):
    """Pushes one screen, as the real app does."""

    def __init__(self, make_screen):
        super().__init__()
        self.make_screen = make_screen

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


@pytest.fixture
def run(tmp_path, monkeypatch):
    from textual_image._terminal import CellSize, get_cell_size

    # textual-image sizes pictures by the terminal's cell size, queried once when run from a real terminal:
    # pin the default (10x20 px) so the snapshots are the same in a terminal, under CI and in tmux
    monkeypatch.setattr(get_cell_size, "_result", CellSize(10, 20), raising=False)
    before = get_image_protocol()
    set_image_protocol("halfcell")  # deterministic in any terminal, and what the snapshots show
    yield write_run(tmp_path / "run-a")
    set_image_protocol(before)


def with_checkpoint(run_dir: Path) -> Path:
    """Give the hand-written run a real zoo model (random weights) so Grad-CAM has something to explain."""
    torch.manual_seed(0)
    model = build_model("cnn1", 32)
    save_checkpoint(run_dir / "checkpoints" / "best.pt", {"model": model.state_dict(), "model_name": "cnn1"})
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "model": "cnn1"}))
    return run_dir


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_review_lists_errors_filters_and_saves_notes(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query_one(ReviewView)
        table = app.screen.query_one(DataTable)
        errors = review_cases(run)
        assert table.row_count == len(errors) and [c["id"] for c in view.shown] == [c["id"] for c in errors]
        first = view.selected["id"]
        assert app.screen.query_one(XRayView).pixels is not None

        await pilot.press("m")
        assert ReviewNotes(run).get(first).verdict == "model wrong"
        await pilot.press("n", *"rib shadow", "enter")
        assert ReviewNotes(run).get(first).text == "rib shadow"
        cells = [str(cell) for cell in table.get_row(first)]
        assert "rib shadow" in cells and "model wrong" in cells
        await pilot.press("n", *" and more", "escape")  # Esc cancels the edit, and stays on the screen
        assert ReviewNotes(run).get(first).text == "rib shadow" and isinstance(app.screen, ReviewScreen)
        assert app.focused is table
        await pilot.press("down", "d")
        second = view.shown[1]["id"]
        assert ReviewNotes(run).get(second).verdict == "label doubtful"

        await pilot.press("k")  # FN only
        assert view.shown and all(c["kind"] == "FN" for c in view.shown)
        await pilot.press("k", "c")  # FP + correct negatives
        assert {c["kind"] for c in view.shown} == {"FP", "TN"}
        await pilot.press("k", "c", "t")  # back to all errors, least confident first
        confidences = [abs(c["probability"] - 0.5) for c in view.shown]  # threshold 0.5 here
        assert confidences == sorted(confidences) and len(view.shown) == len(errors)
        await pilot.press("p")
        patient = view.selected["patient"]
        assert all(c["patient"] == patient for c in view.shown)
        await pilot.press("p", "s")
        assert view.subtype_filter is not None and all((c["subtype"] or "none") == view.subtype_filter
                                                       for c in view.shown)


async def test_review_picture_controls(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        xray = app.screen.query_one(XRayView)
        before = xray.render_pil().tobytes()
        await pilot.press("right_square_bracket", "full_stop")
        assert xray.window < 255 and xray.level < 127.5
        assert xray.render_pil().tobytes() != before
        await pilot.press("plus", "shift+right")
        assert xray.zoom == 1.5 and xray.centre[1] > 0.5
        windowed = np.asarray(xray.render_pil())
        await pilot.press("i")
        assert xray.inverted and "inverted" in xray.describe()
        assert np.array_equal(np.asarray(xray.render_pil()), 255 - windowed)  # still windowed and zoomed
        await pilot.press("i", "0", "r")  # 0 fits (f opens the full-screen film)
        assert (xray.zoom, xray.window, xray.level) == (1.0, 255.0, 127.5)
        assert xray.render_pil().tobytes() == before


async def test_gradcam_overlay_is_computed_in_a_worker_with_the_caveat(run):
    with_checkpoint(run)
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        xray = app.screen.query_one(XRayView)
        await pilot.press("g")
        await settle(pilot)
        status = str(app.screen.query_one("#review-view-status", Static).render())
        assert CAVEAT in status and "saliency is not localisation" in status
        assert xray.has_heatmap and xray.show_overlay
        assert xray.render_pil().mode == "RGB"
        await pilot.press("down", "down", "down")  # moving on quickly: each case gets its own map
        await settle(pilot)
        assert xray.has_heatmap
        from training.engine.checkpoint import load_model_from_run
        from training.evaluation.gradcam import explain_image

        view = app.screen.query_one(ReviewView)
        model, _ = load_model_from_run(run)
        expected = explain_image(model, view.images.load(view.selected), 32).heatmap
        assert np.allclose(xray._heatmap, expected, atol=1e-5)


async def test_gradcam_without_a_checkpoint_says_why(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("g")
        await settle(pilot)
        status = str(app.screen.query_one("#review-view-status", Static).render())
        assert "unavailable" in status and "checkpoint" in status


async def test_evaluation_threshold_explorer_and_presets(run):
    app = Host(lambda: EvaluationScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.screen.query_one(EvaluationView)
        assert view.split == "val" and view.threshold == 0.5
        await pilot.press("right", "right", "down")
        assert view.threshold == pytest.approx(0.519)
        metrics = str(app.screen.query_one("#eval-metrics", Static).render())
        expected = binary_metrics(*view.arrays(), 0.519)
        assert f"sensitivity {expected['sensitivity']:.3f}" in metrics

        await pilot.press("v")  # looking at test does not change where presets come from
        assert view.split == "test"
        await pilot.press("y")
        assert view.threshold == pytest.approx(youden(*view.arrays("val")))
        await pilot.press("x", *"0.9", "enter")
        assert view.threshold == pytest.approx(threshold_for_sensitivity(*view.arrays("val"), 0.9))
        await settle(pilot)
        assert view.cis is not None and view.cis["auc"]["low"] < view.cis["auc"]["value"] < view.cis["auc"]["high"]
        await pilot.press("w")
        assert load_threshold(run) == pytest.approx(view.threshold)
        assert "sensitivity>=0.9 on val" in (run / "threshold.json").read_text()
        await pilot.press("h")
        assert view.threshold == 0.5


async def test_review_opens_evaluation(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query_one(ReviewView)
        errors_at_half = len(view.shown)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EvaluationScreen)
        await pilot.press("x", *"0.99", "enter", "w", "escape")  # a screening threshold, saved
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert view.threshold == load_threshold(run) < 0.5  # the list follows the new threshold
        assert [c["id"] for c in view.shown] == [c["id"] for c in review_cases(run)]
        assert len(view.shown) != errors_at_half


def test_review_snapshot(run, snap_compare):
    assert snap_compare(Host(lambda: ReviewScreen(run)), terminal_size=SIZE, run_before=settle)


def test_evaluation_snapshot(run, snap_compare):
    assert snap_compare(Host(lambda: EvaluationScreen(run)), terminal_size=SIZE, run_before=settle)


async def test_compare_screen_shows_both_tests(tmp_path):
    from pneumo_tui.screens.compare import CompareScreen

    a, b = write_run(tmp_path / "run-a", seed=1), write_run(tmp_path / "run-b", seed=2, separation=0.5)
    app = Host(lambda: CompareScreen(a, b))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = str(app.screen.query_one("#compare-result", Static).render())
        assert "McNemar" in text and "DeLong" in text and "60 test images matched by id" in text
    (b / "predictions.csv").unlink()
    app = Host(lambda: CompareScreen(a, b))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Cannot compare" in str(app.screen.query_one("#compare-result", Static).render())


async def test_review_without_test_rows_uses_validation(tmp_path):
    run = write_run(tmp_path / "run-v", n_test=0)
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query_one(ReviewView)
        assert view.split == "val" and view.shown and all(c["split"] == "val" for c in view.shown)


async def test_image_protocol_none_and_missing_images(run):
    set_image_protocol("none")
    first = review_cases(run)[0]
    Path(first["path"]).unlink()
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        case_text = str(app.screen.query_one("#review-case", Static).render())
        assert "image unavailable" in case_text
        await pilot.press("down")
        placeholder = str(app.screen.query_one(".xray-placeholder", Static).render())
        assert "X-ray 40x48" in placeholder and "images off" in placeholder
    with pytest.raises(ValueError, match="unknown image protocol"):
        set_image_protocol("ascii-art")


def test_window_level_zoom_and_overlay_pixels():
    from pneumo_tui.widgets.xray import apply_window, blend_heatmap, zoom_crop

    ramp = np.arange(256, dtype=np.uint8)[None, :]
    out = apply_window(ramp, level=100, width=50)  # 75..125 -> 0..255
    assert (out[0, 75] == 0 and out[0, 125] == 255 and out[0, 100] in (127, 128)
            and out[0, 0] == 0 and out[0, 255] == 255)
    assert zoom_crop((100, 80), 2.0, (0.5, 0.5)) == (25, 20, 75, 60)
    assert zoom_crop((100, 80), 2.0, (0.0, 1.0)) == (0, 40, 50, 80)  # clamped inside the image
    gray = np.full((4, 4), 128, np.uint8)
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    rgb = blend_heatmap(gray, heat)
    assert int(rgb[0, 0, 0]) > int(rgb[0, 0, 2]) + 40 and int(rgb[0, 0, 0]) > int(rgb[0, 0, 1]) + 40  # hot: red
    assert rgb[3, 3, 2] > rgb[3, 3, 0]  # cold: a light blue tint
