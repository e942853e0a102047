"""Every numeric recipe key has a valid range, checked before any run folder exists; a step that would not fit is
refused with its figures; a diverging loss fails the run (tests/test_trainer.py)."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.engine.recipes import RANGES, RecipeError, key_rules, load_recipe, recipe_keys

runner = CliRunner()

BAD = ["lr=nan", "lr=inf", "label_smoothing=nan", "dropout=5", "weight_decay=-1", "zoom=-5", "rotation=nan",
       "warmup_epochs=-3", "plateau_factor=5", "seed=-1", f"seed={2**70}", "image_size=5000", "epochs=0",
       "epochs=true", "tta=9", "batch_size=1e400"]


@pytest.mark.parametrize("override", BAD)
def test_a_value_out_of_range_is_one_line_before_any_run_folder(demo_root, tmp_path, override):
    # These gave tracebacks, empty run folders, or runs that "completed" with NaN losses.
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--set", override, "--runs", str(runs)])
    key = override.split("=")[0]
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and repr(key) in errors[0], result.output
    assert not runs.exists() or not [p for p in runs.iterdir() if not p.name.startswith(".")]


def test_every_numeric_key_has_a_documented_range():
    numeric = {k for k, kind in recipe_keys().items() if kind in (int, float)}
    assert numeric == set(RANGES)
    shown = {key: valid for key, _, _, valid in key_rules()}
    assert shown["lr"] == "(0, 10]" and shown["seed"] == "[0, 4294967295]" and shown["fit"] == "squash | letterbox"
    listing = runner.invoke(app, ["models", "--keys"], env={"COLUMNS": "200"}).stdout
    assert all(key in listing for key in recipe_keys())


def test_the_shipped_recipes_are_within_range():
    from training.engine.recipes import recipe_names

    for name in recipe_names():
        load_recipe(name)  # raises RecipeError when a shipped value is out of range


def test_a_step_that_would_not_fit_is_refused_with_its_figures(demo_root, tmp_path, monkeypatch):
    import training.engine.memory as memory

    monkeypatch.setattr(memory, "free_memory", lambda device: 10 * 2**20)  # 10 MB free
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--set", "image_size=64",
                                 "--runs", str(runs)])
    assert result.exit_code == 1, result.output
    assert "a training step needs about" in result.output and "lower image_size or batch_size" in result.output
    assert not [p for p in runs.iterdir() if not p.name.startswith(".")] if runs.exists() else True


def test_measuring_a_step_changes_neither_the_model_nor_the_random_state():
    from training.engine.memory import step_memory
    from training.models import build_model

    model = build_model("resnet_small", 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    need = step_memory(model, 64)
    assert need.per_image > 0 and need.fixed > 0
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BatchNorm statistics too


def test_a_cache_that_would_not_fit_the_disk_is_refused_with_its_figures(demo_root, tmp_path, monkeypatch):
    import collections

    import training.data.cache as cache

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(cache.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["train", "cnn3", "--data", str(demo_root), "--set", "image_size=64",
                                 "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "cache of" in result.output and "GB are free" in result.output


def test_recipe_error_names_the_range():
    with pytest.raises(RecipeError, match=r"'dropout' must be in \[0, 1\), got 5.0"):
        load_recipe("cnn3", ["dropout=5"])
