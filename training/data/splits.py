"""A patient-grouped, class-stratified validation split carved from train.

Why not the official val: it holds 16 images, too few to choose a model or a
threshold on. Why grouped: one child often has several films; if some go to
train and some to val, validation scores are inflated. The assignment is
stored as JSON (normally in the data's cache folder) so every run on the same
data uses the same split even if the code that computes it changes later.

Two ways to carve it: ``random`` (a seeded shuffle of patients) or ``block``
(the lowest-numbered patients of each id series). Kermany's official splits
are blocks of the patient numbering: test holds the first patients of each
series (NORMAL2-IM-0007..0381, IM-0001..0111, mostly person1..151), val the
last. A block val beside the test block is a held-out group of the same kind,
where a random val mixes patients from the whole series.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from training.core.fileio import atomic_write_json
from training.data.patients import patient_number
from training.data.records import Record

log = logging.getLogger(__name__)

STORE_VERSION = 1
METHODS = ("random", "block")


def with_validation_split(
    records: list[Record],
    fraction: float = 0.1,
    seed: int = 0,
    keep_official_val: bool = False,
    store: Path | None = None,
    method: str = "random",
) -> list[Record]:
    """``records`` with train (plus official val, merged) re-split into train/val.

    ``keep_official_val``: keep the dataset's own val split instead (when it
    has one). ``store``: a folder (file name derived from the parameters) or a
    ``.json`` path where the assignment is kept. ``method``: "random" or
    "block" (see the module's doc). Test records pass through.
    """
    if method not in METHODS:
        raise ValueError(f"unknown validation split method {method!r} (choose from {', '.join(METHODS)})")
    records = list(records)
    if keep_official_val and any(r.split == "val" for r in records):
        return records
    pool = [r for r in records if r.split in ("train", "val")]
    if not pool or fraction <= 0:
        return [replace(r, split="train") if r.split == "val" else r for r in records]
    if method == "block":
        seed = 0  # a block split has no randomness: one stored file whatever the seed
    path = _store_path(store, fraction, seed, method)
    digest = _pool_digest(pool)
    val_ids = _load(path, fraction, seed, digest, method)
    if val_ids is None:
        if method == "block":
            val_ids = carve_block_validation(pool, fraction)
        else:
            val_ids = carve_validation(pool, fraction, seed)
        if path is not None:
            _save(path, fraction, seed, digest, val_ids, method)
    return [
        replace(r, split="val" if r.id in val_ids else "train") if r.split in ("train", "val") else r
        for r in records
    ]


def carve_validation(pool: list[Record], fraction: float, seed: int) -> set[str]:
    """Ids of the validation records: whole patients, about ``fraction`` of
    each class (and pneumonia subtype), chosen by a seeded shuffle."""
    groups = _patients(pool)
    rng = random.Random(seed)
    val: set[str] = set()
    for keys in _strata(groups).values():
        keys = sorted(keys)
        rng.shuffle(keys)
        val |= _fill(keys, groups, fraction)
    return val


def carve_block_validation(pool: list[Record], fraction: float) -> set[str]:
    """Ids of the validation records: whole patients, about ``fraction`` of each
    class (and pneumonia subtype) and id series, lowest patient numbers first."""
    groups = _patients(pool)
    by_series: dict[tuple, list[str]] = defaultdict(list)
    for stratum, keys in _strata(groups).items():
        for key in keys:
            by_series[(*stratum, patient_number(key)[0])].append(key)
    val: set[str] = set()
    for keys in by_series.values():
        val |= _fill(sorted(keys, key=patient_number), groups, fraction, contiguous=True)
    return val


def _patients(pool: list[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in pool:
        # An image without a patient id is its own patient.
        groups[r.patient or f"image:{r.id}"].append(r)
    return groups


def _strata(groups: dict[str, list[Record]]) -> dict[tuple, list[str]]:
    """Patients by (label, subtype) of most of their images, in a stable order."""
    strata: dict[tuple, list[str]] = defaultdict(list)
    for key, members in groups.items():
        strata[_majority((m.label, m.subtype or "") for m in members)].append(key)
    return dict(sorted(strata.items()))


def _fill(keys: list[str], groups: dict[str, list[Record]], fraction: float, contiguous: bool = False) -> set[str]:
    """Patients taken in ``keys``' order until ``fraction`` of their images.

    Fills up to the target without overshooting by more than half an image.
    Shuffled keys: smaller groups later in the order may still top it up.
    ``contiguous``: stop at the first group that does not fit, so that the
    result is a block of the order."""
    val: set[str] = set()
    if not keys:
        return val
    target = fraction * sum(len(groups[k]) for k in keys)
    taken = 0
    for key in keys:
        size = len(groups[key])
        if taken + size <= target + 0.5:
            val.update(m.id for m in groups[key])
            taken += size
        elif contiguous:
            break
    if taken == 0 and target >= 0.5 and len(keys) > 1:
        first = keys[0] if contiguous else min(keys, key=lambda k: len(groups[k]))
        val.update(m.id for m in groups[first])
    return val


def _majority(items) -> tuple:
    counts: dict[tuple, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return max(sorted(counts), key=lambda k: counts[k])


def _store_path(store: Path | None, fraction: float, seed: int, method: str) -> Path | None:
    if store is None:
        return None
    store = Path(store)
    if store.suffix == ".json":
        return store
    if method == "block":
        return store / f"val-split-block-f{fraction:g}.json"
    return store / f"val-split-f{fraction:g}-s{seed}.json"


def _pool_digest(pool: list[Record]) -> str:
    return hashlib.sha1("\n".join(sorted(r.id for r in pool)).encode()).hexdigest()


def _load(path: Path | None, fraction: float, seed: int, digest: str, method: str) -> set[str] | None:
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("validation split %s is unreadable; computing a new one", path)
        return None
    stored = (data.get("version"), data.get("fraction"), data.get("seed"), data.get("method", "random"))
    if stored != (STORE_VERSION, fraction, seed, method):
        return None
    if data.get("pool") != digest:
        log.warning("the training images changed since %s was stored; computing a new validation split", path)
        return None
    return set(data.get("val", []))


def _save(path: Path, fraction: float, seed: int, digest: str, val_ids: set[str], method: str) -> None:
    try:
        atomic_write_json(
            path,
            {"version": STORE_VERSION, "method": method, "fraction": fraction, "seed": seed, "pool": digest,
             "val": sorted(val_ids)},
        )
    except OSError as exc:
        log.warning("could not store the validation split in %s (%s); it is recomputed each run", path, exc)
