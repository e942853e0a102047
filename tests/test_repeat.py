"""pneumo repeat: one run per seed, mean +- sd at the val-chosen threshold and at 0.5, bootstrap intervals."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.experiments.repeat import spread
from training.metrics.bootstrap import bootstrap_cis
from training.run.events import read_events
from training.run.paths import RunPaths
from training.run.predictions import read_predictions

runner = CliRunner()


def test_repeat_trains_one_run_per_seed_and_summarizes_them(demo_root, tmp_path):
    out = tmp_path / "runs"
    result = runner.invoke(app, ["repeat", "cnn3", "--data", str(demo_root), "--seeds", "0,1", "--epochs", "1",
                                 "--image-size", "32", "--set", "batch_size=8", "--set", "threshold=youden",
                                 "--n-boot", "200", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    saved = json.loads(next(out.glob("repeat-cnn3-*.json")).read_text())
    assert saved["runs"] == summary["runs"] and saved["settings"]["seeds"] == [0, 1]
    assert [r["seed"] for r in summary["runs"]] == [0, 1] and len(list(out.glob("*/events.jsonl"))) == 2

    for run in summary["runs"]:
        test_eval = [e for e in read_events(RunPaths(Path(run["run_dir"])).events) if e["event"] == "eval"][-1]
        assert run["threshold"] == test_eval["threshold"] and run["threshold_how"] == "youden on val"
        rows = [r for r in read_predictions(run["run_dir"]) if r["split"] == "test"]
        labels = [r["label"] for r in rows]
        probs = [r["probability"] for r in rows]
        assert run["at_threshold"] == bootstrap_cis(labels, probs, run["threshold"], n_boot=200)
        assert run["at_0_5"]["accuracy"]["value"] == test_eval["at_0_5"]["accuracy"]
        ci = run["at_0_5"]["auc"]
        assert ci["low"] <= ci["value"] <= ci["high"]
    for point in ("at_threshold", "at_0_5"):
        acc = [r[point]["accuracy"]["value"] for r in summary["runs"]]
        assert summary[point]["accuracy"]["mean"] == pytest.approx(np.mean(acc))
        assert summary[point]["accuracy"]["sd"] == pytest.approx(np.std(acc, ddof=1))

    table = runner.invoke(app, ["repeat", "cnn3", "--data", str(demo_root), "--seeds", "3", "--epochs", "1",
                                "--image-size", "32", "--set", "batch_size=8", "--n-boot", "100", "--out", str(out)])
    assert table.exit_code == 0, table.output
    assert "mean +- sd" in table.stdout and "seed 3 (thr 0.500)" in table.stdout


def test_bad_seeds_are_one_line_errors(demo_root, tmp_path):
    for seeds in ("a,b", "1,1", ""):
        result = runner.invoke(app, ["repeat", "cnn3", "--data", str(demo_root), "--seeds", seeds,
                                     "--out", str(tmp_path)])
        assert result.exit_code == 1 and "--seeds" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["repeat", "cnn3", "--data", str(demo_root), "--set", "seed=4", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--seeds" in result.output


def test_spread_is_mean_and_sample_sd():
    assert spread([0.8, 0.9, 1.0]) == {"mean": pytest.approx(0.9), "sd": pytest.approx(0.1), "values": [0.8, 0.9, 1.0]}
    assert spread([0.7])["sd"] == 0.0
