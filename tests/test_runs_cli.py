"""``pneumo runs``: whole run ids in a pipe and at 80 columns, sort, filter, settings, and the run management
subcommands (rename, tag, note, archive, delete, diff)."""

import json

import pytest
from runs_fixtures import a_busy_runs_folder, recorded_run, two_runs_of_one_model
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.run.lock import RunLock
from training.run.paths import archive_dir

runner = CliRunner()


@pytest.fixture
def busy(tmp_path):
    runs = tmp_path / "runs"
    return runs, a_busy_runs_folder(runs)


def _ids(runs, *args, env=None) -> list[str]:
    result = runner.invoke(app, ["runs", "--runs", str(runs), *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return [r["run_id"] for r in json.loads(result.stdout)]


def test_in_a_pipe_every_run_id_is_printed_whole(busy):
    runs, made = busy
    result = runner.invoke(app, ["runs", "--runs", str(runs)])  # stdout is not a terminal, no COLUMNS: a pipe
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for run in made:
        assert any(run.name in line for line in lines), run.name
    assert "0.380 (sensitivity>=0.95 on val)" in result.stdout  # every column whole too
    assert "…" not in result.stdout


@pytest.mark.parametrize("args", [[], ["--settings"], ["--settings", "--hide-constant"]])
def test_at_80_columns_every_run_id_is_whole_and_no_line_is_wider(busy, args):
    runs, made = busy
    result = runner.invoke(app, ["runs", "--runs", str(runs), *args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    for run in made:
        assert any(run.name in line for line in out.splitlines()), run.name
    if not args:
        for header in ("status", "recipe (model)", "acc", "sens", "spec"):
            assert header in out, header
        assert "0.979" in out and "left out at 80 columns" in result.stderr


def test_the_settings_that_differ_come_first_and_constant_ones_hide(busy):
    runs, _ = busy
    out = runner.invoke(app, ["runs", "--runs", str(runs), "--settings"], env={"COLUMNS": "200"}).stdout
    header = next(line for line in out.splitlines() if "run" in line and "status" in line)
    names = [w for w in header.replace("┃", " ").split() if w not in ("run", "status")]
    assert names[:6] == ["recipe*", "model*", "epochs*", "lr*", "seed*", "dataset*"]
    assert names[6:9] == ["task", "image", "batch"]
    hidden = runner.invoke(app, ["runs", "--runs", str(runs), "--hide-constant"], env={"COLUMNS": "200"}).stdout
    header = next(line for line in hidden.splitlines() if "run" in line and "status" in line)
    assert "image" not in header and "batch" not in header and "lr*" in header
    assert "every run: task pneumonia, image 224, batch 32" in hidden


def test_sort_by_any_column_and_filter_by_text(busy):
    runs, _ = busy
    by_lr = _ids(runs, "--sort", "lr")
    assert by_lr[0] == "20260315-160512-best"  # lr 0.0003, the only one below 0.001
    by_acc = _ids(runs, "--sort", "acc")
    assert by_acc[0] == "20260315-142233-best" and by_acc[-1] == "20260316-091500-resnet_small"  # none: last
    assert _ids(runs, "--sort", "acc", "--reverse")[0] == "20260316-101010-cnn3"
    assert _ids(runs, "--sort", "seed")[:5] == [f"20260317-0{i}0000-densenet_tiny-{i + 1}" for i in range(5)]
    bad = runner.invoke(app, ["runs", "--runs", str(runs), "--sort", "colour"])
    assert bad.exit_code == 1 and "no column 'colour'" in bad.output and "Traceback" not in bad.output
    assert _ids(runs, "--filter", "demo") == ["20260316-101010-cnn3"]  # the data's name
    assert len(_ids(runs, "--filter", "DENSENET")) == 5
    runner.invoke(app, ["runs", "--runs", str(runs), "note", "20260315-1605", "augmentation off by mistake"])
    runner.invoke(app, ["runs", "--runs", str(runs), "tag", "20260317-02", "keeper"])
    assert _ids(runs, "--filter", "augmentation") == ["20260315-160512-best"]
    assert _ids(runs, "--filter", "keeper densenet") == ["20260317-020000-densenet_tiny-3"]


def test_a_renamed_run_keeps_its_id_and_is_found_by_name_and_by_id(tmp_path):
    runs = tmp_path / "runs"
    a, _ = two_runs_of_one_model(runs)
    result = runner.invoke(app, ["runs", "rename", a.name, "lr 1e-3 baseline", "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    assert a.is_dir()  # same folder, same id
    listed = json.loads(runner.invoke(app, ["runs", "--runs", str(runs), "--json"]).stdout)
    assert listed[0]["run_id"] == a.name and listed[0]["name"] == "lr 1e-3 baseline"
    for ref in ("lr 1e-3 baseline", a.name):  # by name and by id, in every command that takes a run
        shown = runner.invoke(app, ["eval", ref, "--runs", str(runs), "--split", "test", "--json"])
        assert "no run named" not in shown.output, ref
        tagged = runner.invoke(app, ["runs", "tag", ref, "baseline", "--runs", str(runs)])
        assert tagged.exit_code == 0 and tagged.stdout.startswith(a.name), tagged.output
    table = runner.invoke(app, ["runs", "--runs", str(runs)]).stdout
    assert a.name in table and '"lr 1e-3 baseline" #baseline' in table
    again = runner.invoke(app, ["runs", "rename", "20260315-1605", "lr 1e-3 baseline", "--runs", str(runs)])
    assert again.exit_code == 1 and "already called" in again.output


def test_markup_in_a_name_tag_or_note_is_shown_as_text(tmp_path):
    runs = tmp_path / "runs"
    a, _ = two_runs_of_one_model(runs)
    assert runner.invoke(app, ["runs", "rename", a.name, "[bold]x", "--runs", str(runs)]).exit_code == 0
    assert runner.invoke(app, ["runs", "tag", a.name, "[/]", "--runs", str(runs)]).exit_code == 0
    assert runner.invoke(app, ["runs", "note", a.name, "[link=x]y", "--runs", str(runs)]).exit_code == 0
    out = runner.invoke(app, ["runs", "--runs", str(runs)])
    assert out.exit_code == 0 and '"[bold]x" #[/]' in out.stdout
    assert runner.invoke(app, ["runs", "--runs", str(runs), "--filter", "[link=x]"]).exit_code == 0


def test_delete_refuses_a_running_run_and_asks_before_deleting(tmp_path):
    runs = tmp_path / "runs"
    run = recorded_run(runs, "20260401-000000-cnn3", model="cnn3", recipe="cnn3", finished=False)
    with RunLock(run):  # a trainer writes it
        result = runner.invoke(app, ["runs", "delete", run.name, "--yes", "--runs", str(runs)])
        assert result.exit_code == 1 and "running" in result.output and "stop it first" in result.output
        assert run.is_dir()
        archived = runner.invoke(app, ["runs", "archive", run.name, "--runs", str(runs)])
        assert archived.exit_code == 1 and "running" in archived.output and run.is_dir()
    kept = runner.invoke(app, ["runs", "delete", run.name, "--runs", str(runs)], input="n\n")
    assert kept.exit_code == 1 and "not deleted" in kept.output and run.is_dir()
    gone = runner.invoke(app, ["runs", "delete", run.name, "--runs", str(runs)], input="y\n")
    assert gone.exit_code == 0 and "delete" in gone.output and not run.exists()


def test_archive_hides_a_run_until_asked_and_unarchive_restores_it(tmp_path):
    runs = tmp_path / "runs"
    a, b = two_runs_of_one_model(runs)
    result = runner.invoke(app, ["runs", "archive", a.name, "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    assert (archive_dir(runs) / a.name).is_dir()
    assert _ids(runs) == [b.name]
    assert _ids(runs, "--archived") == [a.name]
    assert runner.invoke(app, ["runs", "unarchive", a.name, "--runs", str(runs)]).exit_code == 0
    assert _ids(runs) == [a.name, b.name]


def test_diff_says_what_changed_between_two_configs(tmp_path):
    runs = tmp_path / "runs"
    a, b = two_runs_of_one_model(runs)
    out = runner.invoke(app, ["runs", "diff", a.name, b.name, "--runs", str(runs)], env={"COLUMNS": "120"})
    assert out.exit_code == 0, out.output
    assert "recipe.lr" in out.stdout and "0.001" in out.stdout and "0.0003" in out.stdout
    assert "run_id" not in out.stdout
    as_json = json.loads(runner.invoke(app, ["runs", "diff", a.name, b.name, "--runs", str(runs), "--json"]).stdout)
    assert as_json == [{"key": "recipe.lr", "a": "0.001", "b": "0.0003"}]
    same = runner.invoke(app, ["runs", "diff", a.name, a.name, "--runs", str(runs)])
    assert same.exit_code == 0 and "the same config" in same.stdout


def test_pneumo_runs_without_a_subcommand_lists_as_before(busy):
    runs, made = busy
    result = runner.invoke(app, ["runs", "--runs", str(runs)], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for header in ("run", "status", "recipe (model)", "data", "epochs", "best (val)", "operating point",
                   "test acc", "test sens", "test spec", "test auc"):
        assert header in result.stdout
    assert len(_ids(runs)) == len(made)


def test_a_long_name_wraps_under_its_id_and_the_figures_stay_at_80_columns(busy):
    runs, made = busy
    name = "a_long_name_for_the_first_densenet_run_of_the_sweep"
    assert runner.invoke(app, ["runs", "rename", made[4].name, name, "--runs", str(runs)]).exit_code == 0
    out = runner.invoke(app, ["runs", "--runs", str(runs)], env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "0.979" in out and "0.850" in out  # the test figures are still there
    assert all(any(run.name in line for line in out.splitlines()) for run in made)
    assert name[:20] in out.replace("\n", "")
