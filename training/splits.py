"""A patient-grouped, class-stratified validation split carved from train.

Why not the official val: it holds 16 images, too few to choose a model or a
threshold on. Why grouped: one child often has several films; if some go to
train and some to val, validation scores are inflated. The assignment is
stored as JSON (normally in the data's cache folder) so every run on the same
data uses the same split even if the code that computes it changes later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from .fileio import atomic_write_json
from .records import Record

log = logging.getLogger(__name__)

STORE_VERSION = 1


def with_validation_split(
    records: list[Record],
    fraction: float = 0.1,
    seed: int = 0,
    keep_official_val: bool = False,
    store: Path | None = None,
) -> list[Record]:
    """``records`` with train (plus official val, merged) re-split into train/val.

    ``keep_official_val``: keep the dataset's own val split instead (when it
    has one). ``store``: a folder (file name derived from the parameters) or a
    ``.json`` path where the assignment is kept. Test records pass through.
    """
    records = list(records)
    if keep_official_val and any(r.split == "val" for r in records):
        return records
    pool = [r for r in records if r.split in ("train", "val")]
    if not pool or fraction <= 0:
        return [replace(r, split="train") if r.split == "val" else r for r in records]
    path = _store_path(store, fraction, seed)
    digest = _pool_digest(pool)
    val_ids = _load(path, fraction, seed, digest)
    if val_ids is None:
        val_ids = carve_validation(pool, fraction, seed)
        if path is not None:
            _save(path, fraction, seed, digest, val_ids)
    return [
        replace(r, split="val" if r.id in val_ids else "train") if r.split in ("train", "val") else r
        for r in records
    ]


def carve_validation(pool: list[Record], fraction: float, seed: int) -> set[str]:
    """Ids of the validation records: whole patients, about ``fraction`` of
    each class (and pneumonia subtype), chosen by a seeded shuffle."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in pool:
        # An image without a patient id is its own patient.
        groups[r.patient or f"image:{r.id}"].append(r)
    strata: dict[tuple, list[str]] = defaultdict(list)
    for key, members in groups.items():
        strata[_majority((m.label, m.subtype or "") for m in members)].append(key)
    rng = random.Random(seed)
    val: set[str] = set()
    for stratum in sorted(strata):
        keys = sorted(strata[stratum])
        rng.shuffle(keys)
        target = fraction * sum(len(groups[k]) for k in keys)
        taken = 0
        for key in keys:
            size = len(groups[key])
            # Fill up to the target without overshooting by more than half an
            # image; small groups later in the order can still top it up.
            if taken + size <= target + 0.5:
                val.update(m.id for m in groups[key])
                taken += size
        if taken == 0 and target >= 0.5 and len(keys) > 1:
            smallest = min(keys, key=lambda k: len(groups[k]))
            val.update(m.id for m in groups[smallest])
    return val


def _majority(items) -> tuple:
    counts: dict[tuple, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return max(sorted(counts), key=lambda k: counts[k])


def _store_path(store: Path | None, fraction: float, seed: int) -> Path | None:
    if store is None:
        return None
    store = Path(store)
    if store.suffix == ".json":
        return store
    return store / f"val-split-f{fraction:g}-s{seed}.json"


def _pool_digest(pool: list[Record]) -> str:
    return hashlib.sha1("\n".join(sorted(r.id for r in pool)).encode()).hexdigest()


def _load(path: Path | None, fraction: float, seed: int, digest: str) -> set[str] | None:
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("validation split %s is unreadable; computing a new one", path)
        return None
    if (data.get("version"), data.get("fraction"), data.get("seed")) != (STORE_VERSION, fraction, seed):
        return None
    if data.get("pool") != digest:
        log.warning("the training images changed since %s was stored; computing a new validation split", path)
        return None
    return set(data.get("val", []))


def _save(path: Path, fraction: float, seed: int, digest: str, val_ids: set[str]) -> None:
    try:
        atomic_write_json(
            path,
            {"version": STORE_VERSION, "fraction": fraction, "seed": seed, "pool": digest, "val": sorted(val_ids)},
        )
    except OSError as exc:
        log.warning("could not store the validation split in %s (%s); it is recomputed each run", path, exc)
