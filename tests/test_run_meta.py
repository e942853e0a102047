"""Run management in the engine: a run's name, tags and note (meta.json), archive and delete (never of a running
run), its settings and the config diff of two runs (training.run.meta, manage, settings)."""

import json

import pytest
from runs_fixtures import a_busy_runs_folder, recorded_run, two_runs_of_one_model

from training.core.errors import RunNotFound
from training.run.lock import RunLock
from training.run.manage import RunBusy, archive_run, delete_run, note_run, rename_run, tag_run, unarchive_run
from training.run.meta import MAX_NAME, MetaError, read_meta, read_meta_checked
from training.run.paths import RunPaths, archive_dir
from training.run.settings import config_diff, differing, ordered_settings
from training.run.state import list_runs, read_run
from training.run.store import resolve_run


def test_a_renamed_run_keeps_its_id_and_is_found_by_name_and_by_id(tmp_path):
    runs = tmp_path / "runs"
    a, b = two_runs_of_one_model(runs)
    rename_run(a, "lr sweep 1e-3")
    assert a.is_dir() and RunPaths(a).meta.is_file()  # the folder (the id) is the same
    assert resolve_run("lr sweep 1e-3", runs) == a
    assert resolve_run(a.name, runs) == a and resolve_run("20260315-1422", runs) == a
    (summary,) = [s for s in list_runs(runs) if s.run_id == a.name]
    assert summary.name == "lr sweep 1e-3" and summary.label == "lr sweep 1e-3"
    with pytest.raises(MetaError, match="already called"):
        rename_run(b, "lr sweep 1e-3")  # a name says which run it is: never two of them
    with pytest.raises(MetaError, match="already called"):
        rename_run(b, a.name)  # nor another run's id
    rename_run(a, "")
    with pytest.raises(RunNotFound):
        resolve_run("lr sweep 1e-3", runs)


def test_tags_and_note_are_kept_and_cleaned(tmp_path):
    (run,) = two_runs_of_one_model(tmp_path / "runs")[:1]
    tag_run(run, ["lr-sweep", "#baseline", "lr-sweep"])
    meta = tag_run(run, ["keep"], remove=["baseline"])
    assert meta.tags == ("lr-sweep", "keep")
    note_run(run, "augmentation off\nby mistake")
    assert read_meta(run).note == "augmentation off\nby mistake"
    with pytest.raises(MetaError):
        tag_run(run, ["two words"])
    with pytest.raises(MetaError):
        rename_run(run, "x" * (MAX_NAME + 1))
    with pytest.raises(MetaError):
        rename_run(run, "two\nlines")
    with pytest.raises(MetaError, match="/"):
        rename_run(run, "lr/sweep")  # a name goes where a run id or folder is typed


@pytest.mark.parametrize("text", [
    "not json", "[1, 2]", '{"name": 3, "tags": "x", "note": []}', '{"name": {"a": 1}}', "\xff\xfe",
    '{"name": "' + "n" * 10000 + '"}', "[" * 100000, '{"tags": [1, null, "ok", "bad tag"]}',
])
def test_a_hostile_meta_file_never_crashes_a_reader(tmp_path, text):
    runs = tmp_path / "runs"
    (run,) = two_runs_of_one_model(runs)[:1]
    RunPaths(run).meta.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff\xfe" else b"\xff\xfe")
    meta, _ = read_meta_checked(run)
    assert len(meta.name) <= MAX_NAME
    assert all(" " not in t for t in meta.tags)
    (summary, _) = list_runs(runs)
    assert summary.run_id == run.name  # listed as ever
    assert resolve_run(run.name, runs) == run


def test_control_characters_in_a_meta_file_are_dropped(tmp_path):
    (run,) = two_runs_of_one_model(tmp_path / "runs")[:1]
    RunPaths(run).meta.write_text(json.dumps({"name": "evil\x1b[31m[red]x[/]\x07", "tags": ["a\x1bb"],
                                              "note": "line\x1b]0;title\x07"}))
    meta = read_meta(run)
    assert "\x1b" not in meta.name and "\x07" not in meta.name and meta.name == "evil[31m[red]x[/]"
    assert meta.tags == ("ab",) and "\x1b" not in meta.note


def test_archive_moves_the_run_out_of_the_list_and_back(tmp_path):
    runs = tmp_path / "runs"
    a, b = two_runs_of_one_model(runs)
    moved = archive_run(a)
    assert moved == archive_dir(runs) / a.name and not a.exists()
    assert not RunPaths(moved).lock.exists()
    assert [s.run_id for s in list_runs(runs)] == [b.name]
    assert [s.run_id for s in list_runs(runs, archived=True)] == [a.name]
    assert list_runs(runs, archived=True)[0].archived
    assert resolve_run(a.name, runs) == moved  # still found, by id
    assert unarchive_run(moved) == a and a.is_dir()
    assert [s.run_id for s in list_runs(runs)] == [a.name, b.name]


def test_delete_and_archive_refuse_a_running_run(tmp_path):
    runs = tmp_path / "runs"
    run = recorded_run(runs, "20260401-000000-cnn3", model="cnn3", recipe="cnn3", finished=False)
    with RunLock(run):  # a trainer writes it
        assert read_run(run).status == "running"
        with pytest.raises(RunBusy, match="running"):
            delete_run(run)
        with pytest.raises(RunBusy, match="running"):
            archive_run(run)
        assert run.is_dir()
    delete_run(run)  # the trainer is gone (stale): it may go
    assert not run.exists()


def test_settings_that_differ_come_first_and_constant_ones_can_be_hidden(tmp_path):
    a_busy_runs_folder(tmp_path / "runs")
    settings = [s.settings for s in list_runs(tmp_path / "runs")]
    changing = differing(settings)
    assert changing == ["recipe", "model", "epochs", "lr", "seed", "dataset"]
    assert ordered_settings(settings) == [*changing, "task", "image", "batch"]
    assert ordered_settings(settings, hide_constant=True) == changing
    assert differing(settings[:1]) == []


def test_the_config_diff_of_two_runs_says_what_changed(tmp_path):
    a, b = two_runs_of_one_model(tmp_path / "runs")
    diff = config_diff(read_run(a).config, read_run(b).config)
    assert diff == [("recipe.lr", "0.001", "0.0003")]  # run_id differs, but is not a setting
    c = recorded_run(tmp_path / "runs", "20260316-101010-cnn3", model="cnn3", recipe="cnn3", synthetic=True,
                     data="pneumo-demo-data", settings={"seed": 3})
    keys = [k for k, _, _ in config_diff(read_run(a).config, read_run(c).config)]
    assert keys[:2] == ["model", "recipe.name"] and "recipe.seed" in keys and "data.synthetic" in keys
    assert ("recipe.seed", "-", "3") in config_diff(read_run(a).config, read_run(c).config)
    assert config_diff("hostile", [1]) == []


def test_two_writers_tagging_at_once_lose_neither_tag(tmp_path):
    import threading

    (run,) = two_runs_of_one_model(tmp_path / "runs")[:1]
    threads = [threading.Thread(target=tag_run, args=(run, [f"t{i}"])) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(read_meta(run).tags) == [f"t{i}" for i in range(8)]


def test_a_reader_sees_a_rename_made_meanwhile_as_a_change(tmp_path):
    from training.run.state import RunReader

    (run,) = two_runs_of_one_model(tmp_path / "runs")[:1]
    reader = RunReader(run)
    reader.poll()
    version = reader.version
    assert not reader.poll()  # nothing new
    rename_run(run, "renamed meanwhile")
    assert reader.poll() and reader.version == version + 1
    assert reader.summary().name == "renamed meanwhile"


def test_the_task_is_a_settings_column_and_a_config_from_before_tasks_reads_as_pneumonia():
    from training.run.settings import run_settings

    old = {"model": "cnn3", "recipe": {"name": "cnn3", "epochs": 5}}
    subtype = {"model": "cnn3", "recipe": {"name": "cnn3", "epochs": 5, "task": "subtype"}}
    assert run_settings(old)["task"] == "pneumonia" and run_settings(subtype)["task"] == "subtype"
    assert run_settings({})["task"] == "-"  # no config at all says nothing
    assert differing([run_settings(old), run_settings(subtype)]) == ["task"]
