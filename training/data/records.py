"""The unit every data source yields: one image with its label and provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.core.errors import PneumoError

CLASSES = ("NORMAL", "PNEUMONIA")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Record:
    """One image of a dataset.

    ``id`` is stable across runs and machines: the path relative to the data
    root for folder sources (``test/NORMAL/IM-0001-0001.jpeg``), or
    ``<split>/<index>`` for array sources.
    """

    id: str
    split: str
    label: int  # 0 NORMAL, 1 PNEUMONIA
    subtype: str | None = None  # "bacteria" | "virus" | None
    patient: str | None = None
    path: Path | None = None
    index: int | None = None  # row in an array source

    @property
    def class_name(self) -> str:
        return CLASSES[self.label]


@dataclass(frozen=True)
class Problem:
    """Something a source skipped, with the reason; reported, never raised."""

    path: str
    reason: str


class DataError(PneumoError):
    """A dataset that cannot be opened at all (missing path, unknown layout)."""


class UnreadableImage(Exception):
    """One image that cannot be decoded; the loaders skip it with a warning."""
