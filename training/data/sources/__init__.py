"""Where images come from: one interface over every dataset layout we accept.

``open_source(path)`` looks at what is on disk and returns the matching
``DataSource``: a Kermany folder tree (JPEG/PNG, or DICOM through pydicom) or a
PneumoniaMNIST ``.npz``. Everything downstream (splits, cache, stats, the
engine) sees only ``Record`` lists and ``source.load(record)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from training.data.records import DataError
from training.data.sources.base import SYNTHETIC_MARKER, DataSource
from training.data.sources.folder import FolderSource
from training.data.sources.npz import NpzSource

__all__ = ["SYNTHETIC_MARKER", "DataSource", "open_source"]


def open_source(path: str | os.PathLike) -> DataSource:
    """The ``DataSource`` for ``path``; ``DataError`` (one line) if it is none we know."""
    p = Path(os.path.abspath(Path(path).expanduser()))
    if not p.exists():
        kind = "broken symlink" if p.is_symlink() else "no such file or folder"
        raise DataError(f"{path}: {kind}")
    if p.is_file():
        if p.suffix.lower() == ".npz":
            return NpzSource(p)
        raise DataError(
            f"{path}: not a dataset (expected a folder in the Kermany layout or a PneumoniaMNIST .npz)"
        )
    return FolderSource.open(p)
