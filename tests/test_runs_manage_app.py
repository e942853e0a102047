"""Run management on the Runs screen: settings columns (differing first, constant ones hidden), sort, filter,
name/tags/note, archive, delete (confirmed, never a running run) and the config diff beside the overlay, at
80x24 and 120x40; SVG snapshots of the settings view, the filter with the diff, and a named, tagged run."""

import json

import pytest
from app_waits import wait_for_runs
from runs_fixtures import a_busy_runs_folder, recorded_run, screen_text, two_runs_of_one_model

from pneumo_tui.app import PneumoApp
from pneumo_tui.screens.runs import ConfirmDelete, RunPrompt, RunsView
from pneumo_tui.widgets.run_table import RunTable, layout_settings
from training.run.lock import RunLock
from training.run.manage import note_run, rename_run, tag_run
from training.run.meta import read_meta
from training.run.paths import RunPaths, archive_dir
from training.run.state import list_runs

SIZES = [(80, 24), (120, 40)]
size_ids = lambda s: f"{s[0]}x{s[1]}"  # noqa: E731
A, B = "20260315-142233-best", "20260315-160512-best"


def _app(runs) -> PneumoApp:
    return PneumoApp(runs_dir=runs, welcome=False, poll_interval=0, image_protocol="none")


def _header(app) -> str:
    return next(line for line in screen_text(app).splitlines() if " run " in line and "status" in line)


async def _open(pilot) -> tuple[RunsView, RunTable]:
    await wait_for_runs(pilot)
    await pilot.press("3")
    await pilot.pause()
    return pilot.app.query_one(RunsView), pilot.app.query_one(RunTable)


async def _type(pilot, text: str) -> None:
    await pilot.press(*("space" if ch == " " else ch for ch in text))


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
async def test_the_settings_view_shows_the_settings_that_differ_first_and_hides_the_constant_ones(tmp_path, size):
    runs = tmp_path / "runs"
    a_busy_runs_folder(runs)
    app = _app(runs)
    async with app.run_test(size=size) as pilot:
        _, table = await _open(pilot)
        await pilot.press("p")
        await pilot.pause()
        keys = table.layout_now.keys
        assert keys[:3] == ["mark", "run", "status"]
        assert keys[3:9] == ["recipe", "model", "epochs", "lr", "seed", "dataset"]  # those that differ
        assert keys[9:12] == ["task", "image", "batch"]  # the constant ones after them
        header = _header(app)
        assert "recipe*" in header and "lr*" in header.replace(" ", "") or "lr*" in screen_text(app)
        assert any("0.0003" in line for line in screen_text(app).splitlines())  # the lr that differs, on screen
        await pilot.press("h")
        await pilot.pause()
        assert "image" not in table.layout_now.keys and "batch" not in table.layout_now.keys
        await pilot.press("p")  # back to the figures, as before
        await pilot.pause()
        assert "accuracy" in table.layout_now.keys and "test acc" in _header(app)


def test_the_settings_layout_fits_80_columns_with_whole_headers(tmp_path):
    a_busy_runs_folder(tmp_path / "runs")
    summaries = list_runs(tmp_path / "runs")
    layout = layout_settings(summaries, 78, hide_constant=True)
    widths = layout.widths
    assert sum(w + 2 for w in widths[:6]) <= 78  # the run and the first settings that differ, on screen
    assert all(w >= len(h) for w, h in zip(widths, layout.headers, strict=True))


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
async def test_slash_filters_by_id_name_tag_note_recipe_and_data_and_esc_clears(tmp_path, size):
    runs = tmp_path / "runs"
    made = a_busy_runs_folder(runs)
    note_run(made[1], "augmentation off by mistake")
    tag_run(made[5], ["keeper"])
    app = _app(runs)
    async with app.run_test(size=size) as pilot:
        view, table = await _open(pilot)
        await pilot.press("slash")
        await _type(pilot, "densenet")
        await pilot.pause()
        assert len(table.summaries) == 5 and "/densenet 5 of 9" in screen_text(app)
        await pilot.press("enter")
        assert app.focused is table
        for text, expected in (("augmentation", [B]), ("keeper", [made[5].name]), ("demo", [made[3].name])):
            await pilot.press("slash", *(["backspace"] * 20))
            await _type(pilot, text)
            await pilot.press("enter")
            await pilot.pause()
            assert list(table.summaries) == expected, text
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert len(table.summaries) == 9 and "of 9" not in screen_text(app)


async def test_s_sorts_by_the_next_column_and_s_shift_reverses(tmp_path):
    runs = tmp_path / "runs"
    a_busy_runs_folder(runs)
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view, table = await _open(pilot)
        await pilot.press("s")  # run -> status
        await pilot.pause()
        assert table.sort_by == "status" and "sort status↑" in screen_text(app)
        table.sort_on("accuracy")
        await pilot.pause()
        ids = list(table.summaries)
        assert ids[0] == A and ids[-1] == "20260316-091500-resnet_small"  # best first; none last
        await pilot.press("S")
        await pilot.pause()
        assert list(table.summaries)[0] == "20260316-101010-cnn3"
        await pilot.press("p")
        table.sort_on("lr", reverse=False)
        await pilot.pause()
        assert list(table.summaries)[0] == B


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
async def test_n_names_t_tags_and_shift_n_notes_a_run_which_keeps_its_id(tmp_path, size):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    app = _app(runs)
    async with app.run_test(size=size) as pilot:
        view, table = await _open(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, RunPrompt)
        await _type(pilot, "lr baseline")
        await pilot.press("enter")
        await pilot.pause()
        assert read_meta(runs / A).name == "lr baseline" and (runs / A).is_dir()
        assert table.layout_now.rows[0][1] == "lr baseline"  # shown in the run column
        await pilot.press("t")
        await _type(pilot, "sweep keep")
        await pilot.press("enter")
        await pilot.press("N")
        await _type(pilot, "first try")
        await pilot.press("enter")
        await pilot.pause()
        assert read_meta(runs / A).tags == ("sweep", "keep") and read_meta(runs / A).note == "first try"
        text = screen_text(app)
        assert f'{A} "lr baseline" #sweep #keep' in text and "note: first try" in text
        await pilot.press("n", "escape")  # Esc leaves the name as it was
        await pilot.pause()
        assert read_meta(runs / A).name == "lr baseline"
        await pilot.press("down", "n", *(["backspace"] * 30))
        await _type(pilot, "lr baseline")  # the other run may not take the same name
        await pilot.press("enter")
        await pilot.pause()
        assert read_meta(runs / B).name == ""


async def test_markup_in_a_name_and_a_hostile_meta_file_are_shown_as_text(tmp_path):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    RunPaths(runs / A).meta.write_text(json.dumps({"name": "[bold red]x[/]", "tags": ["[/]"], "note": "[link]"}))
    RunPaths(runs / B).meta.write_text("{not json")
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(pilot)
        text = screen_text(app)
        assert "[bold red]x[/]" in text and "#[/]" in text and "note: [link]" in text
        assert "160512-best" in text  # listed all the same (its shared date left out)


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
async def test_a_archives_a_run_and_shift_a_shows_the_archived_ones(tmp_path, size):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    app = _app(runs)
    async with app.run_test(size=size) as pilot:
        view, table = await _open(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert (archive_dir(runs) / A).is_dir() and list(table.summaries) == [B]
        await pilot.press("A")
        await pilot.pause()
        assert list(table.summaries) == [A] and "ARCHIVED" in screen_text(app)
        await pilot.press("a")  # restores it
        await pilot.pause()
        assert (runs / A).is_dir() and list(table.summaries) == []
        await pilot.press("A")
        await pilot.pause()
        assert list(table.summaries) == [A, B]


async def test_d_asks_before_deleting_and_refuses_a_running_run(tmp_path):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    live = recorded_run(runs, "20260401-000000-cnn3", model="cnn3", recipe="cnn3", finished=False)
    toasts = []
    app = _app(runs)
    with RunLock(live):
        async with app.run_test(size=(80, 24)) as pilot:
            app.notify = lambda message, **kwargs: toasts.append(message)
            view, table = await _open(pilot)
            await pilot.press("down", "down")
            assert table.current_run_id == live.name and table.current.status == "running"
            await pilot.press("d")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmDelete) and live.is_dir()
            assert "running: stop it first" in toasts[-1]
            await pilot.press("a")  # nor archived under its trainer
            await pilot.pause()
            assert live.is_dir() and "it is running" in toasts[-1] and live.name in table.summaries
            await pilot.press("up", "up", "d")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDelete)
            assert f"Delete {A}?" in screen_text(app)
            await pilot.press("n")
            await pilot.pause()
            assert (runs / A).is_dir()
            await pilot.press("d", "y")
            await pilot.pause()
            assert not (runs / A).exists() and A not in table.summaries


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
async def test_f_shows_the_config_diff_of_the_two_picked_runs_beside_the_overlay(tmp_path, size):
    runs = tmp_path / "runs"
    two_runs_of_one_model(runs)
    app = _app(runs)
    async with app.run_test(size=size) as pilot:
        view, table = await _open(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert "Config diff" in screen_text(app) and "(0 picked;" in screen_text(app)
        await pilot.press("space", "down", "space")
        await pilot.pause()
        text = screen_text(app)
        assert "recipe.lr 0.001 → 0.0003" in text
        panel, charts = app.query_one("#runs-diff"), app.query_one("#runs-charts")
        assert panel.region.x >= charts.region.right - 1 and panel.region.y == charts.region.y  # beside them
        assert view.chart("steps").region.width > 0
        await pilot.press("f")
        await pilot.pause()
        assert "recipe.lr" not in screen_text(app)


# ---- snapshots


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
def test_snapshot_settings_view_differing_first(snap_compare, tmp_path, size):
    a_busy_runs_folder(tmp_path / "runs")
    app = _app(tmp_path / "runs")
    assert snap_compare(app, press=["3", "p"], terminal_size=size, run_before=wait_for_runs)


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
def test_snapshot_filter_and_config_diff(snap_compare, tmp_path, size):
    runs = tmp_path / "runs"
    a_busy_runs_folder(runs)
    app = _app(runs)
    assert snap_compare(app, press=["3", "slash", *"best", "enter", "space", "down", "space", "f"],
                        terminal_size=size, run_before=wait_for_runs)


@pytest.mark.parametrize("size", SIZES, ids=size_ids)
def test_snapshot_named_and_tagged_runs(snap_compare, tmp_path, size):
    runs = tmp_path / "runs"
    a, b = two_runs_of_one_model(runs)
    rename_run(a, "lr 1e-3 baseline")
    tag_run(a, ["sweep", "keep"])
    note_run(a, "the first of the lr sweep")
    tag_run(b, ["sweep"])
    app = _app(runs)
    assert snap_compare(app, press=["3"], terminal_size=size, run_before=wait_for_runs)


async def test_a_click_on_a_header_sorts_by_its_column_and_a_second_click_turns_it_round(tmp_path):
    runs = tmp_path / "runs"
    a_busy_runs_folder(runs)
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view, table = await _open(pilot)
        x = sum(w + 2 for w in table.layout_now.widths[:table.layout_now.keys.index("accuracy")]) + 2
        await pilot.click("#run-table", offset=(x, 0))
        await pilot.pause()
        assert table.sort_by == "accuracy" and list(table.summaries)[0] == A
        assert "sort accuracy↓" in screen_text(app)  # best first
        await pilot.click("#run-table", offset=(x, 0))
        await pilot.pause()
        assert table.sort_reverse and list(table.summaries)[0] == "20260316-101010-cnn3"
