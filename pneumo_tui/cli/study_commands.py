"""``pneumo study`` and ``pneumo bench``: the reproduction table and throughput figures."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .errors import user_errors
from .options import RUNS, RUNS_OUT_ALIAS, runs_folder
from .train_commands import ENGINE_ERRORS, progress_reporter


def register(app: typer.Typer) -> None:
    app.command()(study)
    app.command()(bench)


def study(
    data: Path = typer.Option(..., "--data", help="Training data (a Kermany root or a train folder)."),
    test_data: Path | None = typer.Option(None, "--test-data", help="Test images, if not the data's own test split."),
    runs: Path = RUNS,
    runs_alias: Path | None = RUNS_OUT_ALIAS,
    models: list[str] = typer.Option([], "--model", "-m",
                                     help="Only these models (repeat); default the study's four and the modern one."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override every recipe's epochs (for a CPU-sized study)."),
    image_size: int | None = typer.Option(None, "--image-size", help="Override every recipe's image size."),
    overrides: list[str] = typer.Option([], "--set", help="key=value applied to every recipe (repeat)."),
    device: str | None = typer.Option(None, "--device", help="cuda, cuda:1, mps or cpu (default: the best there is)."),
    task: str = typer.Option("pneumonia", "--task",
                             help="pneumonia (NORMAL vs PNEUMONIA) or subtype (bacterial or viral, beside Kermany)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
) -> None:
    """Reproduce the study beside its published figures.

    Its four models with its recipe, and the modern model with its own (best_subtype for --task subtype).
    """
    from training.data.arrays import DataSpec
    from training.experiments.study import run_study

    common = list(overrides)
    if epochs is not None:
        common.append(f"epochs={epochs}")
    if image_size is not None:
        common.append(f"image_size={image_size}")
    runs = runs_folder(runs, runs_alias)
    with user_errors(*ENGINE_ERRORS), progress_reporter() as reporter:
        result = run_study(DataSpec(data, test_data), runs, models or None, common, on_event=reporter, device=device,
                           task=task)
    if as_json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        _print_study(result)


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _print_study(result) -> None:
    from rich.console import Console

    from pneumo_tui.plain import PlainTable as Table
    from training.core.tasks import task_named

    task = task_named(result.task)
    table = Table(title=f"Study reproduction: {task.question} (test split, at each run's threshold)")
    for column in ("model", "threshold", "accuracy %", f"sensitivity ({task.positive}) %",
                   f"specificity ({task.negative}) %", "AUC", "published acc / recall %", "minutes", "run"):
        table.add_column(column, justify="left" if column in ("model", "run") else "right")
    for row in result.rows:
        t, p = row.test, row.published
        published = " / ".join(_pct(p[k]) for k in ("accuracy", "sensitivity") if k in p) or "-"
        threshold = "-" if t.get("threshold") is None else f"{t['threshold']:.3f}"
        table.add_row(row.model, threshold, _pct(t.get("accuracy")), _pct(t.get("sensitivity")),
                      _pct(t.get("specificity")), _auc(t.get("auc")), published, f"{row.minutes:.1f}",
                      Path(row.run_dir).name)
    reference = result.reference
    if reference:
        table.add_row(reference["name"], "-", _pct(reference["accuracy"]), _pct(reference["sensitivity"]),
                      _pct(reference["specificity"]), _auc(reference["auc"]), "(published)", "-", "-", style="bold")
    trivial = result.trivial
    if trivial:
        published_trivial = "62.5" if result.task == "pneumonia" else "-"
        table.add_row(f"all {task.positive}", "-", _pct(trivial["accuracy"]), "100.0", "0.0", "0.500",
                      published_trivial, "-", "-", style="dim")
    Console().print(table)


def _auc(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def bench(
    models: list[str] = typer.Option(["baseline", "cnn1", "cnn3", "resnet50", "resnet_small"], "--model", "-m",
                                     help="Models to time on random tensors (repeat)."),
    data: Path | None = typer.Option(None, "--data", help="Images for the pipeline comparison (cache vs decoding)."),
    pipeline_model: str = typer.Option("cnn3", "--pipeline-model", help="Model for the pipeline comparison."),
    image_size: int = typer.Option(200, "--image-size"),
    batch_size: int = typer.Option(32, "--batch-size"),
    steps: int = typer.Option(10, "--steps", help="Timed steps per measurement (after 2 warm-up steps)."),
    device: str | None = typer.Option(None, "--device"),
    workers: int | None = typer.Option(None, "--workers",
                                       help="Decoding workers for the JPEG pipeline (default: all cores)."),
    overrides: list[str] = typer.Option([], "--set",
                                        help="Recipe key=value for every model, e.g. amp=false, channels_last=false."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Train and inference images/s per model.

    With --data, also the cache against decoding JPEGs and against random tensors.
    """
    from training.experiments.bench import bench_models, bench_pipeline

    with user_errors(*ENGINE_ERRORS):
        results = bench_models(models, image_size, batch_size, steps, device=device, overrides=overrides)
        if data is not None:
            results += bench_pipeline(pipeline_model, data, image_size, batch_size, steps, device=device,
                                      workers=workers, overrides=overrides)
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
        return
    _print_bench(results)


def _print_bench(results) -> None:
    from rich.console import Console

    from pneumo_tui.plain import PlainTable as Table

    first = results[0] if results else None
    title = (f"pneumo bench on {first.device} (amp {first.amp}, channels_last {first.channels_last})"
             if first else "pneumo bench")
    table = Table(title=title)
    for column in ("model", "mode", "input", "size", "batch", "images/s", "vs random", "params"):
        table.add_column(column, justify="left" if column in ("model", "mode", "input") else "right")
    # The pipeline rows are compared with their own random-tensor row, measured in the same pass.
    compute = {r.model: r.images_per_s for r in results if r.mode == "train" and r.input == "random"}
    for r in results:
        ratio = f"{r.images_per_s / compute[r.model]:.2f}" if r.mode == "train" and r.model in compute else ""
        table.add_row(r.model, r.mode, r.input, str(r.image_size), str(r.batch_size), f"{r.images_per_s:.1f}", ratio,
                      f"{r.parameters:,}")
    Console().print(table)
