"""The interface every dataset layout implements: ``DataSource`` lists records and loads one image."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from training.data.records import Problem, Record

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
