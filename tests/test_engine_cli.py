"""pneumo train / runs / eval / predict / models, in-process through typer's runner."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.evaluation.evaluate import evaluate_run
from training.run.paths import RunPaths

runner = CliRunner()


@pytest.fixture
def trained_run(demo_root, tmp_path):
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--epochs", "1", "--image-size", "32",
                                 "--set", "batch_size=8", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    return tmp_path / "runs", result


def test_train_prints_the_run_folder_and_plain_epoch_lines(trained_run):
    runs, result = trained_run
    (run,) = list(runs.iterdir())
    assert result.stdout.strip().splitlines()[-1] == str(run)
    assert "epoch 1/1  train_loss" in result.stderr  # not a terminal: one plain line per epoch
    assert "[SYNTHETIC data]" in result.stderr


def test_runs_and_eval_json(trained_run):
    runs, _ = trained_run
    listed = json.loads(runner.invoke(app, ["runs", "--runs", str(runs), "--json"]).stdout)
    assert len(listed) == 1 and listed[0]["status"] == "finished" and listed[0]["model"] == "cnn3"
    assert listed[0]["epochs_done"] == 1 and set(listed[0]["test"]) == {"accuracy", "sensitivity", "specificity", "auc"}

    run_id = listed[0]["run_id"]
    result = runner.invoke(app, ["eval", run_id[:15], "--runs", str(runs), "--json", "--threshold", "0.3"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert list(metrics) == ["accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "auc", "confusion",
                             "threshold", "n", "task", "best", "synthetic", "adapted"]
    assert metrics["threshold"] == 0.3 and metrics["n"] == 8
    text = runner.invoke(app, ["eval", run_id, "--runs", str(runs), "--split", "val"]).stdout
    assert "accuracy" in text and "predicted PNEUMONIA" in text


def test_eval_without_predictions_reruns_the_best_checkpoint(trained_run):
    runs, _ = trained_run
    (run,) = list(runs.iterdir())
    stored = evaluate_run(run)
    RunPaths(run).predictions.unlink()
    rerun = evaluate_run(run)
    assert (stored["source"], rerun["source"]) == ("predictions.csv", "best.pt")
    assert rerun["confusion"] == stored["confusion"] and rerun["auc"] == pytest.approx(stored["auc"], abs=1e-6)


def test_predict_labels_each_image_and_reports_unreadable_ones(trained_run, demo_root, tmp_path):
    runs, _ = trained_run
    (run,) = list(runs.iterdir())
    images = sorted((demo_root / "test" / "PNEUMONIA").glob("*.jpeg"))[:2]
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(b"not a jpeg")
    result = runner.invoke(app, ["predict", str(run), *map(str, images), str(broken), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [*map(str, images), str(broken)]
    for row in rows[:2]:
        assert 0 <= row["probability"] <= 1 and row["label"] in ("NORMAL", "PNEUMONIA") and row["error"] is None
    assert rows[2]["probability"] is None and rows[2]["error"]


def test_user_mistakes_are_one_line_errors(demo_root, tmp_path):
    cases = [
        ["train", "cnn3", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "runs")],
        ["train", "cnn3", "--data", str(demo_root), "--set", "epoch=2", "--out", str(tmp_path / "runs")],
        ["train", "nope", "--data", str(demo_root), "--out", str(tmp_path / "runs")],
        ["train", "--resume", "nothing-here", "--out", str(tmp_path)],
        ["eval", "nothing-here", "--runs", str(tmp_path)],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no run folder for a run that cannot start


def test_models_lists_the_zoo_with_parameters():
    rows = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    counts = {r["name"]: r["parameters"] for r in rows}
    assert counts["cnn3"] == 8_768_257 and "resnet_small" in counts
    assert all(r["description"] for r in rows)


def test_models_lists_every_recipe_merged_with_its_base():
    from training.engine.recipes import recipe_names

    rows = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    by_recipe = {r["recipe_name"]: r for r in rows}
    assert set(by_recipe) == set(recipe_names())
    best = by_recipe["best"]
    assert (best["name"], best["extends"], best["parameters"]) == ("resnet_small", "_modern", 1_574_041)
    assert best["recipe"] == "adamw lr 0.002, cosine, 30 ep, 192px"  # optimizer, lr, scheduler merged from _modern
    assert (by_recipe["cnn3"]["recipe"], by_recipe["cnn3"]["extends"]) == ("adam lr 0.001, plateau, 10 ep, 200px",
                                                                           "_study")
    text = runner.invoke(app, ["models"]).stdout
    assert "best" in text and "_modern" in text and "8,768,257" in text


def test_predict_uses_the_runs_test_time_views(demo_root, tmp_path):
    """A run with TTA chose its threshold on averaged views; predict must give the same probabilities."""
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--epochs", "1", "--image-size", "32",
                                 "--set", "batch_size=8", "--set", "tta=3", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (run,) = list((tmp_path / "runs").iterdir())
    rows = [r for r in csv.DictReader(RunPaths(run).predictions.open()) if r["split"] == "test"]
    predicted = runner.invoke(app, ["predict", str(run), *(r["path"] for r in rows), "--json"])
    assert predicted.exit_code == 0, predicted.output
    got = [p["probability"] for p in json.loads(predicted.stdout)]
    assert got == pytest.approx([float(r["probability"]) for r in rows], abs=1e-5)


def test_the_runs_folder_is_runs_everywhere_with_the_old_names_hidden(trained_run, tmp_path):
    runs, _ = trained_run
    (run,) = list(runs.iterdir())
    for command in (["runs"], ["eval", run.name], ["review", run.name], ["threshold", run.name]):
        for name in ("--runs", "--runs-dir"):  # the old spelling still works
            result = runner.invoke(app, [*command, name, str(runs)])
            assert result.exit_code == 0, (command, name, result.output)
    for command in ("train", "runs", "eval", "predict", "review", "compare", "report", "threshold", "study",
                    "repeat", "tui"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        assert "--runs " in text and "--runs-dir" not in text, command
    assert "--out" not in runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    twice = runner.invoke(app, ["runs", "--runs", str(runs), "--runs-dir", str(tmp_path / "other")])
    assert twice.exit_code == 1 and "given twice" in twice.output


def test_runs_are_named_by_recipe_and_show_model_and_dataset_size(tmp_path):
    # A `pneumo train best` run was named ...-resnet_small and listed as model resnet_small, like a resnet_small
    # run; the data column said only real or synth, so a small and a full dataset looked the same.
    from training.data.demo import write_demo

    runs = tmp_path / "runs"
    for per_class in (12, 20):
        data = write_demo(tmp_path / f"demo{per_class}", per_class=per_class, size=48)
        result = runner.invoke(app, ["train", "best", "--data", str(data), "--epochs", "1", "--image-size", "32",
                                     "--set", "batch_size=8", "--set", "tta=1", "--runs", str(runs)])
        assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(app, ["runs", "--runs", str(runs), "--json"]).stdout)
    assert all(Path(r["path"]).name.endswith("-best") or "-best-" in Path(r["path"]).name for r in listed)
    assert {(r["recipe"], r["model"]) for r in listed} == {("best", "resnet_small")}
    sizes = sorted(r["n_images"] for r in listed)
    assert sizes[0] < sizes[1] and sorted(r["dataset"] for r in listed) == ["demo12", "demo20"]
    table = runner.invoke(app, ["runs", "--runs", str(runs)], env={"COLUMNS": "250"}).stdout
    assert "best (resnet_small)" in table and f"{sizes[0]:,} SYNTHETIC" in table


def test_eval_and_review_mark_a_synthetic_run(trained_run):
    # SYNTHETIC was marked by pneumo runs, stats and the report, but not by pneumo eval and pneumo review.
    runs, _ = trained_run
    (run,) = list(runs.iterdir())
    assert runner.invoke(app, ["eval", str(run)]).stdout.startswith("SYNTHETIC data")
    assert json.loads(runner.invoke(app, ["eval", str(run), "--json"]).stdout)["synthetic"] is True
    assert runner.invoke(app, ["review", str(run)]).stdout.startswith("SYNTHETIC data")
    reviewed = runner.invoke(app, ["review", str(run), "--json"])
    assert isinstance(json.loads(reviewed.stdout), list) and "SYNTHETIC data" in reviewed.stderr


@pytest.mark.parametrize("env, words", [({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc' is not a whole number"),
                                        ({"WORLD_SIZE": "2", "RANK": "abc"}, "RANK='abc' is not a whole number"),
                                        ({"WORLD_SIZE": "2"}, "no RANK"),
                                        ({"WORLD_SIZE": "2", "RANK": "5"}, "RANK=5 is not below WORLD_SIZE=2"),
                                        ({"PNEUMO_CACHE": "/dev/null"}, "PNEUMO_CACHE=/dev/null")])
def test_a_bad_environment_is_one_line(demo_root, tmp_path, monkeypatch, env, words):
    # WORLD_SIZE=abc, RANK=abc and PNEUMO_CACHE=/dev/null gave tracebacks.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert any(line.startswith("error:") and words in line for line in result.output.splitlines()), result.output


def test_help_shows_value_names_not_type_placeholders():
    # --help showed <bool>, <str> and <list[str]> placeholders.
    commands = [["--help"], *([c, "--help"] for c in ("train", "runs", "eval", "predict", "models", "study", "bench",
                                                        "repeat", "review", "compare", "report", "threshold", "tui",
                                                        "stats", "unlock")), ["data", "demo", "--help"]]
    for command in commands:
        text = runner.invoke(app, command, env={"COLUMNS": "200"}).output
        assert "Usage:" in text
        for placeholder in ("<bool>", "<str>", "<list[", "<int>", "<float>", "<path>"):
            assert placeholder not in text, (command, placeholder)
    assert "--data" in runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
