"""Recipes: shipped TOMLs, the study's settings, overrides with type checks."""

import pytest

from training.engine.recipes import RecipeError, load_recipe, recipe_names
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
        ("epochs=0", "'epochs' must be at least 1"),
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
