"""PneumoniaMNIST (MedMNIST v2) ``.npz`` files at any size (28, 64, 128, 224).

Keys ``train_images``/``train_labels``, ``val_*``, ``test_*``; images (N, H, W)
uint8, labels (N, 1) with 0 = normal, 1 = pneumonia. Records are
``<split>/<index>``; the file has no patient ids, so splits cannot be grouped
by patient (MedMNIST's own split is used as is).
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from training.data.decode import stretch_to_uint8
from training.data.records import SPLITS, DataError, Problem, Record, UnreadableImage
from training.data.sources.base import DataSource

log = logging.getLogger("training.data.sources")


class NpzSource(DataSource):
    kind = "npz"

    def __init__(self, path: Path):
        super().__init__(path)
        self.name = self.root.stem
        self._arrays = _read_arrays(self.root)
        self._records = self._list()
        for problem in self.problems:
            log.warning("skipping %s: %s", problem.path, problem.reason)

    def records(self) -> list[Record]:
        return list(self._records)

    def images(self, split: str) -> np.ndarray:
        """The raw image array of one split (what stats reads in bulk)."""
        return self._arrays[f"{split}_images"]

    def load(self, record: Record, draft: int | None = None) -> np.ndarray:
        # The id names the array the image lives in; record.split may have been
        # reassigned since (train <-> val by the validation split).
        array = record.id.split("/", 1)[0]
        try:
            image = self._arrays[f"{array}_images"][record.index]
        except (KeyError, IndexError, TypeError):
            raise UnreadableImage(f"no image {record.id} in {self.root.name}") from None
        return as_gray8(image)

    def fingerprint(self, record: Record) -> tuple | None:
        st = os.stat(self.root)
        return (st.st_size, st.st_mtime_ns)

    def _list(self) -> list[Record]:
        records = []
        for split in SPLITS:
            images = self._arrays.get(f"{split}_images")
            labels = self._arrays.get(f"{split}_labels")
            if images is None:
                continue
            if labels is None or len(labels) != len(images):
                self.problems.append(Problem(f"{split}_labels", "missing or not one label per image"))
                continue
            labels = np.asarray(labels).reshape(len(labels), -1)[:, 0]
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
    if image.dtype == np.uint8:
        return np.array(image)
    return stretch_to_uint8(image)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = [k for k in npz.files if k.endswith(("_images", "_labels"))]
            if not any(k.endswith("_images") for k in keys):
                raise DataError(f"{path}: no train_images/val_images/test_images arrays (not a MedMNIST file)")
            return {k: npz[k] for k in keys}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read .npz "
                        f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
