"""Sorting and filtering a list of runs, alike in ``pneumo runs --sort/--filter`` and on the Runs screen.

    sort_runs(summaries, "lr")           by a settings column, a figure or the run's own texts
    filter_runs(summaries, "sweep cnn")  the runs whose id, name, tags, note, recipe, model or data hold every word

Figures (val AUC, test accuracy, ...) sort best first, texts and settings A to Z; ``reverse`` turns either
round. A run without the value sorts last both ways.
"""

from __future__ import annotations

from training.run.schema import BEST_VAL_SCORE
from training.run.settings import SETTING_KEYS
from training.run.state import RunSummary

# Column names a sort accepts, with the words people also type for them.
FIGURES = {"val": ("val", "best", BEST_VAL_SCORE), "accuracy": ("accuracy", "acc", "test_acc"),
           "sensitivity": ("sensitivity", "sens"), "specificity": ("specificity", "spec"),
           "auc": ("auc", "test_auc")}
TEXTS = {"run": ("run", "id", "run_id"), "name": ("name",), "status": ("status",), "threshold": ("threshold",),
         "done": ("done", "epochs_done"), "started": ("started", "date", "time"), "tags": ("tags", "tag")}
SORT_COLUMNS = (*TEXTS, *SETTING_KEYS, *FIGURES)


def sort_column(name: str) -> str:
    """The sort column ``name`` stands for (``acc`` -> ``accuracy``); ValueError naming the choices."""
    word = name.strip().lower().replace("-", "_").replace(" ", "_")
    if word in SETTING_KEYS:
        return word
    for column, words in {**TEXTS, **FIGURES}.items():
        if word in words:
            return column
    raise ValueError(f"no column {name!r} to sort by: give one of {', '.join(SORT_COLUMNS)}")


def _number(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def sort_value(s: RunSummary, column: str):
    """What ``s`` sorts by in ``column``: a number where the column holds numbers, else lower-cased text;
    None when the run has no value there."""
    if column in FIGURES:
        value = s.val_auc if column == "val" else s.test.get(column)  # val: the best epoch's
        return float(value) if isinstance(value, (int, float)) else None
    if column in SETTING_KEYS:
        text = s.settings.get(column, "-")
        if text == "-":
            return None
        number = _number(text)
        return number if number is not None else text.lower()
    value = {"run": s.run_id, "name": s.name or None, "status": s.status, "threshold": s.threshold,
             "done": s.epochs_done, "started": s.started, "tags": " ".join(s.tags) or None}[column]
    return value.lower() if isinstance(value, str) else value


def sort_runs(summaries: list[RunSummary], column: str, reverse: bool = False) -> list[RunSummary]:
    """``summaries`` by ``column`` (ties by run id); figures best first unless ``reverse``."""
    column = sort_column(column)
    descending = (column in FIGURES) != reverse
    have = [s for s in summaries if sort_value(s, column) is not None]
    missing = [s for s in summaries if sort_value(s, column) is None]

    def key(s: RunSummary):
        value = sort_value(s, column)
        return (isinstance(value, str), value)  # numbers before texts, should a column hold both

    have = sorted(sorted(have, key=lambda s: s.run_id), key=key, reverse=descending)
    return have + sorted(missing, key=lambda s: s.run_id)


def searchable(s: RunSummary) -> str:
    """The texts a filter looks in, lower-cased: id, name, tags, note, recipe, model, data."""
    parts = [s.run_id, s.name, *s.tags, *(f"#{t}" for t in s.tags), s.note, s.recipe or "", s.model,
             s.dataset or "", s.settings.get("recipe", ""), s.settings.get("dataset", ""), s.status]
    return "\n".join(p for p in parts if p).lower()


def filter_runs(summaries: list[RunSummary], text: str) -> list[RunSummary]:
    """The runs that hold every word of ``text`` (case ignored) in their id, name, tags, note, recipe, model,
    data or status; all of them for an empty text."""
    words = text.lower().split()
    return [s for s in summaries if all(w in searchable(s) for w in words)]
