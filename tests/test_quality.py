"""Honest evaluation: the operating point comes from val, test is read once at the end,
test-time augmentation, MedMNIST's own val split for an .npz."""

import json
import os
import signal

import numpy as np
import pytest
import torch
from engine_helpers import square_data, square_split, write_tiny_npz

import training.data.cache
from training.data.arrays import DataSpec, prepare_data
from training.engine.device import device_setup
from training.engine.inference import predict_split
from training.engine.recipes import RecipeError, load_recipe
from training.engine.trainer import resume_run, train
from training.engine.tta import predict_views
from training.metrics.thresholds import choose_threshold, parse_threshold_rule, youden
from training.run.events import read_events
from training.run.operating_point import load_threshold
from training.run.paths import RunPaths
from training.run.predictions import read_predictions

TINY = ["image_size=32", "batch_size=8", "rotation=0", "zoom=0", "width_shift=0", "height_shift=0"]


def _evals(run):
    return {e["split"]: e for e in read_events(RunPaths(run).events) if e["event"] == "eval"}


def test_threshold_rules_parse_and_choose_on_val():
    assert parse_threshold_rule("0.5") == ("fixed", 0.5)
    assert parse_threshold_rule("youden") == ("youden", None)
    assert parse_threshold_rule("sensitivity >= 0.95") == ("sensitivity", 0.95)
    for bad in ("1.5", "sensitivity>=0", "best", "sensitivity>=x"):
        with pytest.raises(ValueError):
            parse_threshold_rule(bad)
    with pytest.raises(RecipeError, match="threshold"):
        load_recipe("cnn3", ["threshold=median"])
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.5, 0.85, 0.6, 0.8, 0.9])
    assert choose_threshold("youden", labels, probs) == (0.6, "youden on val")  # J = 2/3 there, at most 1/3 elsewhere
    threshold, how = choose_threshold("sensitivity>=0.6", labels, probs)
    assert threshold == 0.8 and how == "sensitivity>=0.6 on val"  # the highest one keeping 2 of 3 positives
    assert choose_threshold("youden", np.ones(3), probs[:3])[0] == 0.5  # one class: no rule possible


def test_youden_threshold_is_chosen_on_val_saved_and_used_by_the_test_eval(tmp_path):
    recipe = load_recipe("cnn3", ["epochs=2", "threshold=youden", *TINY])
    run = train(recipe, square_data(), tmp_path / "runs")
    rows = read_predictions(run)
    val = [r for r in rows if r["split"] == "val"]
    expected = youden([r["label"] for r in val], [r["probability"] for r in val])
    saved = json.loads(RunPaths(run).threshold.read_text())
    assert saved["how"] == "youden on val" and saved["threshold"] == pytest.approx(expected, abs=1e-6)
    assert load_threshold(run) == pytest.approx(expected, abs=1e-6)
    evals = _evals(run)
    for split in ("val", "test"):
        e = evals[split]
        assert e["threshold"] == pytest.approx(expected, abs=1e-6) and e["threshold_how"] == "youden on val"
        assert e["at_0_5"]["threshold"] == 0.5 and set(e["at_0_5"]) >= {"accuracy", "sensitivity", "specificity", "auc"}
    # The study recipes keep 0.5: no threshold.json, the eval at 0.5.
    plain = train(load_recipe("cnn3", ["epochs=1", *TINY]), square_data(), tmp_path / "plain")
    assert not RunPaths(plain).threshold.exists() and _evals(plain)["test"]["threshold"] == 0.5


def test_the_test_split_is_read_only_after_the_last_epoch_also_when_resumed(demo_root, tmp_path, monkeypatch):
    timeline = []  # ("epoch", n) events and ("test images", count) reads, in the order they happen
    original = training.data.cache.cached_images

    def watched(source, records, *args, **kwargs):
        tests = [r for r in records if r.split == "test"]
        if tests:
            timeline.append(("test images", len(tests)))
        return original(source, records, *args, **kwargs)

    def follow(event):
        if event["event"] in ("epoch", "eval", "run_finished"):
            timeline.append((event["event"], event.get("epoch") or event.get("split") or event.get("reason")))
        if event["event"] == "step" and event["epoch"] == 2 and event["step"] == 1:
            os.kill(os.getpid(), signal.SIGINT)  # the trainer's Ctrl-C: stop after this step, checkpointed

    monkeypatch.setattr(training.data.cache, "cached_images", watched)
    recipe = load_recipe("cnn3", ["epochs=3", "image_size=32", "batch_size=4"])
    run = train(recipe, DataSpec(demo_root), tmp_path / "runs", on_event=follow)
    assert timeline[-1] == ("run_finished", "interrupted")
    assert not any(kind == "test images" for kind, _ in timeline)  # stopped mid-run: test never read

    timeline.clear()
    resume_run(run, tmp_path / "runs", on_event=follow)
    kinds = [kind for kind, _ in timeline]
    assert ("test images", 8) in timeline and kinds.count("epoch") == 2
    last_epoch = max(i for i, k in enumerate(kinds) if k == "epoch")
    assert all(i > last_epoch for i, k in enumerate(kinds) if k == "test images")
    assert kinds.index("test images") < kinds.index("eval")
    assert _evals(run)["test"]["n"] == 8


def test_tta_averages_fixed_views_and_reports_the_single_view_on_val(tmp_path):
    setup = device_setup("cpu", amp=False, channels_last=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 1), torch.nn.Flatten(0))
    split = square_split(10, "val", 3)
    single, _ = predict_split(model, split, setup)
    assert np.allclose(predict_views(model, split, setup, 1), single, atol=1e-6)
    five = predict_views(model, split, setup, 5)
    assert five.shape == single.shape and not np.allclose(five, single) and ((0 < five) & (five < 1)).all()

    run = train(load_recipe("cnn3", ["epochs=1", "tta=4", *TINY]), square_data(), tmp_path / "runs")
    val = _evals(run)["val"]
    assert set(val["single_view"]) >= {"accuracy", "auc"} and "single_view" not in _evals(run)["test"]
    with pytest.raises(RecipeError, match="tta"):
        load_recipe("cnn3", ["tta=0"])


def test_an_npz_uses_its_official_val_unless_asked_to_carve(tmp_path):
    path = write_tiny_npz(tmp_path / "tiny.npz", {"train": 40, "val": 6, "test": 8})
    official = prepare_data(DataSpec(path), image_size=28, val_fraction=0.25)
    assert [r.id for r in official.val.records] == [f"val/{i}" for i in range(6)] and len(official.train) == 40
    assert official.info["val_split"] == "official" and not official.test_loaded and official.info["n_test"] == 8
    assert len(official.test) == 8 and official.test_loaded
    carved = prepare_data(DataSpec(path), image_size=28, val_fraction=0.25, val_split="carve")
    assert carved.info["val_split"] == "carved" and len(carved.train) + len(carved.val) == 46
    assert any(r.id.startswith("train/") for r in carved.val.records)


def test_no_test_explores_on_val_only_and_says_so_in_config(demo_root, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pneumo_tui.cli import app

    read = []
    original = training.data.cache.cached_images
    monkeypatch.setattr(training.data.cache, "cached_images",
                        lambda source, records, *a, **k: (read.extend(r.split for r in records)
                                                          or original(source, records, *a, **k)))
    result = CliRunner().invoke(app, ["train", "cnn3", "--data", str(demo_root), "--no-test", "--epochs", "1",
                                      "--image-size", "32", "--set", "batch_size=8", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    assert "test" not in read and set(_evals(run)) == {"val"}
    assert {r["split"] for r in read_predictions(run)} == {"val"}
    config = json.loads(RunPaths(run).config.read_text())
    assert config["data"]["use_test"] is False and config["data"]["n_test"] == 0
    clash = CliRunner().invoke(app, ["train", "cnn3", "--data", str(demo_root), "--no-test", "--test-data",
                                     str(demo_root), "--out", str(tmp_path / "runs")])
    assert clash.exit_code == 1 and "--no-test" in clash.output


def test_a_block_val_split_is_used_and_recorded(demo_root):
    block = prepare_data(DataSpec(demo_root), image_size=32, val_split="block")
    assert block.info["val_split"] == "block" and len(block.val) > 0
    random_val = prepare_data(DataSpec(demo_root), image_size=32, val_split="carve")
    assert {r.id for r in block.val.records} != {r.id for r in random_val.val.records}
    assert not {r.patient for r in block.val.records} & {r.patient for r in block.train.records}
