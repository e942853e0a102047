"""The preprocessing cache: decode and resize each image once, then memory-map.

Decoding a 2k JPEG costs ~20 ms; reading 200x200 bytes from a memory map costs
microseconds. Every run after the first starts training at once.

Layout of ``cache_dir_for(root)/images-v1-<size>-<fit>/``:
  shard-<id>.npy   uint8 (N, size, size), written once, never modified
  index.json       which image (id, file size, mtime_ns) sits in which shard row,
                   and which files were found unreadable (so they are not retried)
A request whose images already sit contiguously in one shard gets a zero-copy
memory map. Otherwise only the missing or changed files are decoded and the
request's images are written as a new shard. Shards and the index are written
to a temp file and renamed, so a killed build leaves the old cache intact.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.core.fileio import atomic_write_json
from training.data.decode import resize
from training.data.records import DataError, Problem, Record, UnreadableImage

log = logging.getLogger(__name__)

CACHE_ENV = "PNEUMO_CACHE"
CACHE_VERSION = 1  # bump when decoding or resizing changes the pixels
FITS = ("squash", "letterbox")

Key = tuple  # (record id, file size, mtime_ns)


@dataclass
class CachedSplit:
    """Images aligned with records; unreadable images dropped and listed in ``skipped``."""

    records: list[Record]
    images: np.ndarray  # uint8 (N, size, size); a read-only memmap when possible
    skipped: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


def cache_dir_for(source_root: Path) -> Path:
    """Where derived files (image cache, stored val split, stats facts) live.

    ``<root>/.pneumo-cache`` when the data folder is writable, otherwise
    ``~/.cache/pneumo/<name>-<hash>``; ``$PNEUMO_CACHE`` replaces the base
    (``DataError``, one line naming it, when it is no folder that can be written to).
    """
    root = Path(source_root).expanduser().resolve()
    label = f"{root.name}-{hashlib.sha1(str(root).encode()).hexdigest()[:12]}"
    if base := os.environ.get(CACHE_ENV):
        return _usable_base(Path(base).expanduser()) / label
    folder = root if root.is_dir() else root.parent
    if _writable(folder):
        cache = folder / ".pneumo-cache"
        return cache if root.is_dir() else cache / root.name
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home_cache / "pneumo" / label


def _usable_base(base: Path) -> Path:
    """``base``, made if need be, when it is a folder that can be written to."""
    try:
        base.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        why = "it is not a folder"
    except NotADirectoryError:
        why = "a part of that path is not a folder"
    except OSError as exc:
        why = f"that folder cannot be made ({exc.strerror or exc})"
    else:
        if os.access(base, os.W_OK | os.X_OK):
            return base
        why = "that folder is not writable"
    raise DataError(f"{CACHE_ENV}={base}: {why}; set it to a folder you can write to, or unset it")


def _writable(folder: Path) -> bool:
    # os.access alone says yes to root on a chmod a-w folder; the mode bits
    # tell us the owner asked for it to stay untouched.
    try:
        return os.access(folder, os.W_OK) and bool(
            os.stat(folder).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    except OSError:
        return False


def cached_images(
    source,
    records: list[Record],
    size: int = 200,
    fit: str = "squash",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CachedSplit:
    """The images of ``records`` at ``size`` x ``size``, decoded at most once.

    ``progress(done, total)`` is called as missing images are decoded.
    """
    if fit not in FITS:
        raise ValueError(f"unknown fit {fit!r} (expected one of {', '.join(FITS)})")
    folder = cache_dir_for(source.root) / f"images-v{CACHE_VERSION}-{size}-{fit}"
    folder.mkdir(parents=True, exist_ok=True)
    with _BuildLock(folder / "build.lock"):
        return _Cache(folder, size).get(source, records, fit, workers, progress)


class _Cache:
    def __init__(self, folder: Path, size: int):
        self.folder = folder
        self.size = size
        self.shards: dict[str, list[Key]] = {}
        self.unreadable: dict[Key, str] = {}
        self._load_index()

    # -- the request -----------------------------------------------------------

    def get(self, source, records, fit, workers, progress) -> CachedSplit:
        keys = [_key(source, r) for r in records]
        skipped: list[Problem] = []
        wanted: list[tuple[Record, Key | None]] = []
        for record, key in zip(records, keys, strict=True):
            if key is not None and key in self.unreadable:
                skipped.append(Problem(record.id, self.unreadable[key]))
            else:
                wanted.append((record, key))

        hit = self._contiguous([k for _, k in wanted])
        if hit is not None:
            return self._finish([r for r, _ in wanted], hit, skipped, progress)

        where = self._locations()
        missing = [r for r, k in wanted if k is None or k not in where]
        shards_used = {where[k][0] for _, k in wanted if k in where}
        if not missing and len(shards_used) == 1:
            # Everything is cached in one shard, just not in this order: gather a copy.
            rows = [where[k][1] for _, k in wanted]
            images = np.asarray(self._open(next(iter(shards_used)))[rows])
            return self._finish([r for r, _ in wanted], images, skipped, progress)

        images, kept, failed = self._build(source, wanted, where, missing, fit, workers, progress)
        for record, key in wanted:
            if record.id in failed:
                skipped.append(Problem(record.id, failed[record.id]))
                if key is not None:
                    self.unreadable[key] = failed[record.id]
        self._save_index()
        return self._finish([r for r, _ in kept], images, skipped, progress)

    def _finish(self, records, images, skipped, progress) -> CachedSplit:
        for problem in skipped:
            log.warning("skipping %s: %s", problem.path, problem.reason)
        if progress is not None:
            progress(len(records), len(records))
        return CachedSplit(records=records, images=images, skipped=skipped)

    # -- lookups ---------------------------------------------------------------

    def _contiguous(self, keys: list[Key | None]) -> np.ndarray | None:
        """A memmap slice if ``keys`` sit in one shard, in order, back to back."""
        if not keys:
            return self._empty()
        if any(k is None for k in keys):
            return None
        for name, shard_keys in self.shards.items():
            try:
                start = shard_keys.index(keys[0])
            except ValueError:
                continue
            if shard_keys[start : start + len(keys)] == keys:
                try:
                    return self._open(name)[start : start + len(keys)]
                except (OSError, ValueError):
                    return None
        return None

    def _locations(self) -> dict[Key, tuple[str, int]]:
        where: dict[Key, tuple[str, int]] = {}
        for name, shard_keys in self.shards.items():
            for row, key in enumerate(shard_keys):
                where[key] = (name, row)
        return where

    def _open(self, name: str) -> np.ndarray:
        return np.load(self.folder / name, mmap_mode="r")

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.size, self.size), dtype=np.uint8)

    # -- writing ---------------------------------------------------------------

    def _build(self, source, wanted, where, missing, fit, workers, progress):
        """Write the request's images as a new shard: cached rows are copied,
        missing ones decoded straight into it (no full copy held in RAM).
        Returns (images, kept (record, key) pairs, {id: reason} of failures)."""
        _check_room(self.folder, len(wanted), self.size)
        name = f"shard-{uuid.uuid4().hex[:12]}.npy"
        tmp = self.folder / f".tmp-{name}"
        temps = [tmp]
        missing_ids = {r.id for r in missing}
        row_of = {r.id: row for row, (r, _) in enumerate(wanted)}
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(wanted), self.size, self.size))
            opened: dict[str, np.ndarray] = {}
            for row, (record, key) in enumerate(wanted):
                if record.id not in missing_ids:
                    shard, src_row = where[key]
                    if shard not in opened:
                        opened[shard] = self._open(shard)
                    out[row] = opened[shard][src_row]
            del opened

            def store(record: Record, image: np.ndarray, out: np.ndarray = out) -> None:
                out[row_of[record.id]] = image

            failed = _decode_all(source, missing, self.size, fit, workers, progress, store)
            keep = [row for row, (r, _) in enumerate(wanted) if r.id not in failed]
            kept = [wanted[row] for row in keep]
            if not kept:
                return self._empty(), kept, failed
            if failed:  # drop the failed rows: copy the survivors into a second file
                temps.append(self.folder / f".tmp-compact-{name}")
                final = np.lib.format.open_memmap(temps[-1], mode="w+", dtype=np.uint8,
                                                  shape=(len(keep), self.size, self.size))
                for start in range(0, len(keep), 256):
                    final[start : start + 256] = out[keep[start : start + 256]]
                out = final
            out.flush()
            del out
            with open(temps[-1], "rb+") as f:
                os.fsync(f.fileno())
            os.replace(temps[-1], self.folder / name)
        finally:
            for t in temps:
                t.unlink(missing_ok=True)
        # A file that could not be stat'ed gets a key no later request matches.
        new_keys = [key if key is not None else (r.id, -1, -1) for r, key in kept]
        new_ids = {r.id for r, _ in kept}
        # An older shard whose every image is in the new one is superseded.
        for stale in [n for n, ks in self.shards.items() if all(k[0] in new_ids for k in ks)]:
            del self.shards[stale]
        self.shards[name] = new_keys
        self._save_index()
        self._sweep()
        return self._open(name), kept, failed

    # -- index -----------------------------------------------------------------

    def _load_index(self) -> None:
        try:
            data = json.loads((self.folder / "index.json").read_text())
            shards = {n: [tuple(k) for k in ks] for n, ks in data["shards"].items()}
            unreadable = {tuple(k[:-1]): k[-1] for k in data["unreadable"]}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("image cache index in %s is unreadable; rebuilding", self.folder)
            return
        self.shards = {n: ks for n, ks in shards.items() if (self.folder / n).exists()}
        self.unreadable = unreadable

    def _save_index(self) -> None:
        atomic_write_json(
            self.folder / "index.json",
            {
                "version": CACHE_VERSION,
                "size": self.size,
                "shards": {n: [list(k) for k in ks] for n, ks in self.shards.items()},
                "unreadable": [[*k, reason] for k, reason in self.unreadable.items()],
            },
        )

    def _sweep(self) -> None:
        """Delete shards no index entry points at (superseded, or left by a killed build)."""
        for path in self.folder.iterdir():
            orphan = path.name.startswith("shard-") and path.name not in self.shards
            if orphan or path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)


def _check_room(folder: Path, n_images: int, size: int) -> None:
    """``DataError`` with the figures when a shard of ``n_images`` at ``size`` px would not fit on the disk."""
    needed = n_images * size * size + (1 << 20)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed > free:
        raise DataError(f"the {size}-px cache of {n_images:,} images needs {needed / 1e9:.2f} GB in {folder}, and "
                        f"{free / 1e9:.2f} GB are free: choose a smaller image_size, or put the cache on a larger "
                        f"disk with {CACHE_ENV}=DIR")


def _key(source, record: Record) -> Key | None:
    fp = source.fingerprint(record)
    return None if fp is None else (record.id, *fp)


def _decode_all(source, records, size, fit, workers, progress, store) -> dict[str, str]:
    """Decode and resize ``records`` in parallel, handing each image to
    ``store(record, image)`` (on this thread); returns {id: reason} of failures."""
    failed: dict[str, str] = {}
    if not records:
        return failed
    total = len(records)
    workers = workers or os.cpu_count() or 1
    # Threads: PIL releases the GIL while decoding and resizing, so threads
    # scale like processes here without pickling images back and forth.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_prepare, source, r, size, fit): r for r in records}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                record = futures[future]
                try:
                    store(record, future.result())
                except UnreadableImage as exc:
                    failed[record.id] = str(exc) or "unreadable"
                except Exception as exc:  # one odd file must not stop a 5000-image build
                    failed[record.id] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if progress is not None:
                    progress(done, total)
        except BaseException:
            for future in futures:  # Ctrl-C: do not decode the rest before exiting
                future.cancel()
            raise
    return failed


def _prepare(source, record: Record, size: int, fit: str) -> np.ndarray:
    return resize(source.load(record, draft=size), size, fit)


class _BuildLock:
    """One builder per cache folder at a time (two runs starting together)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
