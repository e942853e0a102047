"""Three classes, NORMAL / BACTERIAL / VIRAL, from a pneumonia run and a subtype run of one dataset (issue 15,
item 4): pairing the runs, the prediction rule, the report's section and the Evaluation screen's panel."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pneumo_tui.cli import app as cli
from training.core.errors import PneumoError, one_line
from training.core.tasks import THREE_CLASSES
from training.evaluation import three_class as three_class_module
from training.evaluation.report import md_text
from training.evaluation.three_class import (
    UNKNOWN_SUBTYPE,
    UNREADABLE,
    PartnerError,
    check_partner,
    figure_lines,
    find_partner,
    matrix_lines,
    partner_or_why,
    three_class,
    three_class_splits,
)
from training.run.operating_point import save_threshold
from training.run.predictions import predictions_csv, read_predictions

runner = CliRunner()
DATA = {"path": "/data/chest", "test_path": None, "source": "chest", "val_fraction": 0.1, "split_seed": 0,
        "val_split": "carved", "use_test": True, "synthetic": True}


def write_pair_run(run_dir: Path, task: str, rows: list[dict], threshold: float | None = None, data: dict = DATA,
                   finished: bool = True, **config) -> Path:
    """A run folder by hand: config.json (task, data), events.jsonl, predictions.csv, threshold.json."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"run_id": run_dir.name, "model": "cnn3",
                                                     "recipe": {"task": task, "image_size": 32}, "data": data,
                                                     **config}))
    events = [{"event": "run_started", "time": 0}]
    if finished:
        events.append({"event": "run_finished", "time": 1, "reason": "completed"})
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run_dir / "predictions.csv").write_text(predictions_csv(rows))
    if threshold is not None:
        save_threshold(run_dir, threshold, "by hand")
    return run_dir


def row(split: str, name: str, label: int, p: float, subtype: str = "") -> dict:
    return {"id": f"{split}/{name}", "path": f"/data/chest/{split}/{name}.jpeg", "split": split, "label": label,
            "probability": p, "subtype": subtype, "patient": name}


# The pneumonia run's val: (name, label, subtype, p of PNEUMONIA); its threshold 0.3, the subtype run's 0.7.
PNEUMONIA_VAL = [("n1", 0, "", 0.2), ("n2", 0, "", 0.6), ("n3", 0, "", 0.31), ("n4", 0, "", 0.8),
                 ("b1", 1, "bacteria", 0.9), ("b2", 1, "bacteria", 0.95), ("b3", 1, "bacteria", 0.1),
                 ("v1", 1, "virus", 0.5), ("v2", 1, "virus", 0.3), ("u1", 1, "", 0.9)]
SUBTYPE_VAL = {"b1": 0.8, "b2": 0.69, "b3": 0.99, "v1": 0.2, "v2": 0.7}  # p of BACTERIAL, from its predictions
INFERRED = {"n2": 0.9, "n3": 0.1, "n4": None}  # what the subtype model gives the films it never saw (n4 unreadable)


def hand_pair(folder: Path, test: bool = True) -> tuple[Path, Path]:
    pneumonia_rows = [row("val", n, label, p, sub) for n, label, sub, p in PNEUMONIA_VAL]
    subtype_rows = [row("val", n, 1 if sub == "bacteria" else 0, SUBTYPE_VAL[n], sub)
                    for n, label, sub, _ in PNEUMONIA_VAL if sub]
    if test:
        pneumonia_rows += [row("test", "tn", 0, 0.1), row("test", "tb", 1, 0.9, "bacteria")]
        subtype_rows += [row("test", "tb", 1, 0.9, "bacteria")]
    pneumonia = write_pair_run(folder / "20260101-000000-cnn3", "pneumonia", pneumonia_rows, 0.3)
    subtype = write_pair_run(folder / "20260101-000100-cnn3", "subtype", subtype_rows, 0.7)
    return pneumonia, subtype


class Recorder:
    """A stand-in for the subtype model on image files: INFERRED's probabilities, and which files it was asked."""

    def __init__(self):
        self.asked: list[str] = []

    def __call__(self, paths: list[Path]) -> list[float | None]:
        self.asked += [p.stem for p in paths]
        return [INFERRED[p.stem] for p in paths]


# --- the rule, on hand-written predictions ------------------------------------------------------------------


def test_the_rule_calls_each_image_at_both_saved_thresholds(tmp_path):
    pneumonia, subtype = hand_pair(tmp_path)
    predict = Recorder()
    result = three_class(pneumonia, subtype, "val", predict)
    # NORMAL: n1 below 0.3; n2 called PNEUMONIA, the model says 0.9 >= 0.7: BACTERIAL; n3 0.1: VIRAL; n4 unreadable.
    # BACTERIAL: b1 0.8 BACTERIAL; b2 0.69 < 0.7 VIRAL; b3 0.1 < 0.3 NORMAL. VIRAL: v1 0.2 VIRAL; v2 at both
    # thresholds exactly (0.3, 0.7): PNEUMONIA, then BACTERIAL. u1 has no subtype: left out.
    assert result.classes == THREE_CLASSES == ("NORMAL", "BACTERIAL", "VIRAL")
    assert result.matrix == [[1, 1, 1], [1, 1, 1], [0, 1, 1]]
    assert result.n == 8 and result.left_out == {UNKNOWN_SUBTYPE: 1, UNREADABLE: 1} and result.n_left_out == 2
    assert sorted(predict.asked) == ["n2", "n3", "n4"]  # only NORMAL films called PNEUMONIA need the subtype model
    assert result.inferred == 3 and result.views == 1
    assert result.accuracy == pytest.approx(3 / 8)
    assert result.recall == pytest.approx({"NORMAL": 1 / 3, "BACTERIAL": 1 / 3, "VIRAL": 1 / 2})
    assert result.precision == pytest.approx({"NORMAL": 1 / 2, "BACTERIAL": 1 / 3, "VIRAL": 1 / 3})
    assert result.macro_recall == pytest.approx((1 / 3 + 1 / 3 + 1 / 2) / 3)
    assert (result.pneumonia_threshold, result.subtype_threshold) == (0.3, 0.7)
    assert (result.pneumonia_run, result.subtype_run) == (pneumonia.name, subtype.name)
    assert three_class(subtype, pneumonia, "val", Recorder()).matrix == result.matrix  # either order


def test_the_matrix_is_drawn_in_plain_text_with_its_figures(tmp_path):
    result = three_class(*hand_pair(tmp_path), "val", Recorder())
    lines = matrix_lines(result)
    assert lines[1].split() == ["NORMAL", "BACTERIAL", "VIRAL"]
    assert [line.split()[-3:] for line in lines[2:]] == [["1", "1", "1"], ["1", "1", "1"], ["0", "1", "1"]]
    assert lines[2].split()[:2] == ["true", "NORMAL"]
    figures = "\n".join(figure_lines(result))
    assert "accuracy 0.375 · macro recall 0.389 · 8 images" in figures
    assert "BACTERIAL  recall 0.333  precision 0.333" in figures
    assert f"left out: 1 {UNKNOWN_SUBTYPE}" in figures and "run on 3 image files" in figures


def test_val_and_test_are_worked_out_and_a_split_without_rows_is_none(tmp_path):
    results = three_class_splits(*hand_pair(tmp_path), Recorder())
    assert results["test"].matrix == [[1, 0, 0], [0, 1, 0], [0, 0, 0]] and results["test"].recall["VIRAL"] is None
    assert results["test"].inferred == 0
    alone = three_class_splits(*hand_pair(tmp_path / "no-test", test=False), Recorder())
    assert alone["test"] is None and alone["val"].n == 8


# --- partners -------------------------------------------------------------------------------------------------


def test_check_partner_orders_a_pair_and_refuses_what_is_no_pair_in_one_line(tmp_path):
    pneumonia, subtype = hand_pair(tmp_path)
    assert check_partner(subtype, pneumonia) == (pneumonia, subtype)
    twin = write_pair_run(tmp_path / "twin", "pneumonia", read_predictions(pneumonia))
    other_data = write_pair_run(tmp_path / "other", "subtype", read_predictions(subtype),
                                data={**DATA, "split_seed": 1})
    fewer = write_pair_run(tmp_path / "fewer", "subtype", read_predictions(subtype)[1:])
    moved = write_pair_run(tmp_path / "moved", "subtype",
                           [{**r, "path": "/elsewhere" + r["path"]} for r in read_predictions(subtype)])
    cases = [(pneumonia, pneumonia, "is the run itself"), (pneumonia, twin, "are both pneumonia runs"),
             (pneumonia, other_data, "were trained on other data (data split_seed: 0 against 1)"),
             (pneumonia, fewer, "do not share their val images: 0 of the subtype run's are none of the pneumonia "
                                "run's PNEUMONIA images of known subtype, 1 of those are missing"),
             (pneumonia, moved, "have another file")]
    for a, b, words in cases:
        with pytest.raises(PartnerError) as caught:
            check_partner(a, b)
        assert isinstance(caught.value, PneumoError) and words in one_line(caught.value)
        assert "\n" not in str(caught.value)


def test_find_partner_takes_the_newest_finished_run_of_the_other_task_on_the_same_images(tmp_path):
    pneumonia, older = hand_pair(tmp_path)
    subtype_rows = read_predictions(older)
    newer = write_pair_run(tmp_path / "20260102-000000-cnn3", "subtype", subtype_rows)
    write_pair_run(tmp_path / "20260103-000000-cnn3", "subtype", subtype_rows, data={**DATA, "source": "other"})
    write_pair_run(tmp_path / "20260104-000000-cnn3", "subtype", subtype_rows, finished=False)  # not finished
    write_pair_run(tmp_path / "20260105-000000-cnn3", "subtype", subtype_rows[1:])  # other images
    write_pair_run(tmp_path / "20260106-000000-cnn3", "subtype", subtype_rows, adapted={"from": "x"})  # for a site
    write_pair_run(tmp_path / "20260107-000000-cnn3", "pneumonia", read_predictions(pneumonia))  # same task
    assert find_partner(pneumonia, tmp_path) == newer
    assert find_partner(newer, tmp_path).name == "20260107-000000-cnn3"  # the newest pneumonia run of the pair
    assert find_partner(older, tmp_path).name == "20260107-000000-cnn3"
    lone = write_pair_run(tmp_path / "lone" / "20260101-000000-cnn3", "pneumonia", read_predictions(pneumonia))
    assert partner_or_why(lone, lone.parent) == (
        None, f"no finished subtype run of the same data with the same val and test images in {lone.parent}")
    found, why = partner_or_why(pneumonia, tmp_path / "nothing-here")
    assert found is None and why.startswith("no finished subtype run")


# --- the report --------------------------------------------------------------------------------------------------


def test_the_three_class_figure_shows_each_count_and_its_share_of_the_row():
    from matplotlib.text import Text

    from training.evaluation.report import draw_confusion_matrix

    figure = draw_confusion_matrix([[6, 2, 0], [1, 3, 0], [0, 1, 1]], THREE_CLASSES, "Three classes (test)")
    texts = [t.get_text() for t in figure.findobj(Text) if t.get_text()]
    assert [t for t in texts if t.isdigit()] == ["6", "2", "0", "1", "3", "0", "0", "1", "1"]  # row by row
    assert texts.count("75% of row") == 2 and texts.count("50% of row") == 2 and texts.count("25% of row") == 2
    assert {"Three classes (test)", "predicted", "true", *THREE_CLASSES} <= set(texts)



def test_the_report_says_in_one_line_why_it_has_no_three_classes(tmp_path):
    pneumonia, subtype = hand_pair(tmp_path / "runs")
    shutil.rmtree(subtype)
    result = runner.invoke(cli, ["report", str(pneumonia), "--out", str(tmp_path / "r"), "--n-boot", "100"])
    assert result.exit_code == 0, result.output
    assert "three classes not shown: no finished subtype run" in result.stderr
    text = (tmp_path / "r" / "report.md").read_text()
    section = text.split("## Three classes: NORMAL / BACTERIAL / VIRAL\n\n", 1)[1].split("\n")[0]
    assert section.startswith("Not shown: no finished subtype run") and "three_class_val.png" not in text


# --- on two runs trained on the demo set ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny pneumonia run and a tiny subtype run of one demo set (1 epoch, 32 px), trained once."""
    from training.data.demo import write_demo

    root = tmp_path_factory.mktemp("three")
    demo = write_demo(root / "demo", per_class=12, size=48, seed=1)
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PNEUMO_CACHE", str(root / "cache"))  # the module's own: the autouse one is per test
        for task in ("pneumonia", "subtype"):
            result = runner.invoke(cli, ["train", "cnn3", "--data", str(demo), "--epochs", "1", "--image-size",
                                         "32", "--set", "batch_size=8", "--set", f"task={task}", "--runs",
                                         str(runs)])
            assert result.exit_code == 0, result.output
    pneumonia, subtype = sorted(runs.iterdir())
    return demo, pneumonia, subtype


def truth_from_the_file(path: str) -> str:
    """NORMAL, BACTERIAL or VIRAL from the image file's folder and name, not from predictions.csv."""
    p = Path(path)
    if p.parent.name == "NORMAL":
        return "NORMAL"
    return "BACTERIAL" if "_bacteria_" in p.name else "VIRAL"


def test_two_runs_of_one_demo_set_are_partners_and_their_matrix_counts_every_image(trained):
    demo, pneumonia, subtype = trained
    assert find_partner(pneumonia, pneumonia.parent) == subtype and find_partner(subtype, subtype.parent) == pneumonia
    results = three_class_splits(pneumonia, subtype)
    for split, result in results.items():
        rows = [r for r in read_predictions(pneumonia) if r["split"] == split]
        assert result.n == len(rows) and result.n_left_out == 0  # every demo PNEUMONIA film names its subtype
        truth = [truth_from_the_file(r["path"]) for r in rows]
        assert [sum(r) for r in result.matrix] == [truth.count(c) for c in THREE_CLASSES]
    test_files = {c: sorted((demo / "test" / c).iterdir()) for c in ("NORMAL", "PNEUMONIA")}
    assert [sum(r) for r in results["test"].matrix] == [
        len(test_files["NORMAL"]), sum("_bacteria_" in f.name for f in test_files["PNEUMONIA"]),
        sum("_virus_" in f.name for f in test_files["PNEUMONIA"])]


def test_normal_films_called_pneumonia_get_the_subtype_models_own_probability(trained, tmp_path):
    from training.evaluation.predict import predict_images

    _, pneumonia, subtype = trained
    pneumonia, subtype = (shutil.copytree(run, tmp_path / run.name) for run in (pneumonia, subtype))
    save_threshold(pneumonia, 0.0, "by hand")  # every film is called PNEUMONIA: each NORMAL one needs the model
    save_threshold(subtype, 0.5, "by hand")
    result = three_class(pneumonia, subtype, "test")
    normals = [r for r in read_predictions(pneumonia) if r["split"] == "test" and r["label"] == 0]
    assert result.inferred == len(normals) > 0 and result.matrix[0][0] == 0
    expected = [p.probability >= 0.5 for p in predict_images(subtype, [Path(r["path"]) for r in normals])]
    assert result.matrix[0][1:] == [sum(expected), len(expected) - sum(expected)]


def test_the_report_of_a_run_with_a_partner_has_the_three_classes_on_val_and_test(trained, tmp_path):
    _, pneumonia, subtype = trained
    out = tmp_path / "r"
    result = runner.invoke(cli, ["report", str(pneumonia), "--out", str(out), "--n-boot", "100"])
    assert result.exit_code == 0, result.output
    assert f"three classes: with {subtype.name}" in result.stderr
    text = (out / "report.md").read_text()
    section = text.split("## Three classes: NORMAL / BACTERIAL / VIRAL\n", 1)[1].split("## Misclassified")[0]
    assert f"**{md_text(pneumonia.name)}**" in section and f"**{md_text(subtype.name)}**" in section
    results = three_class_splits(pneumonia, subtype)
    for split in ("val", "test"):
        assert (out / f"three_class_{split}.png").is_file() and f"(three_class_{split}.png)" in section
        assert f"### {split}: {results[split].n} images" in section
        counts = " | ".join(map(str, results[split].matrix[0]))
        assert f"| NORMAL | {counts} |" in section
    assert "macro recall" in section
    skipped = runner.invoke(cli, ["report", str(subtype), "--out", str(tmp_path / "s"), "--n-boot", "100",
                                  "--no-three-class"])
    assert skipped.exit_code == 0 and "three classes not shown: left out on request" in skipped.stderr
    assert "Not shown: left out on request" in (tmp_path / "s" / "report.md").read_text()
    refused = runner.invoke(cli, ["report", str(pneumonia), "--out", str(tmp_path / "t"), "--partner",
                                  str(pneumonia)])
    assert refused.exit_code == 1 and "error: " in refused.stderr and "is the run itself" in refused.stderr
    assert "Traceback" not in refused.output
    explicit = runner.invoke(cli, ["report", str(subtype), "--out", str(tmp_path / "u"), "--n-boot", "100",
                                   "--partner", str(pneumonia)])
    assert explicit.exit_code == 0, explicit.output
    assert "three_class_test.png" in (tmp_path / "u" / "report.md").read_text()


# --- the Evaluation screen ------------------------------------------------------------------------------------


def _host(run: Path):
    from textual.app import App

    from pneumo_tui.screens.evaluation import EvaluationScreen

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(EvaluationScreen(run))

    return Host()


async def _wait_for_three(pilot, view, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while view.three in (None, "computing"):
        assert time.monotonic() < deadline, "the three classes were never worked out"
        await pilot.pause(0.05)
    await pilot.pause()


async def test_the_evaluation_screen_shows_the_three_classes_worked_out_in_a_worker(tmp_path, monkeypatch):
    from test_app_screens import screen_text

    from pneumo_tui.screens.evaluation import EvaluationView

    # Every NORMAL film below the pneumonia run's threshold: no model needed (these runs have no checkpoint).
    pneumonia_rows = [row("val", "n1", 0, 0.1), row("val", "b1", 1, 0.9, "bacteria"), row("val", "v1", 1, 0.8, "virus"),
                      row("test", "n2", 0, 0.2), row("test", "v2", 1, 0.9, "virus")]
    subtype_rows = [r for r in pneumonia_rows if r["label"] == 1]
    subtype_rows = [{**r, "probability": 0.9 if r["subtype"] == "bacteria" else 0.1} for r in subtype_rows]
    pneumonia = write_pair_run(tmp_path / "runs" / "20260101-000000-cnn3", "pneumonia", pneumonia_rows, 0.5)
    subtype = write_pair_run(tmp_path / "runs" / "20260101-000100-cnn3", "subtype", subtype_rows, 0.5)
    go = threading.Event()
    real = three_class_module.three_class_splits

    calls = []

    def held(*args, **kwargs):
        go.wait(10)
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(three_class_module, "three_class_splits", held)
    app = _host(subtype)  # opened on the subtype run: its partner is the pneumonia run
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(EvaluationView)
        assert "NORMAL" not in screen_text(app)  # a subtype run's screen, until the three classes are asked for
        assert "v val/test  c 3 classes" in screen_text(app) and "c three classes" in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert view.three == "computing" and "computing…" in screen_text(app)
        go.set()
        await _wait_for_three(pilot, view)
        shown = screen_text(app)
        assert f"pneumonia run {pneumonia.name} · subtype run {subtype.name}" in shown
        assert "true NORMAL          1          0          0" in shown
        said = str(view.text("three").render())
        assert "\n\nval\n" in said and "\n\ntest  (test: look, don't tune)\n" in said
        assert view.three["val"].matrix == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        assert view.three["test"].matrix == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]
        await pilot.press("c")  # back to the curves; the result is kept
        assert not view.three_shown and not view.query_one("#eval-plots").has_class("hidden")
        await pilot.press("c")
        assert view.three_shown and isinstance(view.three, dict) and len(calls) == 1
        view.threshold = 0.05  # saved with w: the three classes are at the saved thresholds, so worked out again
        await pilot.press("w")
        await _wait_for_three(pilot, view)
        assert len(calls) == 2 and view.three["val"].subtype_threshold == 0.05
        assert view.three["val"].matrix == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]  # v1's 0.1 is BACTERIAL at 0.05


async def test_the_evaluation_screen_says_why_there_are_no_three_classes_in_one_line(tmp_path):
    from pneumo_tui.screens.evaluation import EvaluationView

    run = write_pair_run(tmp_path / "runs" / "20260101-000000-cnn3", "pneumonia",
                         [row("val", "n1", 0, 0.1), row("val", "b1", 1, 0.9, "bacteria")])
    app = _host(run)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(EvaluationView)
        await pilot.press("c")
        await _wait_for_three(pilot, view)
        said = str(view.text("three").render())
        assert said == ("Three classes, NORMAL / BACTERIAL / VIRAL: no partner: no finished subtype run of the same "
                        f"data with the same val and test images in {run.parent}")
