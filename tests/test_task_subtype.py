"""The subtype task (issue 15): VIRAL vs BACTERIAL among the PNEUMONIA images, labelled from file names."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.core.tasks import PNEUMONIA, SUBTYPE, UnknownTask, task_named, task_of_config
from training.data.records import Record
from training.data.tasks import select_for_task
from training.run.paths import RunPaths
from training.run.predictions import read_predictions

runner = CliRunner()


def _records():
    return [Record("a", "train", 0), Record("b", "train", 1, subtype="bacteria"),
            Record("c", "train", 1, subtype="virus"), Record("d", "train", 1)]


def test_the_pneumonia_task_keeps_every_image_as_it_is():
    selection = select_for_task(_records(), PNEUMONIA)
    assert selection.records == _records() and selection.left_out == [] and selection.report(PNEUMONIA) is None


def test_the_subtype_task_takes_pneumonia_images_labelled_bacterial_1_and_viral_0_and_reports_the_rest():
    selection = select_for_task(_records(), SUBTYPE)
    assert [(r.id, r.label) for r in selection.records] == [("b", 1), ("c", 0)]
    assert [r.id for r in selection.left_out] == ["d"] and selection.not_asked == 1
    line = selection.report(SUBTYPE)
    assert line.startswith("1 PNEUMONIA images left out of the subtype task") and "(d)" in line
    assert SUBTYPE.class_name(1) == "BACTERIAL" and SUBTYPE.class_name(0) == "VIRAL"


def test_tasks_are_read_from_a_config_and_an_unknown_one_is_refused_where_it_is_given():
    assert task_of_config({"recipe": {"task": "subtype"}}) is SUBTYPE
    assert task_of_config({}) is PNEUMONIA and task_of_config({"recipe": {"task": ["x"]}}) is PNEUMONIA
    with pytest.raises(UnknownTask, match="one of: pneumonia, subtype"):
        task_named("viral")
    result = runner.invoke(app, ["train", "cnn3", "--data", ".", "--set", "task=viral"])
    assert result.exit_code == 1 and "task" in result.output and "Traceback" not in result.output


def test_a_subtype_run_on_the_demo_set_trains_evaluates_and_reports_what_it_left_out(demo_root, tmp_path):
    # One PNEUMONIA film whose name says no subtype: left out with one reported line, never guessed.
    pneumonia = sorted((demo_root / "train" / "PNEUMONIA").iterdir())[0]
    pneumonia.rename(pneumonia.with_name("IM-9999-0001.jpeg"))
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--epochs", "1", "--image-size", "32",
                                 "--set", "batch_size=8", "--set", "task=subtype", "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    assert "task subtype: VIRAL vs BACTERIAL pneumonia" in result.stderr
    assert "1 PNEUMONIA images left out of the subtype task" in result.stderr and "IM-9999-0001.jpeg" in result.stderr
    (run,) = list(runs.iterdir())
    config = json.loads(RunPaths(run).config.read_text())
    assert config["recipe"]["task"] == "subtype" and config["data"]["task"] == "subtype"
    assert config["data"]["left_out"] == 1
    rows = read_predictions(run)
    assert rows and all("PNEUMONIA" in r["id"] for r in rows)  # NORMAL films take no part
    assert {r["label"] for r in rows if "_bacteria_" in r["id"]} == {1}
    assert {r["label"] for r in rows if "_virus_" in r["id"]} == {0}
    evaluated = runner.invoke(app, ["eval", str(run), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["n"] == sum(r["split"] == "test" for r in rows)


def test_a_pneumonia_task_run_is_unchanged(demo_root, tmp_path):
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--epochs", "1", "--image-size", "32",
                                 "--set", "batch_size=8", "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    assert "task " not in result.stderr and "left out" not in result.stderr
    (run,) = list(runs.iterdir())
    config = json.loads(RunPaths(run).config.read_text())
    assert config["recipe"]["task"] == "pneumonia" and config["data"]["left_out"] == 0
    rows = read_predictions(run)
    assert {r["label"] for r in rows if "/NORMAL/" in r["id"]} == {0}
    assert {r["label"] for r in rows if "/PNEUMONIA/" in r["id"]} == {1}


def test_every_output_of_a_subtype_run_names_its_classes_not_normal_and_pneumonia(demo_root, tmp_path):
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--epochs", "1", "--image-size", "32",
                                 "--set", "batch_size=8", "--set", "task=subtype", "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    (run,) = list(runs.iterdir())
    evaluated = runner.invoke(app, ["eval", str(run)]).stdout
    assert "task subtype: VIRAL vs BACTERIAL pneumonia" in evaluated and "predicted BACTERIAL" in evaluated
    assert json.loads(runner.invoke(app, ["eval", str(run), "--json"]).stdout)["task"] == "subtype"
    threshold = runner.invoke(app, ["threshold", str(run), "--youden"]).stdout
    assert "VIRAL" in threshold and "BACTERIAL" in threshold
    reviewed = runner.invoke(app, ["review", str(run)]).stdout
    assert "missed bacterial" in reviewed
    listed = json.loads(runner.invoke(app, ["runs", "--runs", str(runs), "--json"]).stdout)
    assert listed[0]["task"] == "subtype"
    assert "subtype: cnn3" in runner.invoke(app, ["runs", "--runs", str(runs)], env={"COLUMNS": "200"}).stdout
    from training.evaluation.report import write_report

    report = write_report(run, tmp_path / "report", n_boot=20).read_text()
    assert "Task: **VIRAL vs BACTERIAL pneumonia**" in report and "BACTERIAL is the positive class" in report
    for words in (evaluated, threshold, reviewed, report):
        assert "NORMAL" not in words and "PNEUMONIA images" not in words.replace("PNEUMONIA images whose", "")


async def test_the_evaluation_and_review_screens_name_the_subtype_classes(tmp_path):
    from app_waits import wait_for_runs
    from review_fixtures import write_run
    from test_app_screens import screen_text

    from pneumo_tui.app import PneumoApp
    from pneumo_tui.messages import OpenEvaluation, ReviewRun

    run = write_run(tmp_path / "runs" / "sub")
    config = json.loads(RunPaths(run).config.read_text())
    config["recipe"]["task"] = "subtype"
    RunPaths(run).config.write_text(json.dumps(config))
    app = PneumoApp(runs_dir=tmp_path / "runs", welcome=False, poll_interval=0, image_protocol="none")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("3")
        await wait_for_runs(pilot)
        app.post_message(ReviewRun(run))
        await pilot.pause()
        await pilot.pause()
        shown = screen_text(app)
        assert "true BACTERIAL" in shown or "true VIRAL" in shown
        app.post_message(OpenEvaluation(run))
        await pilot.pause()
        shown = screen_text(app)
        assert "task subtype: VIRAL vs BACTERIAL pneumonia" in shown and "true VIRAL" in shown
        assert "NORMAL" not in shown


def test_a_source_without_subtypes_refuses_the_subtype_task_in_one_line_that_says_why(tmp_path):
    from engine_helpers import write_tiny_npz

    data = write_tiny_npz(tmp_path / "mnist.npz", {"train": 12, "val": 4, "test": 4})
    result = runner.invoke(app, ["train", "cnn3", "--data", str(data), "--epochs", "1", "--image-size", "28",
                                 "--set", "task=subtype", "--runs", str(tmp_path / "runs")])
    assert result.exit_code != 0
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert "training needs images of both classes" in line and "VIRAL and BACTERIAL for the subtype task" in line
    assert "PNEUMONIA images left out of the subtype task" in line and not (tmp_path / "runs").exists()
