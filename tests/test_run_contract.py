"""One fold of a run's events for every reader: a resumed run that repeated its best epoch reads alike everywhere."""

from __future__ import annotations

import json

import pytest
from app_waits import wait_for_runs
from test_app_screens import screen_text
from typer.testing import CliRunner

from pneumo_tui.app import PneumoApp
from pneumo_tui.cli import app as cli
from pneumo_tui.widgets.run_table import RunTable
from training.run.events import EventWriter
from training.run.paths import RunPaths
from training.run.predictions import predictions_csv
from training.run.state import read_run


def write_resumed_run(runs, name="20260101-000000-cnn3"):
    """Epoch 2 (the best) logged, the trainer killed before its last.pt, resumed: epoch 2 again, better."""
    run = runs / name
    run.mkdir(parents=True)
    paths = RunPaths(run)
    paths.config.write_text(json.dumps({"run_id": name, "model": "cnn3", "recipe": {"epochs": 3}, "data": {}}))
    with EventWriter(paths.events) as w:
        w.write("run_started", run_id=name, model="cnn3", epochs=3, steps_per_epoch=1)
        for epoch, auc in ((1, 0.70), (2, 0.80)):
            w.write("step", epoch=epoch, step=1, global_step=epoch, loss=1.0 / epoch)
            w.write("epoch", epoch=epoch, val_loss=1.0 / epoch, val_auc=auc)
            w.write("checkpoint", kind="best", epoch=epoch, metric="val_auc", value=auc)
            if epoch == 1:
                w.write("checkpoint", kind="last", epoch=1, metric="val_auc", value=auc)
        w.write("run_resumed", epoch=2, step=1)
        for epoch, auc in ((2, 0.85), (3, 0.84)):
            w.write("step", epoch=epoch, step=1, global_step=epoch, loss=0.4)
            w.write("epoch", epoch=epoch, val_loss=0.4, val_auc=auc)
            if epoch == 2:
                w.write("checkpoint", kind="best", epoch=2, metric="val_auc", value=auc)
            w.write("checkpoint", kind="last", epoch=epoch, metric="val_auc", value=auc)
        w.write("eval", split="test", accuracy=0.75, sensitivity=1.0, specificity=0.5, auc=0.75, threshold=0.5, n=4)
        w.write("run_finished", reason="completed", best_epoch=2)
    rows = [{"id": f"test/{c}/{i}.jpeg", "path": "", "split": "test", "label": label, "probability": p, "subtype": "",
             "patient": ""} for i, (c, label, p) in enumerate((("NORMAL", 0, 0.2), ("NORMAL", 0, 0.6),
                                                                 ("PNEUMONIA", 1, 0.7), ("PNEUMONIA", 1, 0.9)))]
    rows += [{**r, "id": r["id"].replace("test/", "val/"), "split": "val"} for r in rows]
    paths.predictions.write_text(predictions_csv(rows))
    return run


def test_the_fold_keeps_the_last_row_of_a_repeated_epoch(tmp_path):
    state = read_run(write_resumed_run(tmp_path)).state
    assert state.best_epoch == 2 and state.best_row["val_auc"] == 0.85
    assert sorted(state.epochs) == [1, 2, 3] and state.epochs[2]["val_auc"] == 0.85


def test_a_resume_drops_what_the_stopped_session_logged_after_its_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with EventWriter(RunPaths(run).events) as w:
        w.write("run_started", epochs=3)
        w.write("epoch", epoch=1, val_auc=0.7)
        w.write("checkpoint", kind="best", epoch=1, metric="val_auc", value=0.7)
        w.write("epoch", epoch=2, val_auc=0.9)  # logged, then killed before last.pt of epoch 2
        w.write("checkpoint", kind="best", epoch=2, metric="val_auc", value=0.9)
        w.write("run_resumed", epoch=2, step=1)  # continues from the checkpoint of epoch 1
    state = read_run(run).state
    assert sorted(state.epochs) == [1] and state.best_epoch == 1  # epoch 2 is being redone


async def test_runs_eval_and_the_app_show_the_same_best_val_metric(tmp_path):
    runs = tmp_path / "runs"
    run = write_resumed_run(runs)
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--runs", str(runs), "--json"]).stdout)
    assert listed[0]["val_auc"] == 0.85 and listed[0]["best_epoch"] == 2
    evaluated = CliRunner().invoke(cli, ["eval", str(run), "--json"])
    assert json.loads(evaluated.stdout)["best"] == {"epoch": 2, "metric": "val_auc", "value": 0.85, "val_auc": 0.85}
    assert "best epoch 2: val_auc 0.8500" in CliRunner().invoke(cli, ["eval", str(run)]).stdout

    app = PneumoApp(runs_dir=runs, welcome=False, poll_interval=0, image_protocol="none")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await wait_for_runs(pilot)
        table = app.query_one(RunTable)
        assert table.summaries[run.name].val_auc == 0.85
        assert "0.850" in [str(cell) for cell in table.get_row(run.name)]
        await pilot.press("enter")  # attach: the Train screen follows it
        await pilot.pause()
        assert "epoch 2 AUC 0.850" in screen_text(app)  # the progress panel's best line


def _ended_run(runs, name, reason):
    run = runs / name
    run.mkdir(parents=True)
    with EventWriter(RunPaths(run).events) as w:
        w.write("run_started", run_id=name, model="cnn3", epochs=5)
        w.write("epoch", epoch=1, val_auc=0.7)
        w.write("run_finished", reason=reason, best_epoch=1)
    return run


async def test_a_run_stopped_on_request_is_stopped_not_finished(tmp_path):
    # A run stopped with x (SIGINT) showed as "finished", the word of a completed run, and --json had no reason.
    runs = tmp_path / "runs"
    for name, reason in (("a-stopped", "interrupted"), ("b-done", "completed"), ("c-early", "early_stopping")):
        _ended_run(runs, name, reason)
    listed = {r["run_id"]: r for r in json.loads(CliRunner().invoke(cli, ["runs", "--runs", str(runs),
                                                                          "--json"]).stdout)}
    assert [(listed[n]["status"], listed[n]["reason"]) for n in ("a-stopped", "b-done", "c-early")] == [
        ("stopped", "interrupted"), ("finished", "completed"), ("finished", "early_stopping")]
    table = CliRunner().invoke(cli, ["runs", "--runs", str(runs)], env={"COLUMNS": "200"}).stdout
    assert "stopped" in table
    app = PneumoApp(runs_dir=runs, welcome=False, poll_interval=0, image_protocol="none")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await wait_for_runs(pilot)
        assert "stopped (resumable)" in screen_text(app)


def test_runs_shows_test_figures_at_the_saved_operating_point(tmp_path):
    # pneumo runs (and the Runs screen) showed the figures at the training-time threshold after pneumo threshold
    # had saved another point, which pneumo eval then used.
    runs = tmp_path / "runs"
    run = write_resumed_run(runs)  # evaluated at 0.5: acc 0.75, sens 1.0, spec 0.5
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--runs", str(runs), "--json"]).stdout)[0]
    assert listed["test"]["specificity"] == 0.5 and listed["threshold"] == 0.5
    assert CliRunner().invoke(cli, ["threshold", str(run), "--value", "0.8"]).exit_code == 0
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--runs", str(runs), "--json"]).stdout)[0]
    evaluated = json.loads(CliRunner().invoke(cli, ["eval", str(run), "--json"]).stdout)
    assert listed["threshold"] == 0.8 and listed["threshold_how"] == "manual"
    assert {k: listed["test"][k] for k in ("accuracy", "sensitivity", "specificity")} == {
        k: evaluated[k] for k in ("accuracy", "sensitivity", "specificity")} == {
        "accuracy": 0.75, "sensitivity": 0.5, "specificity": 1.0}
    table = CliRunner().invoke(cli, ["runs", "--runs", str(runs)], env={"COLUMNS": "250"}).stdout
    assert "0.800 (manual)" in table


def test_runs_on_a_missing_folder_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["runs", "--runs", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "error: no runs folder" in result.output


def test_elapsed_counts_each_session_and_not_the_pause_between_them(tmp_path):
    # A run stopped and resumed 30 s later showed 36 s elapsed for 6 s of training.
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"event": "run_started", "time": 460.6, "epochs": 2}, {"event": "run_finished", "time": 462.1,
                                                                    "reason": "interrupted"},
             {"event": "run_resumed", "time": 492.2, "epoch": 2, "step": 1},
             {"event": "run_finished", "time": 496.8, "reason": "completed"}]
    RunPaths(run).events.write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert read_run(run).progress().elapsed_s == pytest.approx((462.1 - 460.6) + (496.8 - 492.2))
