"""``pneumo repeat``: one recipe over several seeds, reported as mean +- sd with bootstrap intervals."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .errors import fail, user_errors
from .options import RUNS, RUNS_OUT_ALIAS, runs_folder
from .train_commands import ENGINE_ERRORS, progress_reporter


def register(app: typer.Typer) -> None:
    app.command()(repeat)


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        fail(f"--seeds wants integers separated by commas, e.g. 0,1,2; got {text!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        fail(f"--seeds wants one or more distinct seeds, got {text!r}")
    return seeds


def repeat(
    model: str = typer.Argument(..., help="Recipe to train (a model name such as best, or a .toml path)."),
    data: Path = typer.Option(..., "--data", help="Training data (Kermany folder, train folder or .npz)."),
    test_data: Path | None = typer.Option(None, "--test-data", help="Test set to use instead of the data's own."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Seeds, comma-separated: one run each."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the recipe's epochs."),
    image_size: int | None = typer.Option(None, "--image-size", help="Override the recipe's image side (px)."),
    overrides: list[str] = typer.Option([], "--set", help="Recipe override key=value (repeatable)."),
    runs: Path = RUNS,
    runs_alias: Path | None = RUNS_OUT_ALIAS,
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap replicates per run and metric."),
    device: str | None = typer.Option(None, "--device", help="cuda, cuda:1, mps or cpu (default: best available)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train MODEL once per seed; test figures as mean +- sd with bootstrap intervals.

    Accuracy, sensitivity, specificity and AUC at the val-chosen threshold and at 0.5, with each
    run's bootstrap 95% interval.
    """
    from training.data.arrays import DataSpec
    from training.experiments.repeat import repeat_recipe

    seed_list = parse_seeds(seeds)
    changes = list(overrides)
    changes += [f"epochs={epochs}"] if epochs is not None else []
    changes += [f"image_size={image_size}"] if image_size is not None else []
    if any(c.split("=", 1)[0].strip() == "seed" for c in changes):
        fail("give the seeds with --seeds, not --set seed=...")
    runs = runs_folder(runs, runs_alias)
    with user_errors(*ENGINE_ERRORS, ValueError), progress_reporter() as reporter:
        summary = repeat_recipe(model, DataSpec(data, test_data), seed_list, runs, changes, on_event=reporter,
                                device=device, n_boot=n_boot)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _value(metric: str, x: float) -> str:
    return f"{x:.3f}" if metric == "auc" else _pct(x)


def print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.markup import escape

    from pneumo_tui.plain import PlainTable as Table

    console = Console()
    runs = summary["runs"]
    for point, title in (("at_threshold", "at the val-chosen threshold"), ("at_0_5", "at threshold 0.5")):
        table = Table(title=escape(f"test, {len(runs)} seeds, {title} (mean +- sd; per run: value [bootstrap 95% CI])"))
        table.add_column("metric")
        table.add_column("mean +- sd", justify="right")
        for run in runs:
            thr = f"thr {run['threshold']:.3f}" if point == "at_threshold" else "thr 0.5"
            table.add_column(f"seed {run['seed']} ({thr})", justify="right")
        for metric in ("accuracy", "sensitivity", "specificity", "auc"):
            s = summary[point][metric]
            cells = [f"{_value(metric, s['mean'])} +- {_value(metric, s['sd'])}"]
            cells += [f"{_value(metric, c['value'])} [{_value(metric, c['low'])}, {_value(metric, c['high'])}]"
                      for c in (run[point][metric] for run in runs)]
            table.add_row(metric, *cells)
        console.print(table)
    if summary.get("path"):
        console.print(f"summary: {summary['path']}")
