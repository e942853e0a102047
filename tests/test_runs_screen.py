"""The Runs screen: what each run is and how it did (as ``pneumo runs`` says it), at 80 and 120 columns."""

import json
import threading
import time

import pytest
from app_waits import wait_for_runs
from review_fixtures import write_run
from runs_fixtures import a_busy_runs_folder, recorded_run, screen_text, two_runs_of_one_model
from typer.testing import CliRunner

from pneumo_tui.app import PneumoApp
from pneumo_tui.cli import app as cli
from pneumo_tui.cli.train_commands import dataset_text, recipe_and_model
from pneumo_tui.screens.runs import RunsView, legend_labels
from pneumo_tui.widgets.charts import CurveChart, curve_marker, legend_glyph
from pneumo_tui.widgets.run_table import COLUMNS, ESSENTIAL, PADDING, RunTable, layout_runs, short_how
from training.run.operating_point import DEFAULT_HOW, save_threshold
from training.run.state import RunReader, list_runs

MOVED = "20260315-170000-cnn3"  # its threshold was moved after training: figures recomputed there
SYNTH = "20260315-180000-cnn3"
HEADERS = ("status", "val AUC", "test acc", "sens", "spec")


def _app(runs, **kwargs) -> PneumoApp:
    return PneumoApp(runs_dir=runs, welcome=False, poll_interval=0, image_protocol="none", **kwargs)


def _cells(table: RunTable) -> dict[str, dict[str, str]]:
    keys = [key for key, _ in COLUMNS]
    return {run_id: dict(zip(keys, row, strict=True))
            for run_id, row in zip(table.summaries, table.layout_now.rows, strict=True)}


@pytest.fixture
def mixed_runs(tmp_path):
    """Two runs of `best` (thresholds by Youden and by sensitivity), one whose threshold was moved after its
    test eval (a `pneumo threshold`), one on synthetic data."""
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    moved = write_run(runs / MOVED, seed=1, images=False, model="cnn3")
    config = json.loads((moved / "config.json").read_text())
    config["recipe"]["name"] = "cnn3"
    config["data"] = {"path": "data/chest_xray_224/train", "synthetic": False, "n_train": 4708, "n_val": 508,
                      "n_test": 60}
    (moved / "config.json").write_text(json.dumps(config))
    with open(moved / "events.jsonl", "a") as f:  # evaluated at 0.5 when it was trained
        f.write(json.dumps({"event": "eval", "time": 1.0, "split": "test", "threshold": 0.5, "accuracy": 0.5,
                            "sensitivity": 0.5, "specificity": 0.5, "auc": 0.5, "threshold_how": "youden on val"})
                + "\n")
    save_threshold(moved, 0.3, "manual")
    recorded_run(runs, SYNTH, model="cnn3", recipe="cnn3", data="pneumo-demo-data", n_train=800, n_val=96,
                 synthetic=True, epochs=1, test={"accuracy": 0.6, "sensitivity": 0.7, "specificity": 0.5,
                                                 "auc": 0.65}, threshold=0.5, how="fixed by the recipe")
    return runs


async def test_the_table_shows_test_figures_at_each_runs_operating_point_as_pneumo_runs_does(mixed_runs):
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--runs", str(mixed_runs), "--json"]).stdout)
    listed = {s["run_id"]: s for s in listed}
    assert listed[MOVED]["threshold"] == 0.3 and listed[MOVED]["test"]["accuracy"] != 0.5  # recomputed at 0.3
    app = _app(mixed_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        await pilot.pause()
        cells = _cells(app.query_one(RunTable))
        for run_id, s in listed.items():
            for key in ("accuracy", "sensitivity", "specificity"):
                assert cells[run_id][key] == f"{s['test'][key]:.3f}", (run_id, key)
            assert cells[run_id]["best_auc"] == (f"{s['val_auc']:.3f}" if s["val_auc"] is not None else "-")
        assert cells["20260315-142233-best"]["threshold"] == "0.213 youden"
        assert cells["20260315-160512-best"]["threshold"] == "0.380 sens>=0.95"
        assert cells[MOVED]["threshold"] == "0.300 manual"
        assert cells[SYNTH]["threshold"] == "0.500 recipe"
        text = screen_text(app)
        assert "0.213 youden" in text and "0.300 manual" in text  # on screen, beside the figures
        assert "threshold 0.213: youden on val" in text  # the highlighted run's, in full
        await pilot.press("down")
        assert "threshold 0.380: sensitivity>=0.95 on val" in screen_text(app)


def test_where_a_threshold_came_from_in_a_word():
    assert short_how("youden on val") == "youden"
    assert short_how("sensitivity>=0.95 on val") == "sens>=0.95"
    assert short_how(DEFAULT_HOW) == "default"
    assert short_how("fixed by the recipe") == "recipe"
    assert short_how("youden on 40 site images (/data/site-a)") == "youden"


async def test_runs_are_told_apart_by_recipe_model_and_data_as_pneumo_runs_tells_them(mixed_runs):
    summaries = {s.run_id: s for s in list_runs(mixed_runs)}
    app = _app(mixed_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        await pilot.pause()
        table = app.query_one(RunTable)
        cells = _cells(table)
        text = screen_text(app)
        for run_id, s in summaries.items():
            recipe, data = recipe_and_model(s), dataset_text(s)  # the CLI's own texts
            # in full, or cut with an ellipsis that keeps what tells runs apart: the model's bracket, the size
            assert cells[run_id]["recipe"] == recipe or (cells[run_id]["recipe"].endswith("…)")
                                                         and recipe.startswith(cells[run_id]["recipe"][:-2]))
            size_and_kind = data.removeprefix(s.dataset or "?")
            assert cells[run_id]["data"].endswith(size_and_kind), (cells[run_id]["data"], data)
            assert cells[run_id]["recipe"] in text and cells[run_id]["data"] in text
        assert summaries["20260315-142233-best"].recipe == "best"
        assert "5,216" in cells["20260315-142233-best"]["data"]
        assert cells[SYNTH]["data"].endswith("896 SYNTHETIC")
        assert not any(c["data"] in ("real", "synth") for c in cells.values())
        assert "recipe" in text and "data" in text
        await pilot.press("down", "down", "down")  # the synthetic run, in full on the detail lines
        detail = screen_text(app)
        assert "data pneumo-demo-data: 896 train+val, 624 test  SYNTHETIC" in detail
        assert f"{SYNTH}  finished (completed)  cnn3" in detail


def _visible_rows(text: str, table: RunTable) -> list[str]:
    return [line for line in text.splitlines() if any(r[1] in line for r in table.layout_now.rows)]


async def test_at_80_columns_status_recipe_val_auc_and_the_test_figures_show_without_scrolling(tmp_path):
    runs = tmp_path / "runs"
    a_busy_runs_folder(runs)
    app = _app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        await pilot.pause()
        table = app.query_one(RunTable)
        text = screen_text(app)
        header = next(line for line in text.splitlines() if "run" in line and "status" in line)
        for name in (*HEADERS, "recipe"):
            assert name in header, name
        rows = _visible_rows(text, table)
        assert len(rows) >= 4
        for line, cells in zip(rows, table.layout_now.rows, strict=False):
            for cell in cells[1:ESSENTIAL]:  # run, status, recipe, val AUC, test acc, sens, spec
                assert cell in line, (cell, line)
        assert sum(w + PADDING for w in table.layout_now.widths[:ESSENTIAL]) <= 80


async def test_at_120_columns_every_column_shows(mixed_runs):
    app = _app(mixed_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3")
        await pilot.pause()
        table = app.query_one(RunTable)
        header = next(line for line in screen_text(app).splitlines() if "run" in line and "status" in line)
        for name in (*HEADERS, "recipe", "threshold", "epochs", "data"):
            assert name in header, name
        assert sum(w + PADDING for w in table.layout_now.widths) <= 120
        assert all(not cell.startswith("2026") for cell in (r[1] for r in table.layout_now.rows))  # shared date


def test_the_layout_cuts_run_ids_after_their_time_and_never_cuts_the_data_size_nor_synthetic(tmp_path):
    a_busy_runs_folder(tmp_path / "runs")
    summaries = list_runs(tmp_path / "runs")
    keys = [key for key, _ in COLUMNS]
    for width in (80, 100, 120):
        layout = layout_runs(summaries, width)
        assert sum(w + PADDING for w in layout.widths[:ESSENTIAL]) <= width
        for s, row in zip(summaries, layout.rows, strict=True):
            assert row[keys.index("data")].endswith(dataset_text(s).removeprefix(s.dataset or "?"))
            run = row[keys.index("run")]
            assert run == s.run_id or (run.endswith("…") and s.run_id.startswith(run[:-1]) and len(run) > 15)
    wide = layout_runs(summaries, 400)
    assert [row[1] for row in wide.rows] == [s.run_id for s in summaries]  # room enough: nothing cut
    assert [row[2] for row in wide.rows][2] == "stale (writer died)"


def test_legends_say_what_differs_between_the_overlaid_runs(mixed_runs):
    readers = {r.run_id: r for r in map(RunReader, sorted(mixed_runs.iterdir()))}
    for r in readers.values():
        r.poll()

    def labels(*ids):
        chosen = [readers[i] for i in ids]
        return legend_labels([r.summary() for r in chosen], [r.config for r in chosen])

    assert labels("20260315-142233-best", "20260315-160512-best") == ["142233 lr=0.001", "160512 lr=0.0003"]
    assert labels("20260315-142233-best", SYNTH) == ["142233 best (resnet_small) epochs=3",
                                                     "180000 cnn3 SYNTHETIC epochs=1"]
    assert labels(SYNTH) == [SYNTH]


async def test_two_runs_of_one_model_overlaid_with_no_color_differ_in_marker_line_and_legend(tmp_path,
                                                                                             monkeypatch):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    monkeypatch.setenv("NO_COLOR", "1")
    app = _app(runs)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_runs(pilot)
        await pilot.press("3", "space", "down", "space")
        await pilot.pause()
        steps = app.query_one("#overlay-steps", CurveChart)
        assert [c.label for c in steps._curves] == ["142233 lr=0.001", "160512 lr=0.0003"]
        text = screen_text(app)
        assert f"{legend_glyph(0)} 142233 lr=0.001" in text and f"{legend_glyph(1)} 160512 lr=0.0003" in text
        plot = steps.plot
        lines = text.splitlines()[plot.region.y:plot.region.bottom]
        drawn = "".join(line[plot.region.x:plot.region.right] for line in lines)
        assert curve_marker(0) in drawn and curve_marker(1) in drawn  # each run's marker along its curve
        rows = _visible_rows(text, app.query_one(RunTable))
        assert rows[0].lstrip().startswith(curve_marker(0)) and rows[1].lstrip().startswith(curve_marker(1))


async def test_compare_with_fewer_than_two_runs_picked_says_why_and_it_stays_on_screen(tmp_path):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    app = _app(runs)
    toasts = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kwargs: toasts.append((message, kwargs))
        await wait_for_runs(pilot)
        await pilot.press("3", "space", "c")
        await pilot.pause()
        why = "Compare takes two runs and 1 is picked: pick two with space, then press c."
        assert why in screen_text(app)  # on the detail line, not only in a toast that goes in seconds
        assert toasts[-1][0] == why and toasts[-1][1]["timeout"] >= 10
        with open(runs / "20260315-142233-best" / "events.jsonl", "a") as f:  # the run changes (a live run)
            f.write(json.dumps({"event": "step", "time": 1767230000.0, "epoch": 3, "step": 10, "global_step": 31,
                                "loss": 0.3}) + "\n")
        app.query_one(RunsView).reload_now()  # what a tick does: the table is filled again
        await pilot.pause()
        assert why in screen_text(app)  # still there
        await pilot.press("space", "c")
        await pilot.pause()
        assert "Compare takes two runs and none is picked" in screen_text(app)
        await pilot.press("down")  # moving on clears it
        await pilot.pause()
        assert "Compare takes" not in screen_text(app)


async def test_the_first_visit_lists_runs_as_they_are_read_and_says_how_many_are_left(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    made = two_runs_of_one_model(runs) + [recorded_run(runs, "20260315-190000-cnn3", model="cnn3", recipe="cnn3")]
    release = {run.name: threading.Event() for run in made}
    poll = RunReader.poll

    def slow_poll(self):  # the first read of each log waits until the test lets it go
        if threading.current_thread() is not threading.main_thread():
            assert release[self.run_id].wait(10)
        return poll(self)

    monkeypatch.setattr(RunReader, "poll", slow_poll)
    app = _app(runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        view, table = app.query_one(RunsView), app.query_one(RunTable)

        async def until(condition):
            deadline = time.monotonic() + 10
            while not condition():
                assert time.monotonic() < deadline
                await pilot.pause(0.02)

        await until(lambda: view.to_read == 3)
        await pilot.pause()
        assert "reading 3 runs…" in screen_text(app) and table.row_count == 0
        release[made[0].name].set()
        await until(lambda: table.row_count == 1)
        await pilot.pause()
        assert not view.loaded
        text = screen_text(app)
        assert "142233-best" in text and "reading runs: 1 of 3 read…" in text
        for event in release.values():
            event.set()
        await wait_for_runs(pilot)
        await pilot.pause()
        assert table.row_count == 3 and "reading" not in screen_text(app)
