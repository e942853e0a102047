"""``pneumo train / eval / predict / unlock / models``: the engine, headless (``pneumo runs``: runs_commands).

torch is imported inside the commands so that ``pneumo --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from training.core.jsontext import json_text
from training.core.tasks import DEFAULT_TASK, TASKS
from training.run.schema import BEST_VAL_SCORE, LOG_LINE, METRICS, VAL_LOSS

from ..words import SYNTHETIC_LINE, synthetic_run
from .errors import fail, user_errors
from .options import RUNS, RUNS_DIR_ALIAS, RUNS_OUT_ALIAS, resolve, runs_folder

# Besides the engine's own errors (training.core.errors.PneumoError), shown as one line without a traceback.
ENGINE_ERRORS = (FileNotFoundError,)


def register(app: typer.Typer) -> None:
    from . import runs_commands

    app.command()(train)
    runs_commands.register(app)
    app.command(name="eval")(eval_run)
    app.command()(predict)
    app.command()(unlock)
    app.command()(models)


# --------------------------------------------------------------------------- train


def train(
    model: str | None = typer.Argument(None, help="Model to train (see `pneumo models`); omit with --resume."),
    data: Path | None = typer.Option(None, "--data", help="Dataset: Kermany folder, split folder or .npz."),
    test_data: Path | None = typer.Option(None, "--test-data", help="Test set to use instead of the data's own."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the recipe's epochs."),
    image_size: int | None = typer.Option(None, "--image-size", help="Override the recipe's image side (px)."),
    runs: Path = RUNS,
    runs_alias: Path | None = RUNS_OUT_ALIAS,
    overrides: list[str] = typer.Option([], "--set", help="Recipe override key=value (repeatable)."),
    resume: str | None = typer.Option(None, "--resume", help="Continue a stopped run (folder or id in --runs)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the recipe's seed."),
    device: str | None = typer.Option(None, "--device", help="cuda, cuda:1, mps or cpu (default: best available)."),
    no_test: bool = typer.Option(False, "--no-test", help="Explore on val only: no test image is read, no test eval."),
) -> None:
    """Train MODEL with its recipe; prints the run folder."""
    from training.data.arrays import DataSpec
    from training.engine.recipes import load_recipe
    from training.engine.trainer import resume_run
    from training.engine.trainer import train as train_run

    runs = runs_folder(runs, runs_alias)
    reporter = progress_reporter()
    with user_errors(*ENGINE_ERRORS), reporter:
        if resume:
            if model or data or epochs or image_size or overrides or seed is not None or no_test:
                fail("--resume continues a run with its own recipe and data; give only --resume (and --runs)")
            run_dir = resume_run(resume, runs, on_event=reporter, device=device)
        else:
            if not model or data is None:
                fail("give a MODEL and --data PATH (or --resume RUN)")
            changes = list(overrides)
            changes += [f"epochs={epochs}"] if epochs is not None else []
            changes += [f"image_size={image_size}"] if image_size is not None else []
            changes += [f"seed={seed}"] if seed is not None else []
            recipe = load_recipe(model, changes)
            if no_test and test_data is not None:
                fail("--no-test and --test-data contradict each other")
            run_dir = train_run(recipe, DataSpec(data, test_data, use_test=not no_test), runs, on_event=reporter,
                                device=device)
    if reporter.is_main:
        print(run_dir)
    if reporter.finish_reason == "interrupted":
        raise typer.Exit(130)  # like a shell's Ctrl-C: scripts must not carry on as if it had finished


def progress_reporter():
    """Rich progress bars on a terminal; one plain line per epoch otherwise (nohup, SLURM, CI)."""
    import os

    rank = os.environ.get("RANK", "0").strip()
    is_main = not rank.isdigit() or int(rank) == 0  # a bad RANK is the engine's one-line error, shown by rank "0"
    if is_main and sys.stderr.isatty():
        return RichProgress()
    return PlainProgress(quiet=not is_main)


class PlainProgress:
    """Lines on stderr, flushed: what a log file of a detached run should hold."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.is_main = not quiet
        self.epochs = None
        self.finish_reason = None
        self._cached = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, event: dict) -> None:
        if self.quiet:
            return
        kind = event["event"]
        line = None
        if kind == "data_progress":
            if event["done"] == event["total"] and event["split"] not in self._cached:
                self._cached.add(event["split"])
                line = f"cached {event['split']}: {event['total']} images"
        elif kind == "run_started":
            self.epochs = event["epochs"]
            line = (f"run {event['run_id']}: {event['model']} on {event['device']}, {event['n_train']} train / "
                    f"{event['n_val']} val / {event['n_test']} test images, {event['epochs']} epochs"
                    + ("  [SYNTHETIC data]" if event.get("synthetic") else "")
                    + (f"\ntask {event['task']}: {TASKS[event['task']].question}"
                       if event.get("task") in TASKS and event["task"] != DEFAULT_TASK else "")
                    + (f"\n{event['left_out_note']}" if event.get("left_out_note") else ""))
        elif kind == "run_resumed":
            line = f"resumed at epoch {event['epoch']}"
        elif kind == "epoch":
            line = format_epoch(event, self.epochs)
        elif kind == "eval":
            line = format_eval(event)
        elif kind == "run_finished":
            self.finish_reason = event["reason"]
            line = f"finished: {event['reason']} (best epoch {event.get('best_epoch')})"
        elif kind == "run_failed":
            line = f"failed: {event['error']}"
        if line:
            self._print(line)

    def _print(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)


class RichProgress(PlainProgress):
    """An epoch bar and a step bar; epoch and eval lines printed above them."""

    def __init__(self):
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[info]}", markup=False),
                                 console=self.console)
        self.epoch_task = self.step_task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()
        return False

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "data_progress":
            self._bar("data_task", f"caching {event['split']}", event["total"], event["done"], "")
            return
        if kind in ("run_started", "run_resumed"):
            started = kind == "run_started"
            if started:
                self.epochs, self.steps = event["epochs"], event["steps_per_epoch"]
            done = 0 if started else event["epoch"] - 1
            self._bar("epoch_task", "epochs", self.epochs or 0, done, "")
        elif kind == "step":
            self._bar("step_task", f"epoch {event['epoch']}", getattr(self, "steps", 0), event["step"],
                      f"loss {event['loss']:.4f}  {event['images_per_s']:.0f} img/s")
        elif kind == "epoch":
            self._bar("epoch_task", "epochs", self.epochs or 0, event["epoch"],
                      f"{VAL_LOSS} {_fmt(event.get(VAL_LOSS), 4)}")
        super().__call__(event)  # the plain lines, printed above the bars

    def _bar(self, name: str, description: str, total: int, completed: int, info: str) -> None:
        task = getattr(self, name, None)
        if task is None:
            task = self.progress.add_task(description, total=total, info=info)
            setattr(self, name, task)
        self.progress.update(task, description=description, total=total, completed=completed, info=info)

    def _print(self, line: str) -> None:
        self.console.print(line, highlight=False, markup=False)  # run ids and paths are text


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_epoch(e: dict, epochs: int | None) -> str:
    of = f"/{epochs}" if epochs else ""
    figures = "  ".join(f"{METRICS[m].abbreviation} {_fmt(e.get(m), 4 if METRICS[m].is_loss else 3)}" for m in LOG_LINE)
    return f"epoch {e['epoch']}{of}  {figures}  lr {e['lr']:.2e}  {e['images_per_s']:.0f} img/s  {e['seconds']:.1f}s"


def format_eval(e: dict) -> str:
    return (f"{e['split']}: accuracy {_fmt(e['accuracy'])}  sensitivity {_fmt(e['sensitivity'])}  "
            f"specificity {_fmt(e['specificity'])}  auc {_fmt(e['auc'])}  (n={e['n']}, threshold {e['threshold']:.3f})")


# --------------------------------------------------------------------------- texts of a run (pneumo runs, app)


def recipe_and_model(s) -> str:
    """``best (resnet_small)``; just the model when the recipe is unknown or is named after it; a run of another
    task than pneumonia says which first, so that a text cut at its end keeps it (``subtype: best (resnet_small)``)."""
    text = s.model if not s.recipe or s.recipe == s.model else f"{s.recipe} ({s.model})"
    return text if getattr(s, "task", DEFAULT_TASK) == DEFAULT_TASK else f"{s.task}: {text}"


def dataset_text(s) -> str:
    """``chest_xray_224/train 5,216`` (train + val images), marked SYNTHETIC when it is."""
    text = (s.dataset or "?") + (f" {s.n_images:,}" if s.n_images is not None else "")
    return text + (" SYNTHETIC" if s.synthetic else "")


# --------------------------------------------------------------------------- eval


def eval_run(
    run: str = typer.Argument(..., help="Run folder, or run id (prefix) in --runs."),
    split: str = typer.Option("test", "--split", help="train, val, test, or site (the site images of a run made by "
                              "pneumo adapt)."),
    threshold: float | None = typer.Option(None, "--threshold", help="Decision threshold (default: the run's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Accuracy, sensitivity, specificity, precision, F1, AUC and the confusion matrix of a run."""
    if split not in ("train", "val", "test", "site"):
        fail(f"--split must be train, val, test or site (a derived run's site images), not {split!r}")
    _check_threshold_option(threshold)
    from training.evaluation.evaluate import evaluate_run
    from training.run.state import read_run
    from training.run.store import run_task

    run_dir = resolve(run, runs_folder(runs_dir, runs_alias))
    with user_errors(*ENGINE_ERRORS):
        m = evaluate_run(run_dir, split, threshold)
    summary = read_run(run_dir).summary()
    best = {"epoch": summary.best_epoch, "metric": summary.best_metric, "value": summary.best_value,
            BEST_VAL_SCORE: summary.val_auc}
    if as_json:
        keys = ("accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "auc", "confusion",
                "threshold", "n")
        print(json_text({**{k: m[k] for k in keys}, "task": run_task(run_dir).name, "best": best,
                         "synthetic": synthetic_run(run_dir),
                         "adapted": summary.adapted}))
        return
    c = m["confusion"]
    if synthetic_run(run_dir):
        print(SYNTHETIC_LINE)
    if summary.adapted:
        print(f"adapted: {summary.adapted}")
    print(f"{run_dir.name}  split {split}  n {m['n']}  threshold {m['threshold']:.3f}  ({m['source']})")
    if best["epoch"] is not None:
        print(f"  best epoch {best['epoch']}: {best['metric']} {_fmt(best['value'], 4)}"
              + (f", {BEST_VAL_SCORE} {_fmt(best[BEST_VAL_SCORE], 4)}" if best["metric"] != BEST_VAL_SCORE else ""))
    for key in ("accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "auc"):
        print(f"  {key:<12}{_fmt(m[key], 4)}")
    task = run_task(run_dir)
    negative, positive = task.classes
    called = (f"predicted {positive}", f"predicted {negative}")
    width = max(len(positive), len(negative), len("confusion")) + 2
    print(f"  task {task.name}: {task.question}")
    print(f"  {'confusion':<{width}}{called[0]}  {called[1]}")
    print(f"  {positive:<{width}}{c['tp']:>{len(called[0])}}  {c['fn']:>{len(called[1])}}")
    print(f"  {negative:<{width}}{c['fp']:>{len(called[0])}}  {c['tn']:>{len(called[1])}}")


def _check_threshold_option(threshold: float | None) -> None:
    """--threshold nan, -3 or 5 is a one-line error, never a threshold."""
    if threshold is not None:
        from training.run.operating_point import check_threshold

        with user_errors():
            check_threshold(threshold, "--threshold")


# --------------------------------------------------------------------------- unlock


def unlock(
    run: str = typer.Argument(..., help="Run folder, or run id (prefix) in --runs."),
    force: bool = typer.Option(False, "--force", help="Also break a lock taken on another host (make sure no "
                               "trainer there still writes the run)."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Remove a run's stale lock (its trainer died), or with --force one held on another host."""
    from training.run.lock import break_lock

    run_dir = resolve(run, runs_folder(runs_dir, runs_alias))
    with user_errors():
        holder = break_lock(run_dir, force=force)
    print(f"removed the lock of {holder.describe()}" if holder else f"{run_dir.name} has no lock")


# --------------------------------------------------------------------------- predict


def predict(
    run: str = typer.Argument(..., help="Run folder, or run id (prefix) in --runs."),
    images: list[Path] = typer.Argument(..., help="Image files (JPEG, PNG, DICOM)."),
    threshold: float | None = typer.Option(None, "--threshold", help="Decision threshold (default: the run's)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per image, in a list."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """A PNEUMONIA probability and a label per image, with the run's best checkpoint."""
    from training.evaluation.predict import predict_images

    _check_threshold_option(threshold)
    run_dir = resolve(run, runs_folder(runs_dir, runs_alias))
    with user_errors(*ENGINE_ERRORS):
        results = predict_images(run_dir, images, threshold=threshold)
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for r in results:
            if r.error:
                print(f"{r.path}\tskipped: {r.error}")
            else:
                print(f"{r.path}\t{r.label}\t{r.probability:.4f}")
    if any(r.error for r in results):
        raise typer.Exit(1 if all(r.error for r in results) else 0)


# --------------------------------------------------------------------------- models


def models(
    image_size: int = typer.Option(200, "--image-size", help="Image side for the parameter counts."),
    as_json: bool = typer.Option(False, "--json", help="One object per recipe: its model's name, parameters and "
                                                         "architecture, recipe_name, extends, recipe, description."),
    keys: bool = typer.Option(False, "--keys", help="Every recipe key (for a recipe file or --set key=value) with "
                              "its type, default and valid values."),
) -> None:
    """The model zoo and every recipe, merged with the recipe it extends (`best` included).

    With --keys: every recipe key with its type, default and valid values; a value outside them is refused
    with one line before any run folder is made.
    """
    from training.engine.recipes import RecipeError, key_rules, load_recipe, recipe_extends, recipe_names

    if keys:
        _print_keys(key_rules(), as_json)
        return
    from training.models import build_model, count_parameters, model_info, model_names

    def recipe_text(recipe) -> str:
        return f"{recipe.optimizer} lr {recipe.lr:g}, {recipe.scheduler}, {recipe.epochs} ep, {recipe.image_size}px"

    by_model: dict[str, list] = {}
    for name in recipe_names():
        try:
            recipe = load_recipe(name)
        except RecipeError as exc:
            print(f"warning: recipe {name!r} not listed: {exc}", file=sys.stderr)
            continue
        by_model.setdefault(recipe.model, []).append((name, recipe))
    rows = []
    for model in model_names():
        info = model_info(model)
        params = count_parameters(build_model(model, image_size))
        # A model's own recipe first, then the named recipes that train it (e.g. best for resnet_small).
        recipes = sorted(by_model.get(model, []), key=lambda pair: (pair[0] != model, pair[0]))
        for name, recipe in recipes or [(None, None)]:
            rows.append({
                "name": model, "study": info.study, "parameters": params, "architecture": info.summary,
                "recipe": recipe_text(recipe) if recipe else "(no recipe)",
                "description": recipe.description if recipe else "",
                "recipe_name": name, "extends": recipe_extends(name) if name else None,
            })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console

    from pneumo_tui.plain import PlainTable as Table

    zoo = Table("model", f"params @{image_size}px", "architecture", title="Models")
    for r in {r["name"]: r for r in rows}.values():
        zoo.add_row(r["name"] + (" (study)" if r["study"] else ""), f"{r['parameters']:,}", r["architecture"])
    table = Table("recipe", "model", "extends", "recipe (merged)", "description", title="Recipes")
    for r in rows:
        table.add_row(r["recipe_name"] or "", r["name"], r["extends"] or "", r["recipe"], r["description"])
    console = Console()
    console.print(zoo)
    console.print(table)


def _print_keys(rules: list[tuple], as_json: bool) -> None:
    if as_json:
        print(json_text([{"key": k, "type": kind, "default": default, "valid": valid}
                         for k, kind, default, valid in rules]))
        return
    from rich.console import Console
    from rich.text import Text

    from pneumo_tui.plain import PlainTable as Table

    table = Table("key", "type", "default", "valid values", title="Recipe keys")
    for key, kind, default, valid in rules:
        table.add_row(*(Text(str(c)) for c in (key, kind, "-" if default is None else default, valid)))
    Console().print(table)
