"""The trainer: a run folder with every file, the event schema, reproducibility, failures."""

import csv
import json

import numpy as np
import pytest
import torch
from engine_helpers import square_data, square_split, write_tiny_npz

from training.data.arrays import BatchLoader, DataSpec
from training.engine.augment import AffineAugment
from training.engine.optim import EarlyStopping, LRSchedule
from training.engine.recipes import load_recipe
from training.engine.trainer import TrainingFailed, class_weights, train
from training.run.events import read_events
from training.run.paths import RunPaths
from training.run.predictions import read_predictions
from training.run.state import run_status

SCHEMA = {
    "run_started": {"run_id", "model", "device", "epochs", "steps_per_epoch", "batch_size", "image_size", "n_train",
                    "n_val", "n_test", "pid", "host", "amp", "synthetic"},
    "step": {"epoch", "step", "global_step", "loss", "lr", "images_per_s"},
    "epoch": {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_precision", "val_sensitivity",
              "val_specificity", "val_f1", "val_auc", "lr", "seconds", "images_per_s"},
    "checkpoint": {"kind", "epoch", "path", "metric", "value"},
    "eval": {"split", "accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "auc", "confusion",
             "threshold", "n"},
    "run_finished": {"reason", "best_epoch"},
}


def test_cnn3_trains_two_epochs_at_64px_and_writes_every_file(demo_root, tmp_path):
    recipe = load_recipe("cnn3", ["epochs=2", "image_size=64", "batch_size=8"])
    run = train(recipe, DataSpec(demo_root), tmp_path / "runs", command="test")
    paths = RunPaths(run)

    config = json.loads(paths.config.read_text())
    assert config["model"] == "cnn3" and config["recipe"]["epochs"] == 2 and config["recipe"]["image_size"] == 64
    assert config["data"]["synthetic"] is True and config["data"]["path"] == str(demo_root)
    assert config["data"]["n_train"] + config["data"]["n_val"] == 28  # demo: 24 train + 4 official val, re-split
    assert {"torch", "python"} <= set(config["versions"]) and "git_commit" in config and config["command"] == "test"

    events = read_events(paths.events)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    for e in events:
        assert "time" in e and SCHEMA[e["event"]] <= set(e), e["event"]
    steps_per_epoch = events[0]["steps_per_epoch"]
    assert kinds.count("step") == 2 * steps_per_epoch
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    assert [e["split"] for e in events if e["event"] == "eval"] == ["val", "test"]
    assert kinds.index("eval") > max(i for i, k in enumerate(kinds) if k == "epoch")  # test only after training
    assert events[-1]["reason"] == "completed"
    assert {e["kind"] for e in events if e["event"] == "checkpoint"} == {"last", "best"}

    for path in (paths.last_checkpoint, paths.best_checkpoint):
        state = torch.load(path, weights_only=True)
        assert state["model_name"] == "cnn3" and state["epoch"] in (1, 2)
    rows = read_predictions(run)
    assert {r["split"] for r in rows} == {"val", "test"}
    assert sum(r["split"] == "test" for r in rows) == config["data"]["n_test"] == 8
    with open(paths.predictions) as f:
        assert tuple(csv.DictReader(f).fieldnames) == ("id", "path", "split", "label", "probability", "subtype",
                                                       "patient")
    assert all(0 <= r["probability"] <= 1 for r in rows)
    assert not paths.lock.exists() and run_status(run) == "finished"


def test_training_is_reproducible_on_cpu_augmentation_included(tmp_path):
    recipe = load_recipe("cnn3", ["epochs=2", "image_size=32", "batch_size=8"])
    losses = []
    for name in ("a", "b"):
        run = train(recipe, square_data(), tmp_path / name)
        losses.append([e["loss"] for e in read_events(RunPaths(run).events) if e["event"] == "step"])
    assert len(losses[0]) == 8 and losses[0] == losses[1]


def test_training_learns_an_easy_signal(tmp_path):
    recipe = load_recipe("cnn3", ["epochs=3", "image_size=32", "batch_size=8", "rotation=0", "zoom=0",
                                  "width_shift=0", "height_shift=0"])
    run = train(recipe, square_data(), tmp_path)
    evals = {e["split"]: e for e in read_events(RunPaths(run).events) if e["event"] == "eval"}
    assert evals["test"]["auc"] > 0.9  # the bright square


def test_a_failing_run_says_run_failed_in_one_line(tmp_path, monkeypatch):
    import training.engine.trainer

    def broken_loss(*args, **kwargs):
        raise RuntimeError("loss exploded\nsecond line")

    monkeypatch.setattr(training.engine.trainer, "weighted_bce", broken_loss)
    recipe = load_recipe("cnn3", ["epochs=1", "image_size=32", "batch_size=8"])
    with pytest.raises(TrainingFailed, match="RuntimeError: loss exploded") as info:
        train(recipe, square_data(), tmp_path / "runs")
    assert "\n" not in str(info.value)
    run = next((tmp_path / "runs").iterdir())
    last = read_events(RunPaths(run).events)[-1]
    assert last["event"] == "run_failed" and last["error"] == "RuntimeError: loss exploded" and last["traceback"]
    assert run_status(run) == "failed" and not RunPaths(run).lock.exists()


def test_a_loss_that_turns_nan_fails_the_run_instead_of_finishing(tmp_path, monkeypatch):
    # A run whose loss turned NaN "completed" with NaN losses.
    import training.engine.trainer

    real = training.engine.trainer.weighted_bce

    def diverging(logits, *args, **kwargs):
        return real(logits, *args, **kwargs) * float("nan")

    monkeypatch.setattr(training.engine.trainer, "weighted_bce", diverging)
    with pytest.raises(TrainingFailed, match="the training loss became nan at epoch 1, step 1"):
        train(load_recipe("cnn3", ["epochs=2", "image_size=32", "batch_size=8"]), square_data(), tmp_path / "runs")
    run = next((tmp_path / "runs").iterdir())
    assert run_status(run) == "failed" and "diverged" in read_events(RunPaths(run).events)[-1]["error"]


def test_arrays_of_the_wrong_size_are_refused_before_a_run_exists(tmp_path):
    recipe = load_recipe("cnn3", ["epochs=1", "image_size=64"])
    with pytest.raises(ValueError, match="32x32 but the recipe's image_size is 64"):
        train(recipe, square_data(size=32), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_loader_orders_are_seeded_sharded_and_resumable():
    split = square_split(10, "train", 0, 8)
    loader = BatchLoader(split, 4, torch.device("cpu"), shuffle=True, seed=3)
    assert np.array_equal(loader.order(1), BatchLoader(split, 4, torch.device("cpu"), shuffle=True, seed=3).order(1))
    assert not np.array_equal(loader.order(1), loader.order(2))
    batches = list(loader.batches(1))
    assert [len(b.indices) for b in batches] == [4, 4, 2]
    assert batches[0].images.dtype == torch.float32 and batches[0].images.shape == (4, 1, 8, 8)
    assert float(batches[0].images.max()) <= 1.0
    rest = list(loader.batches(1, start=1))
    assert [b.indices.tolist() for b in rest] == [b.indices.tolist() for b in batches[1:]]
    shards = [BatchLoader(split, 4, torch.device("cpu"), shuffle=True, seed=3, shard=(r, 2)).order(1) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert set(shards[0]) | set(shards[1]) == set(range(10)) and not set(shards[0]) & set(shards[1])


def test_balanced_class_weights_early_stopping_and_schedules():
    split = square_split(8, "train", 0, 8)
    split.labels[:] = [1, 1, 1, 1, 1, 1, 0, 0]
    assert class_weights(split, "balanced").tolist() == pytest.approx([2.0, 8 / 12])
    stopper = EarlyStopping("val_loss", patience=2)
    assert [stopper.update(v) for v in (1.0, 0.9, 0.95, 0.91)] == [False, False, False, True]
    model = torch.nn.Linear(2, 1)
    recipe = load_recipe("resnet_small", ["epochs=2", "warmup_epochs=1", "lr=1e-2", "min_lr=0"])
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr)
    schedule = LRSchedule(opt, recipe, steps_per_epoch=10)
    lrs = []
    for step in range(20):
        schedule.before_step(step)
        lrs.append(schedule.lr)
    assert lrs[0] == pytest.approx(1e-3) and lrs[9] == pytest.approx(1e-2)  # linear warmup
    assert lrs[10] == pytest.approx(1e-2) and lrs[-1] < 1e-3 and lrs[10:] == sorted(lrs[10:], reverse=True)


def test_augmentation_is_batched_affine_and_keeps_shape():
    images = torch.zeros(4, 1, 16, 16)
    images[:, :, :, :8] = 1.0  # left half bright
    assert AffineAugment(0, 0, 0, 0).__call__(images) is images
    shifted = AffineAugment(rotation=0, zoom=0, width_shift=0.25, height_shift=0)(
        images, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    assert not torch.equal(shifted, images)  # every image moved sideways
    theta = AffineAugment(rotation=20, zoom=0.2, width_shift=0.2, height_shift=0.2).random_matrices(1000, "cpu")
    assert theta.shape == (1000, 2, 3)
    assert theta[:, :, 2].abs().max() <= 0.4 + 1e-6  # shifts of at most 0.2 of the side


def test_exposure_augmentation_stays_in_range_and_varies_per_image():
    from training.engine.augment import ExposureAugment

    images = torch.linspace(0, 1, 64).view(1, 1, 8, 8).repeat(256, 1, 1, 1)
    assert ExposureAugment().__call__(images) is images
    out = ExposureAugment(gamma=0.3, contrast=0.2, brightness=0.1)(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    means = out.mean(dim=(1, 2, 3))
    assert means.std() > 0.02  # each image got its own exposure
    assert (means - images.mean()).abs().max() < 0.1 + 0.15  # brightness 0.1 plus what gamma moves
    # monotone: gamma, contrast and shift keep the order of grey levels (the input is a ramp)
    assert (out.flatten(1).diff(dim=1) >= -1e-6).all()


def test_exposure_keys_are_validated():
    from training.engine.recipes import RecipeError, load_recipe

    assert load_recipe("cnn3", ["gamma=0.3", "contrast=0.2"]).gamma == 0.3
    with pytest.raises(RecipeError, match="gamma"):
        load_recipe("cnn3", ["gamma=1.5"])


def test_prepare_data_on_an_npz_keeps_every_image_and_the_right_pixels(tmp_path):
    from training.data.arrays import prepare_data

    path = write_tiny_npz(tmp_path / "tiny.npz", {"train": 40, "val": 4, "test": 8})
    arrays = np.load(path)
    data = prepare_data(DataSpec(path), image_size=28, val_fraction=0.25)
    assert len(data.train) + len(data.val) == 44 and len(data.test) == 8
    for split in (data.train, data.val):
        for record, pixels in zip(split.records, split.images, strict=True):
            origin, index = record.id.split("/")
            assert np.array_equal(pixels, arrays[f"{origin}_images"][int(index)])
