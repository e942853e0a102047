"""Training recipes: one TOML per model in ``training/engine/recipes/``, every key overridable.

    recipe = load_recipe("cnn3", ["epochs=2", "image_size=64"])

The keys and their defaults are the fields of ``Recipe``; a TOML file or an
override naming any other key is an error, so a typo never trains silently
with the default.

A file may start from another recipe with ``extends = "name"`` (a shipped
recipe or base by name, or a ``.toml`` path relative to the file) and state
only what differs: its keys replace the base's merged keys, bases may extend
further, and ``description`` is never inherited. Bases that are no recipe on
their own (no model) are named with a leading underscore (``_study.toml``) and
are not listed by ``recipe_names``.

Reading a recipe (``recipe_values``, ``recipe_extends``, ``recipe_names``)
needs no torch; only ``load_recipe``'s validation imports the model zoo.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from training.core.errors import PneumoError
from training.core.tasks import TASKS
from training.run.schema import VAL_LOSS, VAL_METRICS

RECIPES_DIR = Path(__file__).parent  # the shipped TOML files sit beside this module
BASE_PREFIX = "_"  # a shipped file named _*.toml is a base to extend, not a recipe to train


class RecipeError(PneumoError, ValueError):
    """A recipe that cannot be used as written (unknown key, bad value)."""


@dataclass
class Recipe:
    model: str
    name: str = ""  # the recipe it came from (the TOML file's name, e.g. "best"); set by load_recipe, not by a file
    description: str = ""
    # data
    task: str = "pneumonia"  # pneumonia: NORMAL vs PNEUMONIA | subtype: VIRAL vs BACTERIAL (pneumonia images only)
    image_size: int = 200
    fit: str = "squash"
    val_fraction: float = 0.1
    split_seed: int = 0
    val_split: str = "auto"  # carve | block | official | auto (official for a .npz, carved otherwise)
    # optimisation
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "plateau"
    plateau_factor: float = 0.2
    plateau_patience: int = 2
    min_lr: float = 1e-6
    warmup_epochs: int = 0
    class_weights: str = "balanced"
    label_smoothing: float = 0.0
    # augmentation
    rotation: float = 20.0
    zoom: float = 0.2
    width_shift: float = 0.2
    height_shift: float = 0.2
    hflip: bool = False
    gamma: float = 0.0  # exposure: log-uniform gamma in 1/(1+g)..(1+g)
    contrast: float = 0.0  # exposure: contrast factor in 1 +- c
    brightness: float = 0.0  # exposure: brightness shift +- b (pixels in [0, 1])
    equalize: bool = False  # histogram-equalize each image inside the model (training.models.equalize)
    # selection and stopping
    best_metric: str = VAL_LOSS
    early_stopping_metric: str = VAL_LOSS
    early_stopping_patience: int = 3
    # operating point, chosen on val at the end: "0.5" (any number), "youden", "sensitivity>=0.95"
    threshold: str = "0.5"
    tta: int = 1  # test-time augmentation: views averaged in the final val/test predictions (1 = none)
    # model options
    pretrained: bool = False
    dropout: float = 0.5
    # machine
    seed: int = 0
    amp: bool = True
    channels_last: bool = True
    eval_batch_size: int = 64

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> Recipe:
        return _validated(dataclasses.replace(self, **changes))


_CHOICES = {
    "task": tuple(TASKS),
    "fit": ("squash", "letterbox"),
    "optimizer": ("adam", "adamw", "sgd"),
    "scheduler": ("plateau", "cosine", "none"),
    "class_weights": ("balanced", "none"),
    "val_split": ("auto", "carve", "block", "official"),
}
_VAL_METRICS = VAL_METRICS


def recipe_keys() -> dict[str, type]:
    """The keys a recipe file or ``--set`` may give, with their types."""
    return {f.name: _field_type(f) for f in dataclasses.fields(Recipe) if f.name not in _NOT_SETTABLE}


_NOT_SETTABLE = ("name",)  # a recipe's name is its file's


def recipe_names() -> list[str]:
    """Every shipped recipe that trains as it is (the bases, ``_*.toml``, left out)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml") if not p.stem.startswith(BASE_PREFIX))


def base_names() -> list[str]:
    """The shipped bases: files other recipes extend, not trainable on their own."""
    return sorted(p.stem for p in RECIPES_DIR.glob(f"{BASE_PREFIX}*.toml"))


def recipe_path(name: str) -> Path:
    """A shipped recipe by name, or a path to a TOML file."""
    if name.endswith(".toml"):
        path = Path(name)
    else:
        path = _shipped(name)
        if path is not None and path.is_file() and name.startswith(BASE_PREFIX):
            raise RecipeError(f"{name!r} is a base for other recipes to extend, not a recipe; "
                              f"shipped recipes: {', '.join(recipe_names())}")
    if path is None or not path.is_file():
        raise RecipeError(f"no recipe {name!r}; shipped recipes: {', '.join(recipe_names())}")
    return path


def recipe_values(name: str) -> dict:
    """The recipe ``name`` (a shipped name or a .toml path) as raw TOML values, its bases merged in.

    Key names are checked (each file against ``Recipe``'s fields), values are not: that is
    ``load_recipe``'s job. ``model`` defaults to the file's name, as in a file without bases.
    """
    path = recipe_path(name)
    values = _merged(path, ())
    values.setdefault("model", path.stem)
    return values


def recipe_extends(name: str) -> str | None:
    """The base the recipe file ``name`` extends, as the file writes it (None for none)."""
    path = recipe_path(name)
    return _read(path).get("extends")


def load_recipe(name: str, overrides: list[str] | dict | None = None) -> Recipe:
    """The recipe ``name`` (a model name or a .toml path) with ``key=value`` overrides applied."""
    path = recipe_path(name)
    recipe = recipe_from_dict(recipe_values(name), source=str(path))
    return apply_overrides(dataclasses.replace(recipe, name=path.stem), overrides or [])


def _shipped(name: str) -> Path | None:
    """The shipped file called ``name``, or None for a name that would leave the recipes folder."""
    if not name or Path(name).name != name or "\\" in name:  # "../x", "sub/x", "/etc/x": not a name here
        return None
    return RECIPES_DIR / f"{name}.toml"


def _read(path: Path) -> dict:
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from None
    unknown = sorted(set(values) - set(recipe_keys()) - {"extends"})
    if unknown:
        raise RecipeError(f"{path}: unknown recipe key(s) {', '.join(unknown)}")
    return values


def _merged(path: Path, chain: tuple[Path, ...]) -> dict:
    """``path``'s values over its base's merged values (``chain``: the files that led here)."""
    chain = (*chain, path.resolve())
    values = _read(path)
    base = values.pop("extends", None)
    if base is None:
        return values
    base_path = _base_path(path, base)
    if base_path.resolve() in chain:
        loop = " -> ".join(p.name for p in (*chain, base_path.resolve()))
        raise RecipeError(f"{path}: extends {base!r} makes a cycle: {loop}")
    merged = _merged(base_path, chain)
    merged.pop("description", None)  # each recipe says what it is itself
    merged.update(values)
    return merged


def _base_path(path: Path, base) -> Path:
    """The file ``extends = base`` in ``path`` names: a shipped name, or a .toml path beside ``path``."""
    if not isinstance(base, str) or not base.strip():
        raise RecipeError(f"{path}: extends wants a recipe name or a .toml path, got {base!r}")
    if base.endswith(".toml"):
        base_path = path.parent / Path(base).expanduser()
        if not base_path.is_file():
            raise RecipeError(f"{path}: extends {base!r}, but there is no file {base_path}")
        return base_path
    base_path = _shipped(base)
    if base_path is None:
        raise RecipeError(f"{path}: extends {base!r}, which is not in {RECIPES_DIR}; "
                          "name a shipped recipe or give a .toml path")
    if not base_path.is_file():
        known = ", ".join([*recipe_names(), *base_names()])
        raise RecipeError(f"{path}: extends unknown recipe {base!r}; shipped: {known}")
    return base_path


def recipe_from_dict(values: dict, source: str = "recipe") -> Recipe:
    """A recipe from a dict of values (a merged file, or a run's config.json, which also holds its name)."""
    keys = {**recipe_keys(), "name": str}
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise RecipeError(f"{source}: unknown recipe key(s) {', '.join(unknown)}")
    if "model" not in values:
        raise RecipeError(f"{source}: no model named")
    typed = {k: coerce(k, v, keys[k]) for k, v in values.items()}
    return _validated(Recipe(**typed))


def apply_overrides(recipe: Recipe, overrides: list[str] | dict) -> Recipe:
    pairs = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides)
    keys = recipe_keys()
    changes = {}
    for key, value in pairs:
        if key not in keys:
            raise RecipeError(f"unknown recipe key {key!r} in --set; known keys: {', '.join(keys)}")
        changes[key] = coerce(key, value, keys[key])
    return recipe.replace(**changes)


def parse_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set wants key=value, got {text!r}")
    return key.strip(), value.strip()


def coerce(key: str, value, kind: type):
    """Turn a TOML or command-line value into the key's type, or say why not."""
    try:
        if kind is bool:
            return _to_bool(value)
        if isinstance(value, bool):
            raise ValueError  # true is no number of epochs
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        raise RecipeError(f"recipe key {key!r} wants {kind.__name__}, got {_short(value)}") from None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _field_type(field: dataclasses.Field) -> type:
    return {"int": int, "float": float, "bool": bool, "str": str}[
        field.type if isinstance(field.type, str) else field.type.__name__]


@dataclass(frozen=True)
class Range:
    """A numeric key's valid values: ``[low, high]``, each end open or closed; never NaN or infinity."""

    low: float
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def __str__(self) -> str:
        high = "inf)" if math.isinf(self.high) else f"{_number(self.high)}{')' if self.open_high else ']'}"
        return f"{'(' if self.open_low else '['}{_number(self.low)}, {high}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


MAX_SEED = 2**32 - 1  # numpy's seeds stop there
MAX_IMAGE_SIZE = 1024  # the zoo's models and the cache are built for X-rays downsized to at most this
RANGES: dict[str, Range] = {
    "image_size": Range(16, MAX_IMAGE_SIZE),
    "val_fraction": Range(0, 1, open_high=True),
    "split_seed": Range(0, MAX_SEED),
    "epochs": Range(1, 10_000),
    "batch_size": Range(1, 65_536),
    "lr": Range(0, 10, open_low=True),
    "weight_decay": Range(0, 10),
    "plateau_factor": Range(0, 1, open_low=True, open_high=True),
    "plateau_patience": Range(0, 10_000),
    "min_lr": Range(0, 10),
    "warmup_epochs": Range(0, 10_000),
    "label_smoothing": Range(0, 1, open_high=True),
    "rotation": Range(0, 180),
    "zoom": Range(0, 1, open_high=True),
    "width_shift": Range(0, 1, open_high=True),
    "height_shift": Range(0, 1, open_high=True),
    "gamma": Range(0, 1, open_high=True),
    "contrast": Range(0, 1, open_high=True),
    "brightness": Range(0, 1, open_high=True),
    "early_stopping_patience": Range(0, 10_000),
    "tta": Range(1, 8),
    "dropout": Range(0, 1, open_high=True),
    "seed": Range(0, MAX_SEED),
    "eval_batch_size": Range(1, 65_536),
}


def key_rules() -> list[tuple[str, str, object, str]]:
    """``(key, type, default, valid values)`` of every key a recipe or ``--set`` may give (``pneumo models --keys``)."""
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe)}
    rules = []
    for key, kind in recipe_keys().items():
        if key in RANGES:
            valid = str(RANGES[key])
        elif key in _CHOICES:
            valid = " | ".join(_CHOICES[key])
        elif key in ("best_metric", "early_stopping_metric"):
            valid = " | ".join(_VAL_METRICS)
        elif key == "threshold":
            valid = 'a number in [0, 1] | "youden" | "sensitivity>=S"'
        elif key == "model":
            valid = "a model of pneumo models"
        else:
            valid = "true | false" if kind is bool else "any text"
        default = defaults[key]
        rules.append((key, kind.__name__, None if default is dataclasses.MISSING else default, valid))
    return rules


def check_setting(key: str, value) -> object:
    """One ``key=value`` setting checked as ``load_recipe`` checks it, without torch (the app's form checks every
    entry as it is typed): a known key, its type, its choices or its range, a threshold rule. Returns the value in
    the key's type; raises RecipeError in one line. ``model`` is checked against the zoo only by ``load_recipe``."""
    keys = recipe_keys()
    if key not in keys:
        raise RecipeError(f"unknown recipe key {key!r} (pneumo models --keys lists them)")
    typed = coerce(key, value, keys[key])
    allowed = _CHOICES.get(key) or (_VAL_METRICS if key in ("best_metric", "early_stopping_metric") else None)
    if allowed and typed not in allowed:
        raise RecipeError(f"recipe key {key!r} must be one of {', '.join(allowed)}, got {typed!r}")
    if key in RANGES and typed not in RANGES[key]:
        raise RecipeError(f"recipe key {key!r} must be in {RANGES[key]}, got {typed!r}")
    if key == "threshold":
        from training.metrics.thresholds import parse_threshold_rule

        try:
            parse_threshold_rule(typed)
        except ValueError as exc:
            raise RecipeError(f"recipe key 'threshold': {exc}") from None
    return typed


def parse_settings(text: str) -> dict[str, str]:
    """``"lr=3e-4 hflip=true"`` (spaces or commas between entries) as ``{key: value}``, each entry checked by
    ``check_setting``; the first bad entry raises RecipeError in one line that names it."""
    settings = {}
    for entry in text.replace(",", " ").split():
        try:
            key, value = parse_override(entry)
            check_setting(key, value)
        except RecipeError as exc:
            raise RecipeError(f"{entry}: {exc}") from None
        settings[key] = value
    return settings


def _validated(recipe: Recipe) -> Recipe:
    # Imported here, not at the top: torch comes only when a recipe is really loaded for training.
    from training.models import model_names

    for key, allowed in _CHOICES.items():
        if getattr(recipe, key) not in allowed:
            raise RecipeError(f"recipe key {key!r} must be one of {', '.join(allowed)}, got {getattr(recipe, key)!r}")
    for key in ("best_metric", "early_stopping_metric"):
        if getattr(recipe, key) not in _VAL_METRICS:
            raise RecipeError(f"recipe key {key!r} must be one of {', '.join(_VAL_METRICS)}")
    if recipe.model not in model_names():
        raise RecipeError(f"unknown model {recipe.model!r}; known models: {', '.join(model_names())}")
    for key, valid in RANGES.items():
        value = getattr(recipe, key)
        if value not in valid:
            raise RecipeError(f"recipe key {key!r} must be in {valid}, got {value!r}")
    from training.metrics.thresholds import parse_threshold_rule

    try:
        parse_threshold_rule(recipe.threshold)
    except ValueError as exc:
        raise RecipeError(f"recipe key 'threshold': {exc}") from None
    return recipe
