"""The clinical questions a run can answer: which images take part, and which of their two classes is positive.

Every layer reads a run's task from here (the data layer picks and labels its images, the run contract and the
app name the classes), so the names of the classes of each question are written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.core.errors import PneumoError


@dataclass(frozen=True)
class Task:
    """One binary question: label 1 is ``positive``, label 0 ``negative``."""

    name: str
    question: str  # in words, for titles: "NORMAL vs PNEUMONIA"
    negative: str
    positive: str
    takes: str  # which images take part, in words

    @property
    def classes(self) -> tuple[str, str]:
        """The class names by label: ``classes[0]`` is the negative class."""
        return self.negative, self.positive

    def class_name(self, label: int) -> str:
        return self.classes[int(label)]


PNEUMONIA = Task("pneumonia", "NORMAL vs PNEUMONIA", "NORMAL", "PNEUMONIA", "every image")
SUBTYPE = Task("subtype", "VIRAL vs BACTERIAL pneumonia", "VIRAL", "BACTERIAL",
               "PNEUMONIA images whose file name says bacteria or virus")
TASKS = {t.name: t for t in (PNEUMONIA, SUBTYPE)}
DEFAULT_TASK = PNEUMONIA.name
# A pneumonia run and a subtype run of one dataset, combined (training.evaluation.three_class): NORMAL, BACTERIAL,
# VIRAL, in that order in every matrix.
THREE_CLASSES = (PNEUMONIA.negative, SUBTYPE.positive, SUBTYPE.negative)


class UnknownTask(PneumoError, ValueError):
    """A task name that is none of ``TASKS``."""


def task_named(name: str) -> Task:
    """The task called ``name``, or ``UnknownTask`` naming the known ones."""
    if not isinstance(name, str) or name not in TASKS:
        raise UnknownTask(f"unknown task {name!r}; one of: {', '.join(TASKS)}")
    return TASKS[name]


def task_of_config(config: dict) -> Task:
    """The task of a run from its config.json (``recipe.task``); runs from before tasks, and a config whose task
    is not one of ``TASKS``, are read as the pneumonia task (a reader never fails on it)."""
    recipe = config.get("recipe") if isinstance(config, dict) else None
    name = recipe.get("task") if isinstance(recipe, dict) else None
    return TASKS.get(name, PNEUMONIA) if isinstance(name, str) else PNEUMONIA
