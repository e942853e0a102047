"""``pneumo study``: the original study's four models with its recipe, plus the
modern model with its own, trained on the same data and reported side by side
with the published figures.

The published figures are test-set figures of the Keras study (200x200
grayscale, official test split of 624 images). The trivial baseline calls
every image PNEUMONIA; on the official test split it scores 390/624 = 62.5%.

``task="subtype"`` asks the study's models the second question (bacterial or
viral, among the PNEUMONIA images) beside Kermany et al. 2018's figures for it
(an ImageNet-pretrained InceptionV3); the Keras study never asked it, so its
models have no published figure there, and the modern row is ``best_subtype``.
The trivial baseline then calls every image BACTERIAL (242/390 = 62.1% on the
official test split).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from training.core.fileio import atomic_write_json
from training.core.tasks import DEFAULT_TASK, task_named
from training.data.arrays import DataSpec, PreparedData, prepare_data
from training.engine.recipes import Recipe, load_recipe
from training.run.state import read_run

STUDY_MODELS = ("baseline", "cnn1", "cnn3", "resnet50")
MODERN_MODEL = "resnet_small"
MODERN_RECIPES = {"pneumonia": MODERN_MODEL, "subtype": "best_subtype"}  # the modern row of each task

# What the study published (test split): accuracy, and recall where it gave one.
PUBLISHED = {
    "baseline": {"accuracy": 0.72},
    "cnn1": {"accuracy": 0.87},
    "cnn3": {"accuracy": 0.89, "sensitivity": 0.93},
    "resnet50": {"accuracy": 0.73, "sensitivity": 1.00},
}

# The published reference of each task, a row of its own beside the runs (None: the task has none but PUBLISHED).
REFERENCES = {
    "pneumonia": None,
    "subtype": {"name": "Kermany 2018 (InceptionV3, ImageNet-pretrained)",
                "accuracy": 0.907, "sensitivity": 0.886, "specificity": 0.909, "auc": 0.940},
}


@dataclass
class StudyRow:
    model: str
    run_dir: str
    test: dict  # the run's test eval event: accuracy, sensitivity, specificity, auc, ...
    published: dict = field(default_factory=dict)
    minutes: float = 0.0


@dataclass
class StudyResult:
    rows: list[StudyRow]
    trivial: dict  # every test image called the task's positive class
    settings: dict
    task: str = DEFAULT_TASK
    reference: dict | None = None  # the task's published row (REFERENCES)

    def to_json(self) -> dict:
        return {"rows": [r.__dict__ for r in self.rows], "trivial": self.trivial, "settings": self.settings,
                "task": self.task, "reference": self.reference}


def study_recipes(models: list[str], overrides: list[str]) -> list[Recipe]:
    """The study's recipe for its models (each model's TOML), the modern one's own; common overrides on all."""
    return [load_recipe(m, overrides) for m in models]


def run_study(
    data: DataSpec,
    runs_dir: Path,
    models: list[str] | None = None,
    overrides: list[str] | None = None,
    on_event: Callable[[dict], None] | None = None,
    device: str | None = None,
    task: str = DEFAULT_TASK,
) -> StudyResult:
    """Train every model in turn (one run folder each) on ``task`` and collect their single test evaluation."""
    from training.engine.trainer import train

    task_named(task)  # an unknown task fails here, before any training
    models = list(models or (*STUDY_MODELS, MODERN_RECIPES[task]))
    recipes = study_recipes(models, [f"task={task}", *(overrides or [])])
    prepared: dict[tuple, PreparedData] = {}  # one cache load per image size
    rows = []
    for recipe in recipes:
        key = (recipe.image_size, recipe.fit, recipe.val_fraction, recipe.split_seed, recipe.val_split)
        if key not in prepared:
            prepared[key] = prepare_data(data, *key[:4], val_split=recipe.val_split, task=task)
        start = time.perf_counter()
        run_dir = train(recipe, prepared[key], runs_dir, on_event=on_event, device=device,
                        command=f"pneumo study (model {recipe.model})")
        name = recipe.name or recipe.model  # the row is the recipe (best_subtype), which names its model
        published = PUBLISHED.get(name, {}) if task == "pneumonia" else {}
        rows.append(StudyRow(name, str(run_dir), test_metrics(run_dir), published,
                             round((time.perf_counter() - start) / 60, 2)))
    any_data = next(iter(prepared.values()))
    result = StudyResult(rows, trivial_baseline(any_data), {
        "data": str(data.path), "test_data": str(data.test_path) if data.test_path else None,
        "overrides": list(overrides or []), "models": models,
    }, task=task, reference=REFERENCES[task])
    atomic_write_json(Path(runs_dir) / f"study-{time.strftime('%Y%m%d-%H%M%S')}.json", result.to_json())
    return result


def test_metrics(run_dir: Path) -> dict:
    return read_run(Path(run_dir)).state.evals.get("test", {})


def trivial_baseline(data: PreparedData) -> dict:
    """Calling every test image the task's positive class: accuracy is the test split's positive share."""
    if data.test is None or len(data.test) == 0:
        return {}
    n = len(data.test)
    positives = int(data.test.labels.sum())
    return {"accuracy": positives / n, "sensitivity": 1.0, "specificity": 0.0, "auc": 0.5, "n": n}
