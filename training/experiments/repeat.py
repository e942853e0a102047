"""One recipe over several seeds: the test figures' mean and spread, with bootstrap intervals per run.

    summary = repeat_recipe("resnet_small", DataSpec(train, test), seeds=[0, 1, 2], runs_dir=Path("runs"))

Every seed is an ordinary run (its own folder, its operating point chosen on
its own val predictions, test read once at its end). The summary reports each
metric at that val-chosen threshold and at 0.5, as mean and sample standard
deviation over the seeds, plus each run's stratified bootstrap 95% interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training.core.fileio import atomic_write_json
from training.data.arrays import DataSpec, prepare_data
from training.engine.recipes import load_recipe
from training.metrics.bootstrap import METRICS, bootstrap_cis
from training.run.predictions import read_predictions
from training.run.state import read_run
from training.run.store import load_config

OPERATING_POINTS = ("at_threshold", "at_0_5")


def repeat_recipe(name: str, data: DataSpec, seeds: list[int], runs_dir: Path, overrides: list[str] | None = None,
                  on_event: Callable[[dict], None] | None = None, device: str | None = None,
                  n_boot: int = 2000) -> dict:
    """Train ``name`` once per seed on the same data and split; returns (and saves) the summary."""
    from training.engine.trainer import train

    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError("give one or more distinct seeds")
    recipes = [load_recipe(name, [*(overrides or []), f"seed={seed}"]) for seed in seeds]
    r = recipes[0]
    # One cache load for every seed: the val split depends on split_seed, not on the training seed.
    prepared = prepare_data(data, r.image_size, r.fit, r.val_fraction, r.split_seed, val_split=r.val_split)
    run_dirs = []
    for recipe in recipes:
        run_dirs.append(train(recipe, prepared, runs_dir, on_event=on_event, device=device,
                              command=f"pneumo repeat {name} (seed {recipe.seed})"))
    summary = summarize_runs(run_dirs, n_boot=n_boot)
    summary["settings"] = {"recipe": name, "overrides": list(overrides or []), "seeds": list(seeds),
                           "data": str(data.path), "test_data": str(data.test_path) if data.test_path else None}
    path = Path(runs_dir) / f"repeat-{r.model}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    atomic_write_json(path, summary)
    summary["path"] = str(path)
    return summary


def summarize_runs(run_dirs: list[Path], n_boot: int = 2000) -> dict:
    """``{"runs": [...], "at_threshold": {metric: {mean, sd, values}}, "at_0_5": {...}}`` over finished runs."""
    runs = [run_figures(Path(d), n_boot) for d in run_dirs]
    summary = {"runs": runs}
    for point in OPERATING_POINTS:
        summary[point] = {m: spread([run[point][m]["value"] for run in runs]) for m in METRICS}
    return summary


def run_figures(run_dir: Path, n_boot: int = 2000) -> dict:
    """One run's test metrics at its saved operating point and at 0.5, each with a bootstrap 95% interval."""
    test_eval = read_run(run_dir).state.evals.get("test")
    if test_eval is None:
        raise ValueError(f"{run_dir.name} has no test evaluation (did it finish, with a test split?)")
    rows = [r for r in read_predictions(run_dir) if r["split"] == "test"]
    labels = np.array([r["label"] for r in rows], dtype=int)
    probabilities = np.array([r["probability"] for r in rows], dtype=float)
    threshold = float(test_eval["threshold"])
    return {
        "run": run_dir.name,
        "run_dir": str(run_dir),
        "seed": _seed(run_dir),
        "threshold": threshold,
        "threshold_how": test_eval.get("threshold_how", ""),
        "n": len(rows),
        "at_threshold": bootstrap_cis(labels, probabilities, threshold, n_boot=n_boot),
        "at_0_5": bootstrap_cis(labels, probabilities, 0.5, n_boot=n_boot),
    }


def spread(values: list[float]) -> dict:
    """Mean and sample standard deviation (0 for a single run)."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "values": v.tolist()}


def _seed(run_dir: Path):
    return (load_config(run_dir) or {}).get("recipe", {}).get("seed")
