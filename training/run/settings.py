"""What a run was trained with, read from its config.json: the settings columns and the config diff of two runs.

    run_settings(config)           {"recipe": "best", "task": "pneumonia", "model": "resnet_small", "image": "224", ...}
    differing([s1, s2, ...])       the settings keys whose values differ between the runs, in SETTINGS order
    config_diff(config_a, config_b) [("recipe.lr", "0.001", "0.0003"), ...]: every value that changed

Values are short texts (``-`` when the config does not say), so that the app and ``pneumo runs`` show and
compare them alike; a config of the wrong shape gives ``-`` everywhere, never an error.
"""

from __future__ import annotations

import json

from training.core.tasks import task_of_config

# (key, header, where in config.json); "dataset" is read by dataset_of.
SETTINGS = (
    ("recipe", "recipe", ("recipe", "name")),
    ("task", "task", ("recipe", "task")),  # a config from before tasks: the pneumonia task (task_of_config)
    ("model", "model", ("model",)),
    ("image", "image", ("recipe", "image_size")),
    ("epochs", "epochs", ("recipe", "epochs")),
    ("lr", "lr", ("recipe", "lr")),
    ("batch", "batch", ("recipe", "batch_size")),
    ("seed", "seed", ("recipe", "seed")),
    ("dataset", "dataset", ("data", "path")),
)
SETTING_KEYS = tuple(key for key, _, _ in SETTINGS)
MISSING = "-"
DIFF_FIRST = ("model", "recipe", "data")  # the diff's order: these sections first, then the rest of the config
NOT_DIFFED = ("run_id",)  # differs between any two runs: not a change of setting
MAX_VALUE = 60  # a longer value (a list, a command line) is cut in the diff


def value_text(value) -> str:
    """A setting as text: ``0.001``, ``224``, ``true``, ``-`` for none."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value) if str(value) else MISSING
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _get(config: dict, where: tuple[str, ...]):
    value = config
    for key in where:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def dataset_of(config: dict) -> str:
    """The training data's folder or file name: ``chest_xray_224/train`` for a split folder."""
    path = _get(config, ("data", "path"))
    if not isinstance(path, str) or not path:
        return value_text(_get(config, ("data", "source")))
    parts = path.rstrip("/").split("/")
    if parts[-1].lower() in ("train", "val", "test") and len(parts) > 1 and parts[-2]:
        return f"{parts[-2]}/{parts[-1]}"
    return parts[-1] or path


def run_settings(config: dict) -> dict[str, str]:
    """The settings columns of one run, as text (``-`` where its config does not say)."""
    config = config if isinstance(config, dict) else {}
    out = {}
    for key, _, where in SETTINGS:
        if key == "dataset":
            out[key] = dataset_of(config)
        elif key == "task":
            out[key] = task_of_config(config).name if config else MISSING
        else:
            out[key] = value_text(_get(config, where))
    if out["recipe"] == MISSING and out["model"] != MISSING:
        out["recipe"] = out["model"]  # a run trained on the model's own recipe (older configs do not name it)
    return out


def differing(settings: list[dict[str, str]]) -> list[str]:
    """The settings keys whose values are not the same in every run (none for fewer than two runs)."""
    if len(settings) < 2:
        return []
    return [key for key in SETTING_KEYS if len({s.get(key, MISSING) for s in settings}) > 1]


def ordered_settings(settings: list[dict[str, str]], hide_constant: bool = False) -> list[str]:
    """The settings keys to show: those that differ first, then (unless ``hide_constant``) the constant ones."""
    changing = differing(settings)
    constant = [key for key in SETTING_KEYS if key not in changing]
    return changing + ([] if hide_constant else constant)


def _flat(value, prefix: str = "") -> dict[str, object]:
    """``{"recipe": {"lr": 0.1}}`` -> ``{"recipe.lr": 0.1}`` (lists are values)."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, object] = {}
    for key, inner in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(inner, dict) and inner:
            out.update(_flat(inner, name))
        else:
            out[name] = inner
    return out


def config_diff(a: dict, b: dict) -> list[tuple[str, str, str]]:
    """Every setting of the two configs that differs, as ``(key, value in a, value in b)`` (``-``: absent):
    the model, the recipe and the data first, then the rest (versions, git commit, device)."""
    flat_a = {k: v for k, v in _flat(a if isinstance(a, dict) else {}).items() if k.split(".")[0] not in NOT_DIFFED}
    flat_b = {k: v for k, v in _flat(b if isinstance(b, dict) else {}).items() if k.split(".")[0] not in NOT_DIFFED}
    keys = list(dict.fromkeys([*flat_a, *flat_b]))
    changed = [k for k in keys if flat_a.get(k) != flat_b.get(k)]

    def order(key: str) -> tuple[int, int]:
        section = key.split(".")[0]
        return (DIFF_FIRST.index(section) if section in DIFF_FIRST else len(DIFF_FIRST), keys.index(key))

    return [(k, value_text(flat_a.get(k)), value_text(flat_b.get(k))) for k in sorted(changed, key=order)]
