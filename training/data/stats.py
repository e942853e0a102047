"""Honest dataset statistics: what is really in a folder or .npz.

Counts per split and class, pneumonia subtypes, patients (and patients that
leak across splits), exact duplicate files, image sizes and modes, intensity
per class, and every file that cannot be read, with the reason.

Per-file facts (header size and mode, content hash, mean intensity) cost a
read of every byte, so they are kept in the data's cache folder keyed by
(path, size, mtime_ns): a second run only stats the files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from training.core.fileio import atomic_write_json
from training.data.cache import cache_dir_for
from training.data.decode import read_header
from training.data.patients import patient_number
from training.data.records import CLASSES, SPLITS, Record, UnreadableImage
from training.data.sources import DataSource, open_source

log = logging.getLogger(__name__)

FACTS_VERSION = 1
FACTS_FILE = f"file-facts-v{FACTS_VERSION}.json"
# Mean intensity needs pixels; a 1/8-scale JPEG decode gives the same mean
# to within a gray level at a fraction of the cost.
INTENSITY_DRAFT = 64
HISTOGRAM_BINS = 10
NPZ_BLOCK = 512  # images per block when reading a .npz split (float32 copies of one block only)

# One file's facts: width, height, mode, md5, mean, std, reason (None if readable).
Facts = dict


def compute_stats(
    path: str | os.PathLike,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> dict:
    """The statistics of the dataset at ``path`` as one JSON-able dict.

    Raises ``DataError`` (one line) when ``path`` is no dataset.
    ``progress(done, total)`` is called while uncached files are read.
    """
    with _quiet("training.data.sources"):  # the report lists the problems itself
        source = open_source(path)
    records = source.records()
    if source.kind == "npz":
        facts = _npz_facts(source, records)
    else:
        facts = _folder_facts(source, records, progress, workers)
    return summarize(source, records, facts)


def summarize(source: DataSource, records: list[Record], facts: dict[str, Facts]) -> dict:
    readable = [r for r in records if facts[r.id]["reason"] is None]
    return {
        "source": {"path": str(source.root), "kind": source.kind, "name": source.name},
        "synthetic": source.synthetic,
        "total": len(records),
        "readable": len(readable),
        "splits": _split_counts(records),
        "subtypes": _subtypes(records),
        "patients": _patients(records),
        "cross_split_patients": _cross_split_patients(records),
        "unavailable": _unavailable(source, records),
        "duplicates": _duplicates(readable, facts),
        "unreadable": [{"path": r.id, "reason": facts[r.id]["reason"]} for r in records if facts[r.id]["reason"]],
        "sizes": _sizes(readable, facts),
        "modes": _modes(readable, facts),
        "intensity": _intensity(readable, facts),
        "problems": [{"path": p.path, "reason": p.reason} for p in source.problems],
    }


@contextmanager
def _quiet(logger_name: str):
    logger = logging.getLogger(logger_name)
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


# -- per-file facts -------------------------------------------------------------


def _folder_facts(source, records, progress, workers) -> dict[str, Facts]:
    store = cache_dir_for(source.root) / FACTS_FILE
    cached = _load_facts(store)
    facts: dict[str, Facts] = {}
    todo: list[tuple[Record, tuple | None]] = []
    for record in records:
        fp = source.fingerprint(record)
        entry = cached.get(record.id)
        if fp is not None and entry is not None and tuple(entry["fp"]) == fp:
            facts[record.id] = entry
        else:
            todo.append((record, fp))
    if todo:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            done = 0
            for (record, fp), entry in zip(todo, pool.map(lambda t: _file_facts(source, t[0]), todo), strict=True):
                facts[record.id] = entry
                if fp is not None:
                    cached[record.id] = {**entry, "fp": list(fp)}
                done += 1
                if progress is not None:
                    progress(done, len(todo))
        listed = {r.id for r in records}
        _save_facts(store, {k: v for k, v in cached.items() if k in listed})
    return facts


def _file_facts(source: DataSource, record: Record) -> Facts:
    entry: Facts = {"width": None, "height": None, "mode": None, "md5": None, "mean": None, "std": None, "reason": None}
    try:
        if record.path.suffix.lower() not in (".dcm", ".dicom"):
            header = read_header(record.path)
            entry.update(width=header.width, height=header.height, mode=header.mode)
        pixels = source.load(record, draft=INTENSITY_DRAFT)
        if entry["mode"] is None:  # DICOM: the decoded frame is what we know
            entry.update(height=int(pixels.shape[0]), width=int(pixels.shape[1]), mode="DICOM")
        entry.update(mean=round(float(pixels.mean()), 3), std=round(float(pixels.std()), 3))
        entry["md5"] = _md5(record.path)
    except UnreadableImage as exc:
        entry["reason"] = str(exc) or "unreadable"
    except (OSError, MemoryError, ValueError) as exc:
        entry["reason"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return entry


def _md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def _npz_facts(source, records) -> dict[str, Facts]:
    facts: dict[str, Facts] = {}
    for split in SPLITS:
        split_records = [r for r in records if r.split == split]
        if not split_records:
            continue
        images = source.images(split)  # may be a memory map: read it a block at a time
        means, stds = np.empty(len(images)), np.empty(len(images))
        for start in range(0, len(images), NPZ_BLOCK):
            flat = np.asarray(images[start : start + NPZ_BLOCK]).reshape(-1, math.prod(images.shape[1:]))
            flat = flat.astype(np.float32)
            means[start : start + len(flat)], stds[start : start + len(flat)] = flat.mean(axis=1), flat.std(axis=1)
        height, width = images.shape[1:3]
        mode = "L" if images.ndim == 3 or images.shape[3] == 1 else "RGB"
        for r in split_records:
            row = images[r.index]
            facts[r.id] = {
                "width": int(width), "height": int(height), "mode": mode,
                "md5": hashlib.md5(np.ascontiguousarray(row).tobytes()).hexdigest(),
                "mean": round(float(means[r.index]), 3), "std": round(float(stds[r.index]), 3), "reason": None,
            }
    return facts


def _load_facts(path: Path) -> dict[str, Facts]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("stats cache %s is unreadable; recomputing", path)
        return {}
    return data.get("files", {}) if isinstance(data, dict) else {}


def _save_facts(path: Path, files: dict[str, Facts]) -> None:
    try:
        atomic_write_json(path, {"version": FACTS_VERSION, "files": files})
    except OSError as exc:  # a read-only cache costs speed next time, nothing else
        log.warning("could not store the stats cache in %s (%s)", path, exc)


# -- summaries --------------------------------------------------------------------


def _present_splits(records) -> list[str]:
    found = {r.split for r in records}
    return [s for s in SPLITS if s in found]


def _unavailable(source: DataSource, records) -> dict:
    """``{"patients": why, "subtypes": why}``: the words shown instead of counts that the data cannot give
    (None where it can). A count of 0 would claim there is nothing; "n/a" says it cannot be known."""
    pneumonia = [r for r in records if r.label == 1]
    where = "this format has no" if source.kind == "npz" else "no file name carries a"
    return {
        "patients": None if any(r.patient for r in records) else
        ("n/a: this format has no patient ids" if source.kind == "npz" else f"n/a: {where} patient id"),
        "subtypes": None if not pneumonia or any(r.subtype for r in pneumonia) else
        ("n/a: this format has no subtypes" if source.kind == "npz" else f"n/a: {where} subtype"),
    }


def _split_counts(records) -> dict:
    counts = Counter((r.split, r.class_name) for r in records)
    return {s: {c: counts[(s, c)] for c in CLASSES} for s in _present_splits(records)}


def _subtypes(records) -> dict:
    out = {}
    for split in _present_splits(records):
        kinds = Counter(r.subtype or "unknown" for r in records if r.split == split and r.label == 1)
        out[split] = {"bacteria": kinds["bacteria"], "virus": kinds["virus"], "unknown": kinds["unknown"]}
    return out


def _patients(records) -> dict:
    out = {}
    for split in _present_splits(records):
        in_split = [r for r in records if r.split == split]
        per_patient = Counter(r.patient for r in in_split if r.patient)
        by_class = {c: len({r.patient for r in in_split if r.patient and r.class_name == c}) for c in CLASSES}
        out[split] = {
            "patients": len(per_patient),
            **by_class,
            "without_id": sum(1 for r in in_split if not r.patient),
            "images_per_patient": _summary(list(per_patient.values())),
            "id_ranges": _id_ranges(per_patient),
        }
    return out


def _id_ranges(patients) -> dict[str, list[int]]:
    """``{series: [lowest, highest]}`` of the patient numbers: Kermany's official splits are blocks of them."""
    numbers: dict[str, list[int]] = defaultdict(list)
    for patient in patients:
        series, number = patient_number(patient)
        if series:
            numbers[series].append(number)
    return {series: [min(n), max(n)] for series, n in sorted(numbers.items())}


def _cross_split_patients(records) -> dict:
    where: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if r.patient:
            where[r.patient][r.split] += 1
    leaking = sorted(p for p, splits in where.items() if len(splits) > 1)
    return {
        "count": len(leaking),
        "patients": [{"patient": p, "splits": dict(sorted(where[p].items()))} for p in leaking],
    }


def _duplicates(readable, facts) -> dict:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in readable:
        groups[facts[r.id]["md5"]].append(r)
    dupes = [
        {"md5": md5, "paths": [r.id for r in members], "splits": sorted({r.split for r in members}),
         "labels": sorted({r.class_name for r in members})}
        for md5, members in sorted(groups.items(), key=lambda kv: kv[1][0].id)
        if len(members) > 1
    ]
    return {
        "groups": dupes,
        "within_split": sum(1 for g in dupes if len(g["splits"]) == 1),
        "across_splits": sum(1 for g in dupes if len(g["splits"]) > 1),
        "conflicting_labels": sum(1 for g in dupes if len(g["labels"]) > 1),
        "extra_files": sum(len(g["paths"]) - 1 for g in dupes),
    }


def _sizes(readable, facts) -> dict:
    widths = [facts[r.id]["width"] for r in readable]
    heights = [facts[r.id]["height"] for r in readable]
    aspects = [round(w / h, 4) for w, h in zip(widths, heights, strict=True)]
    by_split: dict = {}
    for split in _present_splits(readable):
        by_split[split] = {}
        for c in CLASSES:
            group = [facts[r.id] for r in readable if r.split == split and r.class_name == c]
            if group:
                by_split[split][c] = {
                    "width": _summary([f["width"] for f in group], histogram=False),
                    "height": _summary([f["height"] for f in group], histogram=False),
                }
    return {"width": _summary(widths), "height": _summary(heights), "aspect": _summary(aspects), "by_split": by_split}


def _modes(readable, facts) -> dict:
    by_split: dict = {}
    for r in readable:
        mode = facts[r.id]["mode"]
        by_split.setdefault(r.split, {}).setdefault(r.class_name, Counter())[mode] += 1
    all_modes = Counter(facts[r.id]["mode"] for r in readable)
    return {
        "all": dict(all_modes.most_common()),
        "by_split": {
            s: {c: dict(by_split[s][c].most_common()) for c in CLASSES if c in by_split.get(s, {})}
            for s in SPLITS
            if s in by_split
        },
    }


def _intensity(readable, facts) -> dict:
    out = {}
    for c in CLASSES:
        group = [facts[r.id] for r in readable if r.class_name == c]
        if not group:
            continue
        out[c] = {
            "mean": _summary([f["mean"] for f in group], histogram=False, percentiles=True),
            "contrast": _summary([f["std"] for f in group], histogram=False),
        }
    return out


def _summary(values, histogram: bool = True, percentiles: bool = False) -> dict:
    if not values:
        return {"n": 0}
    arr = np.asarray(values, dtype=np.float64)
    out = {
        "n": int(arr.size),
        "min": _num(arr.min()),
        "median": _num(np.median(arr)),
        "mean": _num(arr.mean()),
        "max": _num(arr.max()),
    }
    if percentiles:
        out["p5"], out["p95"] = _num(np.percentile(arr, 5)), _num(np.percentile(arr, 95))
    if histogram:
        counts, edges = np.histogram(arr, bins=HISTOGRAM_BINS)
        out["histogram"] = {"edges": [_num(e) for e in edges], "counts": counts.tolist()}
    return out


def _num(x) -> float | int:
    x = float(x)
    return int(x) if x.is_integer() else round(x, 3)
