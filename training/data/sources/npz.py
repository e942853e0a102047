"""PneumoniaMNIST (MedMNIST v2) ``.npz`` files at any size (28, 64, 128, 224).

Keys ``train_images``/``train_labels``, ``val_*``, ``test_*``; images (N, H, W)
uint8, labels (N, 1) with 0 = normal, 1 = pneumonia. Records are
``<split>/<index>``; the file has no patient ids, so splits cannot be grouped
by patient (MedMNIST's own split is used as is).

Nothing is allocated before it is checked. Each array's ``.npy`` header
(shape, dtype) is read from its zip member first, and a split is skipped and
reported (a ``Problem``) when its images are not N x H x W (x 1 or 3), declare
an empty image or more than ``MAX_PIXELS`` per image, declare more bytes than
the member holds, expand like a zip bomb, or hold pickled objects; or when its
labels are not one per image. An array stored uncompressed (``np.savez``) is
memory-mapped and costs no memory; a compressed one (``np.savez_compressed``,
as MedMNIST ships) is decompressed in chunks into memory, at most
``MAX_IN_MEMORY_BYTES`` and half the memory available. A file none of whose
splits can be used is a ``DataError``.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.core.errors import one_line
from training.data.archives import bomb_reason, human_size
from training.data.decode import MAX_PIXELS, stretch_to_uint8
from training.data.records import SPLITS, DataError, Problem, Record, UnreadableImage
from training.data.sources.base import DataSource

log = logging.getLogger("training.data.sources")

MEDMNIST_KEYS = tuple(f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels"))
# PneumoniaMNIST at 224 px is 294 MB in all; 8 GiB leaves room for far larger sets.
MAX_IN_MEMORY_BYTES = 8 << 30
CHUNK = 16 << 20


@dataclass(frozen=True)
class NpyHeader:
    """What one member's ``.npy`` header declares, read without loading the array."""

    key: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # where the array data starts inside the member

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def stored(self) -> bool:
        return self.info.compress_type == zipfile.ZIP_STORED

    def describe(self) -> str:
        return f"{' x '.join(map(str, self.shape)) or 'a scalar'} {self.dtype} ({human_size(self.nbytes)})"


class NpzSource(DataSource):
    kind = "npz"

    def __init__(self, path: Path):
        super().__init__(path)
        self.name = self.root.stem
        self._arrays = self._read()
        self._records = self._list()
        for problem in self.problems:
            log.warning("skipping %s: %s", problem.path, problem.reason)

    def records(self) -> list[Record]:
        return list(self._records)

    def images(self, split: str) -> np.ndarray:
        """The raw image array of one split (what stats reads in bulk); may be a read-only memmap."""
        return self._arrays[f"{split}_images"]

    def load(self, record: Record, draft: int | None = None) -> np.ndarray:
        # The id names the array the image lives in; record.split may have been
        # reassigned since (train <-> val by the validation split).
        array = record.id.split("/", 1)[0]
        try:
            image = self._arrays[f"{array}_images"][record.index]
        except (KeyError, IndexError, TypeError):
            raise UnreadableImage(f"no image {record.id} in {self.root.name}") from None
        try:
            return as_gray8(image)
        except OSError as exc:  # a memory-mapped file that changed under us
            raise UnreadableImage(f"cannot read {record.id}: {one_line(exc)}") from None

    def fingerprint(self, record: Record) -> tuple | None:
        st = os.stat(self.root)
        return (st.st_size, st.st_mtime_ns)

    def _read(self) -> dict[str, np.ndarray]:
        headers = npz_headers(self.root)
        if not any(k.endswith("_images") for k in headers):
            raise DataError(f"{self.root}: no train_images/val_images/test_images arrays (not a MedMNIST file)")
        budget = memory_budget()
        arrays: dict[str, np.ndarray] = {}
        for split in SPLITS:
            images, labels = headers.get(f"{split}_images"), headers.get(f"{split}_labels")
            if images is None:
                continue
            problem = split_problem(split, images, labels)
            if problem is None:
                needed = sum(h.nbytes for h in (images, labels) if not h.stored)
                if needed > budget:
                    problem = Problem(f"{split}_images", (
                        f"needs {human_size(needed)} of memory to decompress, more than the {human_size(budget)} "
                        "allowed (half the memory available, at most "
                        f"{human_size(MAX_IN_MEMORY_BYTES)}); stored uncompressed (np.savez) it would be "
                        "memory-mapped instead"))
            if problem is None:
                try:
                    loaded = {h.key: load_array(self.root, h) for h in (images, labels)}
                except _BadArray as exc:
                    problem = Problem(exc.key, exc.reason)
            if problem is not None:
                self.problems.append(problem)
                continue
            budget -= needed
            arrays.update(loaded)
        if not arrays:
            reasons = "; ".join(f"{p.path} {p.reason}" for p in self.problems)
            raise DataError(f"{self.root}: no usable images ({reasons})")
        return arrays

    def _list(self) -> list[Record]:
        records = []
        for split in SPLITS:
            images = self._arrays.get(f"{split}_images")
            if images is None:
                continue
            labels = np.asarray(self._arrays[f"{split}_labels"]).reshape(len(images), -1)[:, 0]
            for index, label in enumerate(labels.tolist()):
                if label not in (0, 1):
                    self.problems.append(Problem(f"{split}/{index}", f"label {label!r} is neither 0 nor 1"))
                    continue
                records.append(Record(id=f"{split}/{index}", split=split, label=int(label), index=index))
        return records


def as_gray8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (1, 3, 4):
        image = image[..., 0] if image.shape[-1] == 1 else image[..., :3].astype(np.float32) @ [0.299, 0.587, 0.114]
    if image.ndim != 2:
        raise UnreadableImage(f"unexpected image shape {image.shape}")
    if image.size == 0:
        raise UnreadableImage(f"invalid size {image.shape[1]}x{image.shape[0]} (an empty image)")
    if image.dtype == np.uint8:
        return np.array(image)
    return stretch_to_uint8(image)


# -- reading headers, then arrays -------------------------------------------------


def npz_headers(path: Path) -> dict[str, NpyHeader | str]:
    """``{key: header}`` of the ``*_images``/``*_labels`` arrays in ``path``, read without loading
    them (a string says why a member's header cannot be read). ``DataError`` if it is no zip."""
    try:
        return _headers(path)
    except _NotNpz as exc:
        raise DataError(f"{path}: cannot read .npz ({exc})") from None


class _NotNpz(Exception):
    pass


def _headers(path: Path) -> dict[str, NpyHeader | str]:
    try:
        with zipfile.ZipFile(path) as zf:
            out: dict[str, NpyHeader | str] = {}
            for info in zf.infolist():
                key = info.filename.removesuffix(".npy")
                if info.filename.endswith(".npy") and key.endswith(("_images", "_labels")):
                    out[key] = _header(zf, info, key)
            return out
    except (OSError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise _NotNpz(one_line(exc)) from None


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> NpyHeader | str:
    if info.flag_bits & 0x1:
        return "is encrypted"
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                return f"is a .npy of format {version[0]}.{version[1]}, which is not read"
            return NpyHeader(key, info, tuple(int(n) for n in shape), np.dtype(dtype), bool(fortran), f.tell())
    except (OSError, ValueError, TypeError, SyntaxError, EOFError, RuntimeError, NotImplementedError,
            zipfile.BadZipFile) as exc:
        return f"is not a valid .npy array ({one_line(exc, kind=True)})"


def split_problem(split: str, images: NpyHeader | str, labels: NpyHeader | str | None) -> Problem | None:
    """Why the arrays of ``split`` cannot be used, from their headers alone (None if they can)."""
    reason = _dtype_reason(images) or _images_shape_reason(images) or _size_reason(images)
    if reason is not None:
        return Problem(f"{split}_images", reason)
    if labels is None:
        return Problem(f"{split}_labels", "missing (one label per image is needed)")
    reason = _dtype_reason(labels) or _labels_shape_reason(labels, images.shape[0]) or _size_reason(labels)
    return None if reason is None else Problem(f"{split}_labels", reason)


def _dtype_reason(header: NpyHeader | str) -> str | None:
    if isinstance(header, str):
        return header
    dtype = header.dtype
    if dtype.hasobject:
        return "holds Python objects (pickled data is never loaded)"
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
        return f"holds {dtype} values, not numbers"
    return None


def _images_shape_reason(images: NpyHeader) -> str | None:
    shape = images.shape
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] in (1, 3))):
        return f"is a {len(shape)}-D array of shape {shape}, not images (expected N x H x W, or N x H x W x 1 or 3)"
    if shape[1] < 1 or shape[2] < 1:
        return f"declares empty images ({shape[2]}x{shape[1]} pixels)"
    if shape[1] * shape[2] > MAX_PIXELS:
        return f"decompression bomb: declares {shape[2]}x{shape[1]} pixels per image (limit {MAX_PIXELS})"
    return None


def _labels_shape_reason(labels: NpyHeader, n: int) -> str | None:
    shape = labels.shape
    if len(shape) in (1, 2) and shape[0] == n and (len(shape) == 1 or shape[1] == 1):
        return None
    return f"has shape {shape}: not one label per image ({n} images, expected {n} or {n} x 1)"


def _size_reason(header: NpyHeader) -> str | None:
    """The declared bytes must be in the member, and the member must not be a zip bomb."""
    payload = header.info.file_size - header.offset
    if header.nbytes > payload:
        return (f"declares {header.describe()} but holds only {human_size(max(payload, 0))}: "
                "truncated or forged")
    return bomb_reason(header.info)


class _BadArray(Exception):
    def __init__(self, key: str, reason: str):
        super().__init__(f"{key} {reason}")
        self.key, self.reason = key, reason


def load_array(path: Path, header: NpyHeader) -> np.ndarray:
    """The array ``header`` describes: memory-mapped when stored, else decompressed in chunks (its size is
    checked already). ``_BadArray`` if the bytes do not match the header."""
    order = "F" if header.fortran else "C"
    if header.nbytes == 0:
        return np.empty(header.shape, header.dtype, order=order)
    try:
        if header.stored:
            with open(path, "rb") as f:
                start = _data_start(f, header.info) + header.offset
            return np.memmap(path, dtype=header.dtype, mode="r", offset=start, shape=header.shape, order=order)
        flat = np.empty(header.nbytes, np.uint8)
        view = memoryview(flat)
        with zipfile.ZipFile(path) as zf, zf.open(header.info) as f:
            f.read(header.offset)
            done = 0
            while done < header.nbytes:
                n = f.readinto(view[done : done + CHUNK])
                if not n:
                    raise _BadArray(header.key, f"is truncated: holds {human_size(done)} of the "
                                    f"{human_size(header.nbytes)} its header declares")
                done += n
            f.read(1)  # the end of the member: zipfile checks its CRC here
        return flat.view(header.dtype).reshape(header.shape, order=order)
    except _BadArray:
        raise
    except MemoryError:
        raise _BadArray(header.key, f"needs {human_size(header.nbytes)} of memory, which is not free") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, struct.error) as exc:
        raise _BadArray(header.key, f"cannot be read ({one_line(exc, kind=True)})") from None


def _data_start(f, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start in the file: after its local header."""
    f.seek(info.header_offset)
    local = f.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise ValueError("bad local file header")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length


def memory_budget() -> int:
    """How many bytes the compressed arrays of one file may take: half the memory available now,
    at most ``MAX_IN_MEMORY_BYTES``."""
    available = available_memory()
    return MAX_IN_MEMORY_BYTES if available is None else min(MAX_IN_MEMORY_BYTES, available // 2)


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_npz(path: Path, name: str | None = None, keys: tuple[str, ...] = MEDMNIST_KEYS) -> None:
    """``DataError`` unless ``path`` is an ``.npz`` holding ``keys`` with usable headers (nothing is loaded).
    ``name``: what the messages call the file."""
    name = name or Path(path).name
    try:
        headers = _headers(path)
    except _NotNpz as exc:
        raise DataError(f"{name}: cannot read .npz ({exc})") from None
    missing = [k for k in keys if k not in headers]
    if missing:
        raise DataError(f"{name}: not a PneumoniaMNIST .npz (no {', '.join(missing)})")
    for split in SPLITS:
        if f"{split}_images" in headers:
            problem = split_problem(split, headers[f"{split}_images"], headers.get(f"{split}_labels"))
            if problem is not None:
                raise DataError(f"{name}: {problem.path} {problem.reason}")
