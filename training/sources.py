"""Where images come from: one interface over every dataset layout we accept.

``open_source(path)`` looks at what is on disk and returns the matching
``DataSource``: a Kermany folder tree (JPEG/PNG, or DICOM through pydicom) or a
PneumoniaMNIST ``.npz``. Everything downstream (splits, cache, stats, the
engine) sees only ``Record`` lists and ``source.load(record)``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from .records import DataError, Problem, Record

SYNTHETIC_MARKER = "SYNTHETIC"


class DataSource(ABC):
    """A dataset on disk: lists its records once, loads one image on demand."""

    kind: str = ""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.name = self.root.name
        self.problems: list[Problem] = []

    @property
    def synthetic(self) -> bool:
        folder = self.root if self.root.is_dir() else self.root.parent
        return (folder / SYNTHETIC_MARKER).exists()

    @abstractmethod
    def records(self) -> list[Record]:
        """Every listed image, readable or not (loading tells which)."""

    @abstractmethod
    def load(self, record: Record, draft: int | None = None) -> np.ndarray:
        """2-D uint8 grayscale at native size; raises ``UnreadableImage``.

        ``draft`` lets a decoder work at a reduced scale as long as both sides
        stay >= ``draft`` (the cache passes its target size).
        """

    @abstractmethod
    def fingerprint(self, record: Record) -> tuple | None:
        """What changes when the image's bytes change (size, mtime); None if unknown."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"


def open_source(path: str | os.PathLike) -> DataSource:
    """The ``DataSource`` for ``path``; ``DataError`` (one line) if it is none we know."""
    p = Path(os.path.abspath(Path(path).expanduser()))
    if not p.exists():
        kind = "broken symlink" if p.is_symlink() else "no such file or folder"
        raise DataError(f"{path}: {kind}")
    if p.is_file():
        if p.suffix.lower() == ".npz":
            from .npz_source import NpzSource

            return NpzSource(p)
        raise DataError(
            f"{path}: not a dataset (expected a folder in the Kermany layout or a PneumoniaMNIST .npz)"
        )
    from .folder_source import FolderSource

    return FolderSource.open(p)
