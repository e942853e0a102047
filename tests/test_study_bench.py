"""pneumo study and pneumo bench on a tiny generated set."""

import json

from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.data.arrays import DataSpec
from training.data.demo import write_demo
from training.experiments.bench import bench_models, bench_pipeline
from training.experiments.study import PUBLISHED, run_study

runner = CliRunner()
TINY = ["image_size=32", "epochs=1", "batch_size=16"]


def test_study_trains_each_model_and_reports_its_single_test_evaluation(tmp_path):
    data = write_demo(tmp_path / "demo", per_class=16, size=48)
    result = run_study(DataSpec(data), tmp_path / "runs", models=["baseline", "cnn3"], overrides=TINY)

    assert [r.model for r in result.rows] == ["baseline", "cnn3"]
    for row in result.rows:
        assert 0.0 <= row.test["accuracy"] <= 1.0
        assert row.test["n"] == result.trivial["n"]
        assert row.published == PUBLISHED[row.model]
    # all-PNEUMONIA scores the test split's pneumonia share
    (saved,) = (tmp_path / "runs").glob("study-*.json")
    labels = [r["label"] for r in _test_rows(result.rows[0].run_dir)]
    assert result.trivial["accuracy"] == sum(labels) / len(labels)
    assert json.loads(saved.read_text())["trivial"] == result.trivial


def _test_rows(run_dir):
    from training.run.predictions import read_predictions

    return [r for r in read_predictions(run_dir) if r["split"] == "test"]


def test_study_cli_prints_the_table_with_the_published_figures(tmp_path):
    data = write_demo(tmp_path / "demo", per_class=12, size=40)
    args = ["study", "--data", str(data), "--out", str(tmp_path / "runs"), "-m", "cnn1", "--epochs", "1",
            "--image-size", "32", "--set", "batch_size=16"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "cnn1" in result.output and "87.0" in result.output and "all PNEUMONIA" in result.output


def test_bench_measures_every_model_and_every_input(tmp_path):
    data = write_demo(tmp_path / "demo", per_class=12, size=40)
    results = bench_models(["baseline"], image_size=32, batch_size=8, steps=2, warmup=1)
    assert [(r.mode, r.input) for r in results] == [("train", "random"), ("infer", "random")]
    results = bench_pipeline("cnn3", data, image_size=32, batch_size=8, steps=2, warmup=1, workers=0)
    assert [r.input for r in results] == ["random", "cache", "decode"]
    assert all(r.images_per_s > 0 and r.parameters > 0 for r in results)


def test_bench_cli_json(tmp_path):
    result = runner.invoke(app, ["bench", "-m", "baseline", "--image-size", "32", "--steps", "1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["mode"] for r in rows} == {"train", "infer"} and rows[0]["model"] == "baseline"


def test_study_asks_the_subtype_question_beside_kermany(tmp_path):
    from training.experiments.study import REFERENCES
    from training.run.store import run_task

    data = write_demo(tmp_path / "demo", per_class=16, size=48)
    result = run_study(DataSpec(data), tmp_path / "runs", models=["cnn1", "best_subtype"], overrides=TINY,
                       task="subtype")

    assert [r.model for r in result.rows] == ["cnn1", "best_subtype"]
    assert all(run_task(r.run_dir).name == "subtype" for r in result.rows)
    assert all(r.published == {} for r in result.rows)  # the Keras study never asked this question
    assert result.reference == REFERENCES["subtype"] and result.reference["auc"] == 0.940
    # all-BACTERIAL scores the test split's bacterial share among its pneumonia images
    rows = _test_rows(result.rows[0].run_dir)
    assert {r["subtype"] for r in rows} <= {"bacteria", "virus"}
    assert result.trivial["accuracy"] == sum(r["subtype"] == "bacteria" for r in rows) / len(rows)


def test_study_cli_subtype_prints_kermanys_row_and_the_task_classes(tmp_path):
    data = write_demo(tmp_path / "demo", per_class=12, size=40)
    args = ["study", "--data", str(data), "--out", str(tmp_path / "runs"), "-m", "cnn1", "--epochs", "1",
            "--image-size", "32", "--set", "batch_size=16", "--task", "subtype"]
    result = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "VIRAL vs BACTERIAL" in out and "Kermany 2018" in out and "90.7" in out and "0.940" in out
    assert "all BACTERIAL" in out and "PNEUMONIA %" not in out and "all PNEUMONIA" not in out
    assert "87.0" not in out  # the Keras study's cnn1 figure is for the other question


def test_study_refuses_an_unknown_task_before_training(tmp_path):
    data = write_demo(tmp_path / "demo", per_class=4, size=32)
    result = runner.invoke(app, ["study", "--data", str(data), "--out", str(tmp_path / "runs"), "--task", "viral"])
    assert result.exit_code != 0
    assert "unknown task 'viral'" in result.output and not (tmp_path / "runs").exists()
