"""Three classes, NORMAL / BACTERIAL / VIRAL, from a pneumonia run and a subtype run of the same dataset.

The two runs are partners when they were trained on the same data with the same split settings: the split is made
on every image before the subtype task picks its own, so the subtype run's val (test) images are exactly the
PNEUMONIA images of known subtype among the pneumonia run's val (test) images. ``check_partner`` checks that on
their config.json and predictions.csv; ``find_partner`` looks for the newest finished one in a runs folder.

An image is called NORMAL when the pneumonia run's probability is below its saved threshold, else BACTERIAL when
the subtype run's probability of BACTERIAL reaches the subtype run's saved threshold, else VIRAL. The subtype
run's probability of an image it never saw (a NORMAL film called PNEUMONIA, which is the only kind of image whose
call needs it) comes from its best checkpoint on the image file (``predict_images``: its own preprocessing and
test-time views). Those probabilities are worked out when asked for and not kept: which images need one moves
with the pneumonia run's threshold, and they are few (the false alarms), so a file for them would need its own
place in the run contract and a rule for when it is stale, for seconds of inference saved.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.core.errors import PneumoError
from training.core.tasks import PNEUMONIA, SUBTYPE, THREE_CLASSES, Task, task_of_config
from training.data.tasks import SUBTYPE_LABELS
from training.run.operating_point import load_threshold
from training.run.paths import RunPaths
from training.run.predictions import read_predictions
from training.run.state import run_status
from training.run.store import load_config, run_dirs, run_task

SPLITS = ("val", "test")
# config.json's data fields that say which images a run was trained and judged on, and how they were split
DATA_FIELDS = ("path", "test_path", "source", "val_fraction", "split_seed", "val_split", "use_test")
UNKNOWN_SUBTYPE = f"{PNEUMONIA.positive} images whose subtype is unknown"
UNREADABLE = f"images called {PNEUMONIA.positive} whose file the subtype model could not read"

Predictor = Callable[[list[Path]], list[float | None]]  # probabilities of BACTERIAL, None for an unreadable file


class PartnerError(PneumoError, ValueError):
    """Two runs that cannot be combined into three classes (same task, other data, other images)."""


@dataclass
class ThreeClassResult:
    """The three-class view of one split: ``matrix[i][j]`` counts images of true class ``classes[i]`` called
    ``classes[j]``."""

    split: str
    pneumonia_run: str
    subtype_run: str
    pneumonia_threshold: float
    subtype_threshold: float
    matrix: list[list[int]]
    classes: tuple[str, str, str] = THREE_CLASSES
    left_out: dict[str, int] = field(default_factory=dict)  # why -> how many of the split's images
    inferred: int = 0  # images the subtype model was run on here (it had not predicted them)
    views: int = 1  # the test-time views it averaged for them (its own recipe's)

    @property
    def n(self) -> int:
        return int(sum(map(sum, self.matrix)))

    @property
    def n_left_out(self) -> int:
        return sum(self.left_out.values())

    @property
    def accuracy(self) -> float | None:
        return sum(self.matrix[i][i] for i in range(3)) / self.n if self.n else None

    @property
    def recall(self) -> dict[str, float | None]:
        """Per true class: the share of its images called it (None when the split has none)."""
        rows = [sum(row) for row in self.matrix]
        return {c: (self.matrix[i][i] / rows[i] if rows[i] else None) for i, c in enumerate(self.classes)}

    @property
    def precision(self) -> dict[str, float | None]:
        """Per called class: the share of the images called it that are it (None when none was called it)."""
        cols = [sum(row[j] for row in self.matrix) for j in range(3)]
        return {c: (self.matrix[j][j] / cols[j] if cols[j] else None) for j, c in enumerate(self.classes)}

    @property
    def macro_recall(self) -> float | None:
        """The mean recall over the classes the split has images of (balanced accuracy)."""
        values = [v for v in self.recall.values() if v is not None]
        return float(np.mean(values)) if values else None

    def to_json(self) -> dict:
        return {"split": self.split, "pneumonia_run": self.pneumonia_run, "subtype_run": self.subtype_run,
                "pneumonia_threshold": self.pneumonia_threshold, "subtype_threshold": self.subtype_threshold,
                "classes": list(self.classes), "matrix": self.matrix, "n": self.n, "left_out": self.left_out,
                "n_left_out": self.n_left_out, "accuracy": self.accuracy, "recall": self.recall,
                "precision": self.precision, "macro_recall": self.macro_recall, "inferred": self.inferred,
                "views": self.views}


# --- partners ---------------------------------------------------------------------------------------------------


def other_task(task: Task) -> Task:
    return SUBTYPE if task is PNEUMONIA else PNEUMONIA


def check_partner(run_dir: Path, partner_dir: Path) -> tuple[Path, Path]:
    """``(pneumonia run, subtype run)`` of the two, in that order whichever way they are given; ``PartnerError``
    in one line when they are the same run or task, were trained on other data, or do not share their images."""
    pneumonia, subtype, _ = _checked_pair(run_dir, partner_dir)
    return pneumonia, subtype


def _checked_pair(run_dir: Path, partner_dir: Path) -> tuple[Path, Path, dict[Path, list[dict]]]:
    """``check_partner``'s pair, with the predictions.csv rows of each run it read to check them (by run)."""
    a, b = Path(run_dir), Path(partner_dir)
    if os.path.realpath(a) == os.path.realpath(b):
        raise PartnerError(f"{a.name} is the run itself: a three-class view needs a pneumonia run and a subtype run")
    task_a, task_b = run_task(a), run_task(b)
    if task_a is task_b:
        raise PartnerError(f"{a.name} and {b.name} are both {task_a.name} runs: a three-class view needs a "
                           f"{PNEUMONIA.name} run and a {SUBTYPE.name} run")
    pneumonia, subtype = (a, b) if task_a is PNEUMONIA else (b, a)
    differs = data_difference(load_config(pneumonia), load_config(subtype))
    if differs:
        raise PartnerError(f"{pneumonia.name} and {subtype.name} were trained on other data ({differs})")
    rows = {run: _rows(run) for run in (pneumonia, subtype)}
    for split in SPLITS:
        expected = {r["id"]: r["path"] for r in rows[pneumonia] if r["split"] == split and r["label"] == 1
                    and r.get("subtype") in SUBTYPE_LABELS}
        found = {r["id"]: r["path"] for r in rows[subtype] if r["split"] == split}
        if expected != found:
            extra = len(found.keys() - expected.keys())
            missing = len(expected.keys() - found.keys())
            moved = sum(found[k] != expected[k] for k in found.keys() & expected.keys())
            raise PartnerError(
                f"{pneumonia.name} and {subtype.name} do not share their {split} images: {extra} of the subtype "
                f"run's are none of the pneumonia run's PNEUMONIA images of known subtype, {missing} of those are "
                f"missing from the subtype run" + (f", {moved} have another file" if moved else ""))
    return pneumonia, subtype, rows


def data_difference(a: dict, b: dict) -> str | None:
    """The first of ``DATA_FIELDS`` whose values two configs disagree on, in words; None when none."""
    da, db = (c.get("data") if isinstance(c.get("data"), dict) else {} for c in (a, b))
    for name in DATA_FIELDS:
        if da.get(name) != db.get(name):
            return f"data {name}: {_short(da.get(name))} against {_short(db.get(name))}"
    return None


def find_partner(run_dir: Path, runs_dir: Path) -> Path | None:
    """The newest finished run of the other task in ``runs_dir`` that ``check_partner`` accepts for ``run_dir``
    (run ids begin with the time they started, so the last by id); None when there is none. Runs derived for a
    site (``pneumo site adapt``) are passed over: their predictions are of other films."""
    return partner_or_why(run_dir, runs_dir)[0]


def partner_or_why(run_dir: Path, runs_dir: Path) -> tuple[Path | None, str]:
    """``(partner, "")``, or ``(None, why there is none)`` in one line."""
    run_dir, runs_dir = Path(run_dir), Path(runs_dir)
    wanted = other_task(run_task(run_dir))
    config = load_config(run_dir)
    looked = 0
    for candidate in reversed(run_dirs(runs_dir)):
        if os.path.realpath(candidate) == os.path.realpath(run_dir):
            continue
        other = load_config(candidate)
        if task_of_config(other) is not wanted or other.get("adapted") or data_difference(config, other):
            continue
        looked += 1
        if run_status(candidate) != "finished" or not RunPaths(candidate).predictions.is_file():
            continue
        try:
            check_partner(run_dir, candidate)
        except (PartnerError, OSError, ValueError):
            continue
        return candidate, ""
    what = f"no finished {wanted.name} run of the same data with the same val and test images in {runs_dir}"
    return None, what + (f" ({looked} {wanted.name} runs of this data looked at)" if looked else "")


def _rows(run_dir: Path) -> list[dict]:
    if not RunPaths(run_dir).predictions.is_file():
        raise PartnerError(f"{run_dir.name} has no {RunPaths(run_dir).predictions.name} yet (a run writes it when "
                           "it finishes)")
    try:
        return read_predictions(run_dir)
    except (KeyError, ValueError, TypeError) as exc:
        raise PartnerError(f"{run_dir.name}: malformed {RunPaths(run_dir).predictions.name} "
                           f"({type(exc).__name__})") from None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the three classes ---------------------------------------------------------------------------------------------


def three_class(pneumonia_run: Path, subtype_run: Path, split: str,
                predict: Predictor | None = None) -> ThreeClassResult:
    """The three-class confusion matrix of ``split`` at both runs' saved thresholds (see the module's words).

    ``predict(paths)`` gives the subtype run's probabilities of BACTERIAL for image files it did not predict;
    by default its best checkpoint with ``predict_images``. The runs are checked with ``check_partner`` first
    (``PartnerError`` when they are no pair), and may be given in either order.
    """
    pneumonia_run, subtype_run, rows = _checked_pair(pneumonia_run, subtype_run)
    return _three_class(pneumonia_run, subtype_run, rows, split, predict)


def _three_class(pneumonia_run: Path, subtype_run: Path, rows_of: dict[Path, list[dict]], split: str,
                 predict: Predictor | None) -> ThreeClassResult:
    """``three_class`` of a checked pair whose predictions.csv rows (``rows_of``, by run) are already read."""
    t_pneumonia, t_subtype = load_threshold(pneumonia_run), load_threshold(subtype_run)
    rows = [r for r in rows_of[pneumonia_run] if r["split"] == split]
    p_bacterial = {r["id"]: r["probability"] for r in rows_of[subtype_run] if r["split"] == split}
    left_out = {UNKNOWN_SUBTYPE: 0, UNREADABLE: 0}
    truth_of = {}
    for r in rows:
        if r["label"] == 0:
            truth_of[r["id"]] = 0
        elif r.get("subtype") in SUBTYPE_LABELS:
            truth_of[r["id"]] = THREE_CLASSES.index(SUBTYPE.class_name(SUBTYPE_LABELS[r["subtype"]]))
        else:
            left_out[UNKNOWN_SUBTYPE] += 1
    kept = [r for r in rows if r["id"] in truth_of]
    needed = [r for r in kept if r["probability"] >= t_pneumonia and r["id"] not in p_bacterial and r["path"]]
    if needed:
        found = (predict or _checkpoint_predictor(subtype_run))([Path(r["path"]) for r in needed])
        for r, p in zip(needed, found, strict=True):
            if p is not None:
                p_bacterial[r["id"]] = float(p)
    matrix = [[0] * 3 for _ in range(3)]
    for r in kept:
        if r["probability"] < t_pneumonia:
            called = 0
        elif r["id"] in p_bacterial:
            called = THREE_CLASSES.index(SUBTYPE.class_name(int(p_bacterial[r["id"]] >= t_subtype)))
        else:
            left_out[UNREADABLE] += 1
            continue
        matrix[truth_of[r["id"]]][called] += 1
    return ThreeClassResult(split, pneumonia_run.name, subtype_run.name, t_pneumonia, t_subtype, matrix,
                            left_out={k: v for k, v in left_out.items() if v}, inferred=len(needed),
                            views=_views(subtype_run))


def three_class_splits(pneumonia_run: Path, subtype_run: Path,
                       predict: Predictor | None = None) -> dict[str, ThreeClassResult | None]:
    """``three_class`` of val and test (None for a split the runs have no rows of)."""
    pneumonia_run, subtype_run, rows = _checked_pair(pneumonia_run, subtype_run)
    splits = {r["split"] for r in rows[pneumonia_run]}
    return {s: _three_class(pneumonia_run, subtype_run, rows, s, predict) if s in splits else None for s in SPLITS}


def _views(run_dir: Path) -> int:
    recipe = load_config(run_dir).get("recipe")
    tta = recipe.get("tta") if isinstance(recipe, dict) else None
    return int(tta) if isinstance(tta, int) and not isinstance(tta, bool) and tta > 0 else 1


def _checkpoint_predictor(subtype_run: Path) -> Predictor:
    def predict(paths: list[Path]) -> list[float | None]:
        from training.evaluation.predict import predict_images

        return [p.probability for p in predict_images(subtype_run, paths)]

    return predict


# --- in words ---------------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def matrix_lines(result: ThreeClassResult) -> list[str]:
    """The 3x3 matrix as lines of plain text: rows the truth, columns the call."""
    names = result.classes
    width = len("true ") + max(map(len, names))
    cell = max(max(map(len, names)), *(len(str(v)) for row in result.matrix for v in row))
    lines = [f"{'':{width}}  predicted", f"{'':{width}}  " + "  ".join(f"{c:>{cell}}" for c in names)]
    for i, name in enumerate(names):
        head = ("true " + name) if i == 0 else name
        lines.append(f"{head:>{width}}  " + "  ".join(f"{v:>{cell}}" for v in result.matrix[i]))
    return lines


def figure_lines(result: ThreeClassResult) -> list[str]:
    """Accuracy, macro recall, and each class's recall and precision, then what was left out, in plain text."""
    lines = [f"accuracy {_pct(result.accuracy)} · macro recall {_pct(result.macro_recall)} · {result.n} images"]
    for name in result.classes:
        lines.append(f"{name:<10} recall {_pct(result.recall[name])}  precision {_pct(result.precision[name])}")
    lines += [f"left out: {count} {why}" for why, count in result.left_out.items()]
    if result.inferred:
        lines.append(f"the subtype model was run on {result.inferred} image files it had not predicted "
                     f"({result.views} view{'s' if result.views != 1 else ''}, as its recipe says)")
    return lines


def rule_line(result: ThreeClassResult) -> str:
    """How each image is called, with both runs and their thresholds."""
    normal, bacterial, viral = result.classes
    return (f"{normal} when {result.pneumonia_run} gives {PNEUMONIA.positive} p < {result.pneumonia_threshold:.3f}; "
            f"else {bacterial} when {result.subtype_run} gives {bacterial} p >= {result.subtype_threshold:.3f}, "
            f"else {viral}")
