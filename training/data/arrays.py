"""The arrays a run trains on, and batches straight from them.

``prepare_data`` turns ``--data PATH [--test-data PATH]`` into train / val /
test arrays through the data API (source -> patient-grouped val split ->
uint8 preprocessing cache). ``BatchLoader`` then slices batches out of those
arrays (a memmap is fine) with one fancy-index per batch: no Dataset,
no per-image Python, no worker processes. The float conversion happens on the
training device.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from training.core.tasks import task_named
from training.data.records import DataError, Record


@dataclass
class SplitData:
    """One split: records aligned with a (N, S, S) uint8 image array."""

    records: list[Record]
    images: np.ndarray
    labels: np.ndarray = field(init=False)

    def __post_init__(self):
        if len(self.records) != len(self.images):
            raise ValueError(f"{len(self.records)} records but {len(self.images)} images")
        self.labels = np.array([r.label for r in self.records], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def class_counts(self) -> tuple[int, int]:
        positives = int(self.labels.sum())
        return len(self) - positives, positives


@dataclass
class DataSpec:
    """Where a run's data comes from (what the user typed)."""

    path: Path
    test_path: Path | None = None
    use_test: bool = True  # False: explore on val only; no test image is listed or read


class PreparedData:
    """Train and val arrays, and the test split, which is loaded on first use.

    The test images are read only when ``.test`` is first asked for (the
    trainer's final evaluation), so that nothing during training can look at
    them. ``info["n_test"]`` counts the listed test images without loading them.
    """

    def __init__(self, train: SplitData, val: SplitData, test: SplitData | Callable[[], SplitData | None] | None,
                 info: dict):
        self.train, self.val = train, val
        self.info = info  # config.json "data": path, test_path, source, synthetic, val_fraction, split_seed, n_*
        self._test = None if callable(test) else test
        self._load_test = test if callable(test) else None

    @property
    def test(self) -> SplitData | None:
        if self._load_test is not None:
            self._test, self._load_test = self._load_test(), None
        return self._test

    @property
    def test_loaded(self) -> bool:
        return self._load_test is None


def arrays_data(train: SplitData, val: SplitData, test: SplitData | None = None, **info) -> PreparedData:
    """Data already in memory (tests, benchmarks): no source, no cache."""
    info = {"path": None, "test_path": None, "source": "arrays", "synthetic": True, **info}
    return PreparedData(train, val, test, _with_counts(info, train, val, len(test) if test is not None else 0))


def prepare_data(
    spec: DataSpec,
    image_size: int,
    fit: str = "squash",
    val_fraction: float = 0.1,
    split_seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    val_split: str = "auto",
    task: str = "pneumonia",
) -> PreparedData:
    """Open the source(s), split, and load train and val through the preprocessing cache
    (test only when first used: see ``PreparedData``).

    ``val_split``: "carve" a patient-grouped val from train (+ official val),
    "block": carve the lowest-numbered patients of each id series instead of a
    random draw (see ``splits``), keep the data's "official" val, or "auto":
    official for a PneumoniaMNIST .npz (MedMNIST's benchmark split, 524
    images), carved otherwise (Kermany's official val is 16 images).
    ``task`` (``training.core.tasks``) picks and labels the images after the split, so that a subtype run's
    validation is the pneumonia runs' own, restricted to its images; the images it leaves out are counted in
    the info (``left_out``, and ``left_out_note``, one line with examples).
    ``progress(split, done, total)`` reports caching. Raises DataError with a
    one-line message when the data cannot be used.
    """
    from training.data.cache import cache_dir_for, cached_images
    from training.data.sources import open_source
    from training.data.splits import with_validation_split
    from training.data.tasks import TaskSelection, select_for_task

    source = open_source(spec.path)
    records = source.records()
    test_source = open_source(spec.test_path) if spec.test_path and spec.use_test else None
    if test_source is not None or not spec.use_test:
        # --test-data replaces the source's own test split; --no-test drops it
        records = [r for r in records if r.split != "test"]
    keep_official = val_split == "official" or (val_split == "auto" and source.kind == "npz")
    method = "block" if val_split == "block" else "random"
    # The val assignment is stored beside the cache: every run on this data gets the same one.
    records = with_validation_split(records, fraction=val_fraction, seed=split_seed, keep_official_val=keep_official,
                                    store=cache_dir_for(source.root), method=method)
    by_split = {name: [r for r in records if r.split == name] for name in ("train", "val", "test")}
    if test_source is not None:
        by_split["test"] = _test_records(test_source.records())
    chosen = task_named(task)
    selections = {name: select_for_task(recs, chosen) for name, recs in by_split.items()}
    by_split = {name: sel.records for name, sel in selections.items()}
    left_out = TaskSelection([], [r for sel in selections.values() for r in sel.left_out])

    def load(name: str, src, recs) -> SplitData | None:
        if not recs:
            return None
        report = (lambda done, total: progress(name, done, total)) if progress else None
        cached = cached_images(src, recs, size=image_size, fit=fit, progress=report)
        return SplitData(list(cached.records), cached.images)

    train = load("train", source, by_split["train"])
    val = load("val", source, by_split["val"])
    if train is None or len(set(train.labels.tolist())) < 2:
        why = left_out.report(chosen)  # None for the pneumonia task, which leaves nothing out
        raise DataError(f"{spec.path}: training needs images of both classes in the train split"
                        + (f" ({' and '.join(chosen.classes)} for the {chosen.name} task)" if task != "pneumonia"
                           else "") + (f"; {why}" if why else ""))
    if val is None:
        raise DataError(f"{spec.path}: no validation images (val_fraction={val_fraction}, and no val split)")
    info = {
        # Absolute, so that `--resume` and `pneumo eval` work from any directory.
        "path": os.path.abspath(spec.path),
        "test_path": os.path.abspath(spec.test_path) if spec.test_path and spec.use_test else None,
        "source": source.name,
        "synthetic": bool(source.synthetic or (test_source is not None and test_source.synthetic)),
        "val_fraction": val_fraction,
        "split_seed": split_seed,
        "val_split": "official" if keep_official else {"random": "carved", "block": "block"}[method],
        "use_test": spec.use_test,
        "task": chosen.name,
        "left_out": len(left_out.left_out),
        "left_out_note": left_out.report(chosen),
    }
    test = lambda: load("test", test_source or source, by_split["test"])  # noqa: E731 - read at the end only
    return PreparedData(train, val, test, _with_counts(info, train, val, len(by_split["test"])))


def _test_records(records: list[Record]) -> list[Record]:
    # A Kermany root given as --test-data: its test split; a plain folder: all of it.
    tests = [r for r in records if r.split == "test"]
    return tests or [replace(r, split="test") for r in records]


def _with_counts(info: dict, train, val, n_test: int) -> dict:
    return {**info, "n_train": len(train), "n_val": len(val), "n_test": n_test}


@dataclass
class Batch:
    indices: np.ndarray  # rows of the split, for predictions
    images: torch.Tensor  # (B, 1, S, S) float in [0, 1], on the device
    labels: torch.Tensor  # (B,) float 0/1, on the device


class BatchLoader:
    """Batches from a uint8 array, in a fresh seeded order every epoch.

    The order of epoch ``e`` depends only on (seed, e), so a resumed run sees
    exactly the batches the interrupted one would have. ``shard=(rank, world)``
    gives each DDP process an equal, disjoint slice of that order (like
    DistributedSampler, padding by wrapping around).
    """

    def __init__(self, split: SplitData, batch_size: int, device: torch.device, *, shuffle: bool = False,
                 seed: int = 0, shard: tuple[int, int] = (0, 1)):
        self.split = split
        self.batch_size = batch_size
        self.device = device
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world = shard

    def order(self, epoch: int) -> np.ndarray:
        n = len(self.split)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.world > 1:
            per_rank = math.ceil(n / self.world)
            order = np.resize(order, per_rank * self.world)[self.rank :: self.world]
        return order

    def __len__(self) -> int:
        return self._n_batches(len(self.order(0)))

    def _n_batches(self, n: int) -> int:
        batches = math.ceil(n / self.batch_size)
        # A trailing batch of one image breaks BatchNorm in training mode: drop it.
        if self.shuffle and n % self.batch_size == 1 and batches > 1:
            batches -= 1
        return batches

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        """The batches of ``epoch``, skipping the first ``start`` (mid-epoch resume)."""
        order = self.order(epoch)
        for b in range(start, self._n_batches(len(order))):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self._batch(idx)

    def _batch(self, idx: np.ndarray) -> Batch:
        # Sorted rows read a memmap sequentially; the order inside a batch does not matter.
        idx = np.sort(idx)
        pixels = torch.from_numpy(np.ascontiguousarray(self.split.images[idx]))
        images = pixels.to(self.device, non_blocking=True).unsqueeze(1).float().div_(255.0)
        labels = torch.from_numpy(self.split.labels[idx]).to(self.device, non_blocking=True).float()
        return Batch(idx, images, labels)
