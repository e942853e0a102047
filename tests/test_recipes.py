"""Recipes: shipped TOMLs, the study's settings, overrides with type checks, bases (extends)."""

import subprocess
import sys
from pathlib import Path

import pytest

from training.engine.recipes import (
    RecipeError,
    base_names,
    load_recipe,
    recipe_extends,
    recipe_names,
    recipe_values,
)
from training.models import model_names

STUDY = ["baseline", "cnn1", "cnn3", "resnet50"]


def test_every_model_has_a_recipe_and_every_recipe_loads():
    assert set(model_names()) <= set(recipe_names())
    for name in recipe_names():
        recipe = load_recipe(name)
        # A model's own recipe trains that model; a named recipe (e.g. "best") names one of them.
        assert recipe.model == name or (name not in model_names() and recipe.model in model_names())
        assert recipe.description


@pytest.mark.parametrize("name", STUDY)
def test_study_models_use_the_study_recipe(name):
    r = load_recipe(name)
    assert (r.optimizer, r.lr, r.batch_size, r.epochs, r.image_size) == ("adam", 1e-3, 32, 10, 200)
    assert r.class_weights == "balanced"
    assert (r.rotation, r.zoom, r.width_shift, r.height_shift, r.hflip) == (20.0, 0.2, 0.2, 0.2, False)
    assert (r.early_stopping_metric, r.early_stopping_patience) == ("val_loss", 3)
    assert (r.scheduler, r.plateau_factor, r.plateau_patience, r.min_lr) == ("plateau", 0.2, 2, 1e-6)


def test_modern_recipe_is_its_own():
    r = load_recipe("resnet_small")
    assert r.optimizer == "adamw" and r.scheduler == "cosine" and r.best_metric == "val_auc"


def test_overrides_are_coerced_to_the_key_type():
    r = load_recipe("cnn3", ["epochs=2", "lr=3e-4", "hflip=yes", "image_size=64", "fit=letterbox"])
    assert (r.epochs, r.lr, r.hflip, r.image_size, r.fit) == (2, 3e-4, True, 64, "letterbox")
    assert load_recipe("cnn3", {"batch_size": "8"}).batch_size == 8


@pytest.mark.parametrize(
    "override, message",
    [
        ("epoch=2", "unknown recipe key 'epoch'"),
        ("epochs=two", "'epochs' wants int"),
        ("epochs=2.5", "'epochs' wants int"),
        ("hflip=maybe", "'hflip' wants bool"),
        ("optimizer=rmsprop", "'optimizer' must be one of"),
        ("best_metric=test_auc", "'best_metric' must be one of"),
        ("epochs=0", r"'epochs' must be in \[1, 10000\]"),
        ("epochs", "wants key=value"),
    ],
)
def test_bad_overrides_are_one_line_errors(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("cnn3", [override])


def test_unknown_recipe_and_unknown_key_in_a_file(tmp_path):
    with pytest.raises(RecipeError, match="no recipe 'nope'"):
        load_recipe("nope")
    bad = tmp_path / "mine.toml"
    bad.write_text('model = "cnn3"\nepocs = 3\n')
    with pytest.raises(RecipeError, match="unknown recipe key.*epocs"):
        load_recipe(str(bad))


# --------------------------------------------------------------------------- extends


def _write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_child_overrides_its_base_and_keeps_the_rest(tmp_path):
    _write(tmp_path, "base.toml", 'model = "cnn3"\nepochs = 7\nlr = 0.01\nrotation = 5.0\n')
    child = _write(tmp_path, "child.toml", 'extends = "base.toml"\ndescription = "mine"\nepochs = 2\n')
    r = load_recipe(str(child))
    assert (r.model, r.epochs, r.lr, r.rotation, r.description) == ("cnn3", 2, 0.01, 5.0, "mine")
    assert recipe_values(str(child)) == {"model": "cnn3", "epochs": 2, "lr": 0.01, "rotation": 5.0,
                                         "description": "mine"}
    assert recipe_extends(str(child)) == "base.toml"


def test_a_chain_merges_nearest_last_and_the_set_overrides_go_on_top(tmp_path):
    _write(tmp_path, "a.toml", 'model = "cnn1"\nepochs = 3\nbatch_size = 4\nlr = 0.1\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\nbatch_size = 8\nlr = 0.2\n')
    c = _write(tmp_path, "c.toml", 'extends = "b.toml"\nlr = 0.3\n')
    r = load_recipe(str(c))
    assert (r.model, r.epochs, r.batch_size, r.lr) == ("cnn1", 3, 8, 0.3)
    r = load_recipe(str(c), ["lr=0.4", "epochs=1"])
    assert (r.epochs, r.batch_size, r.lr) == (1, 8, 0.4)


def test_a_users_file_extends_a_shipped_recipe_by_name(tmp_path):
    mine = _write(tmp_path, "mine.toml", 'extends = "best"\nepochs = 2\n')
    best, r = load_recipe("best"), load_recipe(str(mine))
    assert r.name == "mine"  # a recipe is named by its file
    assert r.epochs == 2 and r.replace(epochs=best.epochs, description=best.description, name=best.name) == best


def test_description_is_never_inherited(tmp_path):
    _write(tmp_path, "base.toml", 'model = "cnn3"\ndescription = "the base"\n')
    child = _write(tmp_path, "child.toml", 'extends = "base.toml"\nepochs = 2\n')
    assert load_recipe(str(child)).description == ""
    assert "description" not in recipe_values(str(child))


@pytest.mark.parametrize(
    "extends, message",
    [
        ('"nope"', r"child\.toml: extends unknown recipe 'nope'; shipped: .*cnn3.*_study"),
        ('"missing.toml"', r"child\.toml: extends 'missing.toml', but there is no file"),
        ('"../recipes/best"', r"child\.toml: extends '../recipes/best', which is not in .*give a \.toml path"),
        ('"/etc/passwd"', r"child\.toml: extends '/etc/passwd', which is not in"),
        ("3", r"child\.toml: extends wants a recipe name or a \.toml path, got 3"),
    ],
)
def test_a_bad_base_is_a_one_line_error_naming_the_file(tmp_path, extends, message):
    child = _write(tmp_path, "child.toml", f"extends = {extends}\nepochs = 2\n")
    with pytest.raises(RecipeError, match=message) as caught:
        load_recipe(str(child))
    assert "\n" not in str(caught.value)


def test_a_cycle_is_a_one_line_error_naming_the_file(tmp_path):
    a = _write(tmp_path, "a.toml", 'extends = "b.toml"\nmodel = "cnn3"\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RecipeError, match=r"b\.toml: extends 'a.toml' makes a cycle: a\.toml -> b\.toml -> a\.toml"):
        load_recipe(str(a))
    selfish = _write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    with pytest.raises(RecipeError, match="cycle"):
        recipe_values(str(selfish))


def test_an_unknown_key_in_a_base_names_the_base(tmp_path):
    _write(tmp_path, "base.toml", 'model = "cnn3"\nepocs = 3\n')
    child = _write(tmp_path, "child.toml", 'extends = "base.toml"\n')
    with pytest.raises(RecipeError, match=r"base\.toml: unknown recipe key\(s\) epocs"):
        load_recipe(str(child))


def test_bases_are_extended_not_offered():
    assert base_names() and not set(base_names()) & set(recipe_names())
    assert all(recipe_extends(name) for name in recipe_names())  # every shipped recipe states only its differences
    with pytest.raises(RecipeError, match="'_study' is a base for other recipes"):
        load_recipe("_study")


def test_the_app_offers_every_recipe_merged_best_first():
    from pneumo_tui.screens.train import recipe_choices

    choices = dict(recipe_choices())
    assert list(choices)[0] == "best" and set(choices) == set(recipe_names())
    assert all(values == recipe_values(name) for name, values in choices.items())
    # what the Train form fills in comes from the bases
    assert (choices["cnn3"]["epochs"], choices["cnn3"]["batch_size"], choices["best"]["lr"]) == (10, 32, 2e-3)


def test_reading_recipes_imports_no_torch():
    code = ("import sys\n"
            "from training.engine.recipes import recipe_extends, recipe_names, recipe_values\n"
            "values = {n: (recipe_values(n), recipe_extends(n)) for n in recipe_names()}\n"
            "assert all(v['model'] for v, _ in values.values())\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("key, value, typed", [("lr", "3e-4", 3e-4), ("hflip", "yes", True), ("epochs", "2", 2),
                                               ("threshold", "sensitivity>=0.95", "sensitivity>=0.95")])
def test_check_setting_types_a_good_value_without_torch(key, value, typed):
    from training.engine.recipes import check_setting

    assert check_setting(key, value) == typed


@pytest.mark.parametrize("text, message", [
    ("lr=abc", "lr=abc: recipe key 'lr' wants float, got 'abc'"),
    ("hflip=true rotation=400", "rotation=400: recipe key 'rotation' must be in [0, 180], got 400.0"),
    ("scheduler=step", "scheduler=step: recipe key 'scheduler' must be one of plateau, cosine, none, got 'step'"),
    ("best_metric=test_auc", "best_metric=test_auc: recipe key 'best_metric' must be one of"),
    ("threshold=sometimes", "threshold=sometimes: recipe key 'threshold':"),
    ("lr", "lr: --set wants key=value, got 'lr'"),
    ("epoch=3", "epoch=3: unknown recipe key 'epoch'"),
])
def test_parse_settings_names_the_bad_entry_in_one_line(text, message):
    from training.engine.recipes import parse_settings

    with pytest.raises(RecipeError) as error:
        parse_settings(text)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_parse_settings_takes_entries_apart_by_spaces_or_commas():
    from training.engine.recipes import parse_settings

    assert parse_settings(" lr=0.01, hflip=true  tta=5 ") == {"lr": "0.01", "hflip": "true", "tta": "5"}


def test_the_checks_without_torch_agree_with_load_recipe():
    """Every value check_setting refuses, load_recipe refuses too, and the other way round (same ranges)."""
    from training.engine.recipes import check_setting

    for key, value in [("lr", "0"), ("tta", "9"), ("dropout", "1"), ("epochs", "1"), ("fit", "letterbox"),
                       ("early_stopping_metric", "val_auc"), ("threshold", "2")]:
        try:
            check_setting(key, value)
            refused = False
        except RecipeError:
            refused = True
        try:
            load_recipe("cnn3", [f"{key}={value}"])
            loads = True
        except RecipeError:
            loads = False
        assert refused != loads, (key, value)


def test_the_demo_recipe_is_cnn3_at_64_px_without_augmentation():
    r = load_recipe("demo")
    assert (r.model, r.image_size, r.batch_size, r.epochs, r.scheduler) == ("cnn3", 64, 8, 12, "none")
    assert (r.rotation, r.zoom, r.width_shift, r.height_shift) == (0, 0, 0, 0)
    assert "SYNTHETIC" in r.description
