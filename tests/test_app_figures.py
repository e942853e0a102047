"""Every figure, state and count the app shows is true, and the same words as the CLI's (pilot tests).

Tiny generated data only: a .npz of a few 28x28 images, small Kermany-style trees, the recorded runs.
"""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_waits import wait_for_stats
from conftest import make_kermany_tree
from review_fixtures import write_run
from textual.geometry import Region

from pneumo_tui.app import PneumoApp
from pneumo_tui.screens.data import DataView, ProblemList, size_histogram
from pneumo_tui.widgets.folded import FoldedLines, fold_line
from training.data.stats import compute_stats

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"


def _app(**kwargs) -> PneumoApp:
    kwargs.setdefault("runs_dir", FIXTURES)
    kwargs.setdefault("welcome", False)
    kwargs.setdefault("poll_interval", 0)
    kwargs.setdefault("image_protocol", "none")
    return PneumoApp(**kwargs)


def shown_lines(widget) -> list[str]:
    """The lines a widget draws at its size (what is on the screen where it is not clipped)."""
    return [strip.text.rstrip() for strip in widget.render_lines(Region(0, 0, *widget.outer_size))]


def shown_words(widget) -> str:
    """What the widget draws, its wrapped lines joined by single spaces."""
    return " ".join(" ".join(shown_lines(widget)).split())


def fully_visible(app, widget) -> bool:
    """No part of the widget is cut off by the screen's edge or a parent's."""
    geometry = app.screen.find_widget(widget)
    return geometry.clip.contains_region(geometry.region) and app.screen.region.contains_region(geometry.region)


def write_npz(path: Path) -> Path:
    """A PneumoniaMNIST-shaped .npz: 28x28 images per split, labels 0/1; no patient ids, no subtypes."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 16), ("val", 6), ("test", 8)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)
    return path


# ---- Data screen ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_an_npz_says_patients_and_subtypes_cannot_be_known_in_the_words_of_pneumo_stats(tmp_path, size):
    data = write_npz(tmp_path / "tiny.npz")
    words = compute_stats(data)["unavailable"]
    assert words == {"patients": "n/a: this format has no patient ids", "subtypes": "n/a: this format has no subtypes"}
    app = _app(data=data)
    async with app.run_test(size=size) as pilot:
        await wait_for_stats(pilot)
        view = app.query_one(DataView)
        counts, checks = shown_words(view.static("counts")), shown_words(view.static("warnings"))
        assert "patients" not in counts.split("patients:")[0]  # no column of 0 patients per split
        assert f"patients: {words['patients']}" in counts
        assert f"cross-split patients: {words['patients']}" in checks
        assert "ok: no cross-split patients" not in checks  # nothing was checked: it cannot be
        subtypes = shown_words(view.bars("subtypes"))
        assert words["subtypes"] in subtypes and "unknown" not in subtypes
        await pilot.press("w")
        assert isinstance(app.screen, ProblemList)
        assert f"── cross-split patients: {words['patients']}" in app.screen.lines


def test_one_image_size_is_one_bar_and_bins_name_the_sizes_they_hold(kermany_tree):
    stats = compute_stats(kermany_tree)  # every image 48x40
    assert size_histogram(stats) == [("48", 18.0)]
    # 58..71 px in ten bins: each whole width is in one labelled bin, none claimed by two
    edges = [58, 59.3, 60.6, 61.9, 63.2, 64.5, 65.8, 67.1, 68.4, 69.7, 71]
    spread = {"sizes": {"width": {"n": 40, "min": 58, "max": 71, "histogram": {"edges": edges, "counts": [4] * 10}}}}
    labels = [label for label, _ in size_histogram(spread)]
    assert labels == ["58-59", "60", "61", "62-63", "64", "65", "66-67", "68", "69", "70-71"]


async def test_the_width_chart_of_one_size_shows_one_bar(kermany_tree):
    app = _app(data=kermany_tree)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_stats(pilot)
        lines = [line for line in shown_lines(app.query_one("#bar-sizes")) if line.strip()]
        assert lines[0].strip() == "Image width (px)" and len(lines) == 2
        assert lines[1].split()[0] == "48" and lines[1].split()[-1] == "18"
        assert "48-48" not in " ".join(lines)


async def test_the_data_screen_takes_the_focus_after_each_open(tmp_path):
    from training.data.demo import write_demo

    a = write_demo(tmp_path / "a", per_class=4, size=32, seed=1)
    b = write_demo(tmp_path / "b", per_class=4, size=32, seed=2)
    app = _app(data=a)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_stats(pilot)
        view = app.query_one(DataView)
        for path in (b, a, b):
            await pilot.press("o", "enter")
            app.screen.query_one("#welcome-path").value = str(path)
            await pilot.press("enter")
            await wait_for_stats(pilot)
            assert view.data == path
            assert app.focused is view.body, f"focus lost after opening {path.name}"
            assert "w Problems" in str(app.query_one("#keybar").render())


@pytest.fixture
def tree_with_problems(tmp_path):
    """A tree with a patient in two splits, duplicates under long names, and an unreadable file."""
    data = make_kermany_tree(tmp_path / "data")
    shutil.copy(data / "train/PNEUMONIA/person1_bacteria_1.jpeg", data / "test/PNEUMONIA/person1_bacteria_99.jpeg")
    long_name = "NORMAL2-IM-0001-0001-copied-from-the-train-split.jpeg"
    shutil.copy(data / "train/NORMAL/IM-0001-0001.jpeg", data / "test/NORMAL" / long_name)
    (data / "train/NORMAL/broken-IM-0099-0001.jpeg").write_bytes(b"not a jpeg")
    return data, long_name


async def test_problems_are_listed_in_words_with_whole_names_and_q_quits(tree_with_problems):
    data, long_name = tree_with_problems
    app = _app(data=data)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_stats(pilot)
        checks = app.query_one(DataView).static("warnings")
        assert fully_visible(app, checks)  # the checks wrap beside the counts instead of being cut at 80 columns
        assert "! 1 cross-split patients ! 2 duplicates ! 1 unreadable files" in shown_words(checks)
        await pilot.press("w")
        assert isinstance(app.screen, ProblemList)
        lines = app.screen.lines
        assert "  person1: test 1, train 2" in lines  # not splits={'test': 1, 'train': 2}
        assert not any("{" in line or "=" in line for line in lines)
        assert "  train/NORMAL/broken-IM-0099-0001.jpeg: not an image (unrecognised format)" in lines
        assert f"    test/NORMAL/{long_name}" in lines
        drawn = shown_lines(app.screen.query_one(FoldedLines))
        assert any(line.strip() == long_name for line in drawn)  # folded at the "/", the name whole
        assert all(len(line) <= app.screen.query_one(FoldedLines).size.width for line in drawn)
        await pilot.press("q")  # quits, as everywhere (the footer says q Quit)
        await pilot.pause()
    assert app.return_code == 0


def test_lines_fold_at_separators_and_spaces_only():
    line = "    test/NORMAL/NORMAL2-IM-0001-0001-long.jpeg: not an image"
    assert fold_line(line, 80) == [line]
    assert fold_line(line, 30) == ["    test/NORMAL/", "      NORMAL2-IM-0001-0001-long.jpeg:", "      not an image"]
    assert fold_line("abcdefghij", 4) == ["abcdefghij"]  # a name longer than the width stays whole


# ---- Train screen ---------------------------------------------------------------------------------


def keybar(app) -> str:
    return str(app.query_one("#keybar").render())


def message(app) -> str:
    return str(app.query_one("#train-message").render()).strip()


def write_events(run: Path, events: list[dict], synthetic: bool = True) -> Path:
    """A run folder of hand-written events (no writer holds its lock)."""
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps({
        "run_id": run.name, "model": "cnn3", "recipe": {"epochs": 1},
        "data": {"path": "chest_xray/train", "synthetic": synthetic, "n_train": 8, "n_val": 2}}))
    with open(run / "events.jsonl", "a") as f:
        f.writelines(json.dumps(e) + "\n" for e in events)
    return run


def short_run(t0: float = 100.0) -> list[dict]:
    """A whole run in 0.4 s: started, two steps, an epoch, finished."""
    return [{"event": "run_started", "time": t0, "run_id": "r", "model": "cnn3", "epochs": 1, "steps_per_epoch": 2},
            {"event": "step", "time": t0 + 0.1, "epoch": 1, "step": 1, "global_step": 1, "loss": 0.7, "lr": 1e-3},
            {"event": "step", "time": t0 + 0.2, "epoch": 1, "step": 2, "global_step": 2, "loss": 0.6, "lr": 1e-3},
            {"event": "epoch", "time": t0 + 0.3, "epoch": 1, "train_loss": 0.6, "val_loss": 0.7, "val_auc": 0.8},
            {"event": "run_finished", "time": t0 + 0.4, "reason": "completed", "best_epoch": 1}]


async def test_s_starts_from_a_number_box_whose_enter_keeps_and_esc_puts_back(tmp_path):
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        train = app.train_view
        epochs = train.field("epochs")
        before = epochs.value
        await pilot.press("tab")
        assert app.focused is epochs
        assert "s Start" in keybar(app) and "Keep" in keybar(app) and "Undo" in keybar(app)  # not a blank footer
        await pilot.press("end", "5", "s")  # a digit goes in the box; s is the screen's Start
        assert epochs.value == before + "5"
        assert message(app).startswith("Cannot start: no dataset")
        await pilot.press("escape")  # puts back the value it had and leaves the box
        assert epochs.value == before and app.focused is train.recipe
        await pilot.press("tab", "end", "7", "enter")  # Enter keeps it and leaves
        assert epochs.value == before + "7" and app.focused is train.recipe
        for _ in range(8):  # Tab walks the form and the chart, never onto the tab bar that held the keys away
            await pilot.press("tab")
            assert app.focused is not None and train in app.focused.ancestors
            assert "s Start" in keybar(app)


async def test_a_focused_chart_leaves_start_and_help_on_the_footer_at_80x24():
    app = _app(attach=FIXTURES / "20260101-000000-cnn3")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        chart = next(c for c in app.train_view.deck.visible_charts())
        chart.plot.focus()
        await pilot.pause()
        keys = keybar(app)
        assert keys.startswith("s Start") and keys.rstrip().endswith("? Help  q Quit")
        assert "Zoom" not in keys and "Pan" not in keys  # a chart's keys are in ?
        await pilot.press("question_mark")
        assert "zoom in, out" in " ".join(shown_words(w) for w in app.screen.query("Static"))


async def test_a_message_goes_when_the_state_it_described_changes(tmp_path):
    live = write_events(tmp_path / "runs" / "20260101-050000-live", short_run()[:3])  # stale: no writer
    app = _app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "s")
        assert message(app).startswith("Cannot start: no dataset")
        app._data_chosen(tmp_path)  # a dataset was opened
        await pilot.pause()
        assert message(app) == ""

        app.attach(FIXTURES / "20260101-000000-cnn3")
        await pilot.pause()
        await pilot.press("x")
        assert message(app) == "Cannot stop: the run is not running"
        app.attach(FIXTURES / "20260101-010000-mlp")  # another run: what was said of the first goes
        await pilot.pause()
        assert message(app) == ""

        class Killed:  # a trainer started here, killed meanwhile
            run_dir, pid = None, 4242

            def exited(self):
                return -9

            def log_tail(self, lines=1):
                return "Killed"

        app.train_view.launched = Killed()
        app.train_view.refresh_runs()
        assert message(app) == "pneumo train exited (-9): Killed"
        app.attach(live)
        await pilot.pause()
        assert message(app) == "" and app.train_view.launched is None

        await pilot.press("x")
        assert message(app) == "Cannot stop: the run is not running"
        write_events(live, short_run()[3:])  # the run ends: its status changes, and the message with it
        app.train_view.refresh_runs()
        await pilot.pause()
        assert message(app) == "20260101-050000-live finished (completed)."


async def test_elapsed_is_the_runs_time_from_its_events_and_synthetic_is_said(tmp_path):
    quick = write_events(tmp_path / "runs" / "20260101-060000-quick", short_run(), synthetic=False)
    app = _app(runs_dir=tmp_path / "runs", attach=quick)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        panel = [line.replace("▕", "").split() for line in shown_lines(app.query_one("#progress"))]
        assert ["elapsed", "0.4", "s"] in panel  # not 0:00 for a 0.4 s run
        assert ["data", "chest_xray/train"] in panel
        assert "SYNTHETIC" not in str(panel)
        app.attach(FIXTURES / "20260101-000000-cnn3")  # 61 s from run_started to run_finished, synthetic data
        await pilot.pause()
        panel = [line.replace("▕", "").split() for line in shown_lines(app.query_one("#progress"))]
        assert ["elapsed", "1:01"] in panel
        assert ["data", "pneumo-demo-data"] in panel and ["SYNTHETIC:", "not", "X-rays"] in panel


# ---- Review and Evaluation screens ----------------------------------------------------------------


def kermany_names(run: Path) -> Path:
    """Give a hand-written run Kermany's file names, which differ only at the end (...-0041-0001, ...-0046-0001)."""
    path = run / "predictions.csv"
    rows = list(csv.DictReader(path.open()))
    for i, row in enumerate(rows):
        cls = "PNEUMONIA" if row["label"] == "1" else "NORMAL"
        name = f"NORMAL2-IM-{i:04d}-0001.jpeg" if cls == "NORMAL" else f"person{1000 + i}_bacteria_{2900 + i}.jpeg"
        row["id"] = f"{row['split']}/{cls}/{name}"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return run


def not_synthetic(run: Path) -> Path:
    config = json.loads((run / "config.json").read_text())
    config["data"]["synthetic"] = False
    (run / "config.json").write_text(json.dumps(config))
    return run


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_review_keeps_verdicts_and_names_whole_and_its_keys_on_the_bar(tmp_path, size):
    from pneumo_tui.screens.review import ReviewView

    run = kermany_names(write_run(tmp_path / "runs" / "20260101-000000-cnn3", n_val=10, n_test=40))
    app = _app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=size) as pilot:
        app.review(run)
        await pilot.pause()
        view = app.query_one(ReviewView)
        await pilot.press("d", "down", "m", "down", "n", *"rib shadow", "enter")
        await pilot.pause()
        table = view.cases
        drawn = "\n".join(shown_lines(table))
        names = [Path(c["id"]).stem for c in view.shown]  # NORMAL2-IM-0041-0001, person1051_bacteria_2951, ...
        assert len(set(names)) == len(names) and all(name in drawn for name in names)  # each whole, told apart
        assert "label doubtful" in drawn and "model wrong" in drawn  # not "verdi"
        assert fully_visible(app, view.text("title")) and "SYNTHETIC data: drawn shapes, not radiographs" in \
            shown_words(view.text("title"))
        case = shown_words(view.text("case"))
        assert view.selected["id"] in case.replace("/ ", "/")  # the full id beside the X-ray, folded at a "/"
        keys = keybar(app)
        for shown in ("m d u a Verdict", "n Note", "g Grad-CAM", "e Evaluate", "? Help  q Quit"):
            assert shown in keys, keys
        if size[0] >= 120:
            assert "k s p c t Filter" in keys


async def test_review_and_evaluation_of_a_real_data_run_carry_no_synthetic_mark(tmp_path):
    from pneumo_tui.screens.evaluation import EvaluationView
    from pneumo_tui.screens.review import ReviewView

    run = not_synthetic(write_run(tmp_path / "runs" / "20260101-000000-real", n_val=10, n_test=20))
    app = _app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        app.review(run)
        await pilot.pause()
        assert "SYNTHETIC" not in shown_words(app.query_one(ReviewView).text("title"))
        await pilot.press("e")
        await pilot.pause()
        assert "SYNTHETIC" not in shown_words(app.screen.query_one(EvaluationView).text("title"))


async def test_evaluation_says_what_the_operating_point_stands_on_in_the_words_of_pneumo_threshold(tmp_path):
    from typer.testing import CliRunner

    from pneumo_tui.cli import app as cli
    from pneumo_tui.screens.evaluation import EvaluationView

    run = write_run(tmp_path / "runs" / "20260101-000000-cnn3", n_val=10, n_test=20)
    app = _app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        app.review(run)
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        view = app.screen.query_one(EvaluationView)
        title = shown_words(view.text("title"))
        assert "SYNTHETIC data: drawn shapes, not radiographs" in title
        await pilot.press("y")  # Youden on the 10 validation images
        threshold = view.threshold
        support = shown_words(view.text("support"))
    printed = CliRunner().invoke(cli, ["threshold", str(run), "--youden"]).stdout.splitlines()
    assert printed[0].startswith(f"saved threshold {threshold:.4f}")
    stands_on = next(line for line in printed if line.startswith("on ")).rsplit(" (95% Wilson), ", 1)[0]
    warning = next(line for line in printed if line.startswith("warning: "))
    assert stands_on.startswith("on 10 validation images (")
    assert f"Operating point {stands_on} (95% Wilson) {warning}" == support  # the same words, wrapped


async def test_evaluation_on_enough_validation_images_warns_of_nothing(tmp_path):
    from pneumo_tui.screens.evaluation import EvaluationScreen, EvaluationView

    run = write_run(tmp_path / "run", n_val=300, n_test=20, images=False)
    app = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(EvaluationScreen(run))
        await pilot.pause()
        support = shown_words(app.screen.query_one(EvaluationView).text("support"))
        assert support.startswith("Operating point on 300 validation images (") and "warning" not in support


async def test_a_target_that_is_no_sensitivity_is_refused_in_words(tmp_path):
    from pneumo_tui.screens.evaluation import EvaluationScreen, EvaluationView

    run = write_run(tmp_path / "run", n_val=20, n_test=20, images=False)
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(EvaluationScreen(run))
        await pilot.pause()
        view = app.screen.query_one(EvaluationView)
        before = view.threshold
        await pilot.press("x", *"abc", "enter")
        error = view.text("target-error")
        assert shown_words(error) == "abc is not a number: give a sensitivity between 0 and 1, e.g. 0.95"
        assert fully_visible(app, error) and view.threshold == before and view.target_sensitivity == 0.95
        await pilot.press(*["backspace"] * 3, *"95", "enter")
        assert shown_words(error) == "95 is not between 0 and 1: give a sensitivity such as 0.95 (0.95 for 95%)"
        await pilot.press("escape")  # leaves the box, not the screen
        assert isinstance(app.screen, EvaluationScreen) and app.focused is view and shown_words(error) == ""
        await pilot.press("x", *"0.9", "enter")
        assert view.target_sensitivity == 0.9 and view.how == "sensitivity>=0.9 on val"
