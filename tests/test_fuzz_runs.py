"""Hostile run folders: random and type-corrupted events and configs never take a reader down, and every other
run stays listed (a seeded fuzz of the event reader and the run fold)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.run.events import EventWriter
from training.run.paths import RunPaths
from training.run.schema import EVENTS, METRICS
from training.run.state import RunReader, list_runs

FIELDS = sorted({name for kind in EVENTS.values() for name in (*kind.required, *kind.optional)} | set(METRICS))


def _value(rng: random.Random, depth: int = 0):
    choice = rng.randrange(14)
    if choice == 0:
        return rng.randint(-5, 50)
    if choice == 1:
        return 10 ** rng.randint(20, 400)  # a huge integer
    if choice == 2:
        return rng.random()
    if choice == 3:
        return rng.choice(["cnn3[/]", "[bold]x", "[red]", "\x1b[31mred", "best", "", "test", "val", "last"])
    if choice == 4:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(3))] if depth < 3 else []
    if choice == 5:
        return {"tp": _value(rng, depth + 1)} if depth < 3 else {}
    if choice == 6:
        return None
    if choice == 7:
        return rng.choice([True, False])
    if choice == 8:
        return "x" * rng.randrange(2000)
    return rng.choice([1, 2, 3, 0.5, 0.9, "1", "nan"])


def _line(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.05:
        return b"[" * 50_000 + b"]" * 50_000 + b"\n"  # RecursionError for a naive reader
    if kind < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(80))).replace(b"\n", b"") + b"\n"
    if kind < 0.15:
        return b'{"event": "epoch", "time": 1, "epoch": 1, "val_auc": NaN}\n'
    if kind < 0.2:
        return b'{"event": "eval", "time": 1e999, "split": "test", "auc": Infinity}\n'
    event = {"event": rng.choice([*EVENTS, "nonsense", 3, None]), "time": rng.choice([1.0, "now", None, 2])}
    for name in rng.sample(FIELDS, rng.randrange(1, 8)):
        event[name] = _value(rng)
    return (json.dumps(event, default=str) + "\n").encode()


def _config(rng: random.Random) -> str:
    choice = rng.randrange(6)
    if choice == 0:
        return "[1, 2, 3]"
    if choice == 1:
        return "{not json"
    if choice == 2:
        return '{"model": ' + "[" * 20_000 + "]" * 20_000 + "}"
    if choice == 3:
        return json.dumps({"model": _value(rng), "recipe": _value(rng), "data": _value(rng)})
    return json.dumps({"model": "cnn3[/]", "recipe": {"epochs": _value(rng)}, "data": {"n_train": _value(rng)}})


def _good_run(runs: Path, name: str, model: str = "cnn3") -> Path:
    run = runs / name
    run.mkdir(parents=True)
    RunPaths(run).config.write_text(json.dumps({"model": model, "recipe": {"epochs": 2}, "data": {}}))
    with EventWriter(RunPaths(run).events) as w:
        w.write("run_started", run_id=name, model=model, epochs=2)
        w.write("epoch", epoch=1, val_auc=0.8)
        w.write("checkpoint", kind="best", epoch=1, metric="val_auc", value=0.8)
        w.write("run_finished", reason="completed", best_epoch=1)
    return run


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory):
    rng = random.Random(20261201)
    runs = tmp_path_factory.mktemp("runs")
    _good_run(runs, "00-good")
    for i in range(40):
        run = runs / f"{i + 1:02d}-fuzzed"
        run.mkdir()
        if rng.random() < 0.5:
            RunPaths(run).config.write_text(_config(rng))
        RunPaths(run).events.write_bytes(b"".join(_line(rng) for _ in range(rng.randrange(1, 40))))
    (runs / "98-events-is-a-folder" / "events.jsonl").mkdir(parents=True)
    RunPaths(runs / "98-events-is-a-folder").config.write_text('{"model": "cnn3"}')
    _good_run(runs, "97-markup", model="cnn3[/]")  # Rich markup in a name: MarkupError if rendered as markup
    _good_run(runs, "99-good")
    return runs


def test_no_exception_escapes_the_fold_and_every_run_is_listed(hostile_runs):
    summaries = {s.run_id: s for s in list_runs(hostile_runs)}
    assert len(summaries) == 44
    assert summaries["00-good"].status == summaries["99-good"].status == "finished"
    assert summaries["00-good"].val_auc == 0.8
    assert summaries["98-events-is-a-folder"].status == "unreadable"
    assert "cannot be read" in summaries["98-events-is-a-folder"].problem
    assert sum(s.invalid_events for s in summaries.values()) > 100  # skipped and counted, not passed on


def test_the_incremental_fold_survives_every_line(hostile_runs):
    for run in sorted(hostile_runs.iterdir()):
        lines = RunPaths(run).events.read_bytes().splitlines(keepends=True) if RunPaths(run).events.is_file() else []
        copy = run.parent.parent / "incremental" / run.name
        copy.mkdir(parents=True)
        reader = RunReader(copy)
        with open(RunPaths(copy).events, "wb") as f:
            for line in lines:
                f.write(line)
                f.flush()
                reader.poll()
                reader.summary()
                reader.progress()


def _strict(text: str):
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))


def test_runs_json_is_always_valid_json_and_the_table_never_crashes(hostile_runs):
    result = CliRunner().invoke(app, ["runs", "--runs", str(hostile_runs), "--json"])
    assert result.exit_code == 0, result.output
    assert len(_strict(result.stdout)) == 44
    table = CliRunner().invoke(app, ["runs", "--runs", str(hostile_runs)], env={"COLUMNS": "500"})
    assert table.exit_code == 0 and "Traceback" not in table.output
    assert "00-good" in table.stdout and "99-good" in table.stdout and "cnn3[/]" in table.stdout  # shown, not markup



async def test_the_app_starts_and_lists_every_run_beside_hostile_ones(hostile_runs):
    # One run folder of wrong types crashed the whole app at start-up (the Runs screen is built on launch).
    from app_waits import wait_for_runs
    from test_app_screens import screen_text

    from pneumo_tui.app import PneumoApp
    from pneumo_tui.widgets.run_table import RunTable

    app = PneumoApp(runs_dir=hostile_runs, welcome=False, poll_interval=0, image_protocol="none")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("3")
        await wait_for_runs(pilot)
        table = app.query_one(RunTable)
        assert len(table.summaries) == 44
        for run_id in ("00-good", "97-markup", "99-good"):
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("enter")  # attach: the Train screen follows it
            await pilot.pause()
            await pilot.press("3")
        await pilot.pause()
        assert "cnn3[/]" in "".join(str(cell) for cell in table.get_row("97-markup"))
        assert "99-good" in screen_text(app)  # the last one attached, still selected


async def test_run_names_and_notes_with_markup_are_shown_as_text_on_every_screen(tmp_path, monkeypatch):
    # Rich markup in a run's folder name, model, recipe name, note or a notification took a screen down
    # (MarkupError) or was silently swallowed: every string from disk is shown as the text it is.
    from app_waits import wait_for_runs
    from review_fixtures import write_run
    from test_app_screens import screen_text
    from textual.app import App

    from pneumo_tui.app import PneumoApp
    from pneumo_tui.messages import AttachRun, CompareRuns, OpenEvaluation, ReviewRun
    from training.run.review_notes import ReviewNotes

    runs = tmp_path / "runs"
    a = write_run(runs / "96-[red]a", model="cnn3[/]")
    b = write_run(runs / "95-[b]b", seed=3, model="[bold]x")
    notes = ReviewNotes(a)
    for cls in ("NORMAL", "PNEUMONIA"):  # a note on every test case: the shown errors among them
        for i in range(60):
            notes.set(f"test/{cls}/case-{i:03d}.png", text="see [red]this[/]")
    app = PneumoApp(runs_dir=runs, welcome=False, poll_interval=0, image_protocol="none")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("3")
        await wait_for_runs(pilot)
        assert "96-[red]a" in screen_text(app) and "cnn3[/]" in screen_text(app)
        app.post_message(AttachRun(a))
        await pilot.pause()
        assert "cnn3[/]" in screen_text(app)
        app.post_message(ReviewRun(a))
        await pilot.pause()
        await pilot.pause()
        assert "see [red]this[/]" in screen_text(app)
        shown = []
        monkeypatch.setattr(App, "notify", lambda self, message, **kw: shown.append((message, kw["markup"])))
        app.notify("saved [/] to 96-[red]a", markup=True)  # a screen's notification: never read as markup
        assert shown == [("saved [/] to 96-[red]a", False)]
        app.post_message(OpenEvaluation(a))
        await pilot.pause()
        assert "Evaluation 96-[red]a" in screen_text(app)
        await pilot.press("escape")
        app.post_message(CompareRuns(a, b))
        await pilot.pause()
        assert "Compare 96-[red]a vs 95-[b]b" in screen_text(app)
