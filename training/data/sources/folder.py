"""The Kermany folder layout: ``{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``.

Accepted roots: the layout itself, a folder holding ``chest_xray/`` (as the
Mendeley zip unpacks), or one split folder with the class folders directly in
it. Split, class names and extensions are matched case-insensitively.
Anything odd found while listing (unknown class folder, symlink loop, empty
split) becomes a ``Problem``; the listing itself never raises.

An image's class is the class folder it really sits in. A class folder may
itself be a symlink (to where the films are kept), but a symlinked folder
*inside* a class folder is never followed: its images would take this
folder's class whatever they are (a link to ``train/`` inside
``train/NORMAL/`` would make every film NORMAL), so it is listed as a problem.

Every image gets one canonical id, whichever folder was passed:
``<split>/<CLASS>/<path inside the class folder>`` (``test/NORMAL/IM-0001-0001.jpeg``
from a Kermany root and from its ``test`` folder alike; the split and class
spelled as the engine spells them, the rest as on disk). A folder of class
folders that is not named like a split has ids without the split part.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from training.data.decode import IMAGE_EXTENSIONS, decode_image
from training.data.patients import parse_name
from training.data.records import CLASSES, DataError, Problem, Record
from training.data.sources.base import SYNTHETIC_MARKER, DataSource

log = logging.getLogger("training.data.sources")

DICOM_EXTENSIONS = (".dcm", ".dicom")
LISTED_EXTENSIONS = IMAGE_EXTENSIONS + DICOM_EXTENSIONS

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
CLASS_NAMES = {name.lower(): label for label, name in enumerate(CLASSES)}
# Folders that archive tools add and that never hold data.
IGNORED_FOLDERS = {"__macosx"}
NESTED_ROOT = "chest_xray"
MAX_NESTING = 3  # Kaggle's zip nests chest_xray/chest_xray/


class FolderSource(DataSource):
    kind = "folder"

    def __init__(self, root: Path, split_dirs: dict[Path, str]):
        super().__init__(root)
        self._split_dirs = split_dirs
        self._records = self._list()

    @classmethod
    def open(cls, path: Path) -> FolderSource:
        root = Path(path)
        for _ in range(MAX_NESTING + 1):
            dirs = _subdirs(root)
            splits = {d: SPLIT_NAMES[d.name.lower()] for d in dirs if d.name.lower() in SPLIT_NAMES}
            if splits:
                source = cls(root, splits)
                source.problems[:0] = [
                    Problem(_rel(d, root), "unknown folder (expected train, val or test)")
                    for d in dirs
                    if d.name.lower() not in SPLIT_NAMES and d.name.lower() not in IGNORED_FOLDERS
                ]
                return source._warn()
            if any(d.name.lower() in CLASS_NAMES for d in dirs):
                return cls(root, {root: SPLIT_NAMES.get(root.name.lower(), "train")})._warn()
            nested = [d for d in dirs if d.name.lower() == NESTED_ROOT]
            if not nested:
                break
            root = nested[0]
        raise DataError(
            f"{path}: no train/val/test or NORMAL/PNEUMONIA folders "
            "(expected the Kermany layout, a folder holding chest_xray/, or a .npz file)"
        )

    def _warn(self) -> FolderSource:
        for problem in self.problems:
            log.warning("skipping %s: %s", problem.path, problem.reason)
        return self

    @property
    def synthetic(self) -> bool:
        # The marker may sit in the given folder or in the detected root.
        return any((d / SYNTHETIC_MARKER).exists() for d in (self.root, *self.root.parents[:MAX_NESTING]))

    def records(self) -> list[Record]:
        return list(self._records)

    def load(self, record: Record, draft: int | None = None) -> np.ndarray:
        if record.path.suffix.lower() in DICOM_EXTENSIONS:
            from training.data.sources.dicom import decode_dicom

            return decode_dicom(record.path)
        return decode_image(record.path, draft=draft)

    def fingerprint(self, record: Record) -> tuple | None:
        try:
            st = os.stat(record.path)
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    # -- listing -------------------------------------------------------------

    def _list(self) -> list[Record]:
        records: list[Record] = []
        for split_dir, split in sorted(self._split_dirs.items()):
            before = len(self.problems)
            found = self._list_split(split_dir, split)
            if not found:
                # One line for an empty split, not one per empty class folder in it.
                self.problems[before:] = [p for p in self.problems[before:] if "holds no images" not in p.reason]
                self.problems.append(Problem(_rel(split_dir, self.root) or ".", "empty split: no images"))
            records += found
        records.sort(key=lambda r: r.id)
        return records

    def _list_split(self, split_dir: Path, split: str) -> list[Record]:
        records: list[Record] = []
        present = set()
        for entry in _scandir(split_dir, self.problems, self.root):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if _is_dir(entry):
                label = CLASS_NAMES.get(entry.name.lower())
                if label is None:
                    if entry.name.lower() not in IGNORED_FOLDERS:
                        self.problems.append(
                            Problem(_rel(path, self.root), "unknown class folder (expected NORMAL or PNEUMONIA)")
                        )
                    continue
                present.add(label)
                prefix = _id_prefix(split_dir, label)
                found = [
                    self._record(p, split, label, prefix, len(entry.path))
                    for p in _walk_images(entry.path, set(), self.problems, self.root)
                ]
                if not found:
                    self.problems.append(Problem(_rel(path, self.root), "class folder holds no images"))
                records += found
            elif path.suffix.lower() in LISTED_EXTENSIONS:
                self.problems.append(Problem(_rel(path, self.root), "image outside a NORMAL/PNEUMONIA folder"))
        if records:
            for label, name in enumerate(CLASSES):
                if label not in present:
                    self.problems.append(Problem(_rel(split_dir, self.root) or ".", f"no {name} folder"))
        return records

    def _record(self, path: str, split: str, label: int, prefix: str, class_dir_length: int) -> Record:
        # Plain string work: pathlib costs ~50 us per call, 0.3 s on a 6k-file tree.
        inside = path[class_dir_length + 1 :].replace(os.sep, "/")
        patient, subtype = parse_name(inside.rsplit("/", 1)[-1])
        if label == 0:
            subtype = None
        return Record(id=prefix + inside, split=split, label=label, subtype=subtype, patient=patient, path=Path(path))


def image_key(image_id: str) -> str:
    """What names an image within its split, whatever form its id has: ``NORMAL/IM-0001-0001.jpeg`` for
    ``test/NORMAL/IM-0001-0001.jpeg``, for an older run's ``NORMAL/IM-0001-0001.jpeg`` (stored relative to the
    folder that was passed) and for ``TEST/normal/IM-0001-0001.jpeg`` alike."""
    parts = image_id.split("/")
    if len(parts) > 1 and parts[0].lower() in SPLIT_NAMES:
        parts = parts[1:]
    if len(parts) > 1 and parts[0].lower() in CLASS_NAMES:
        parts[0] = CLASSES[CLASS_NAMES[parts[0].lower()]]
    return "/".join(parts)


def _id_prefix(split_dir: Path, label: int) -> str:
    """``test/NORMAL/``: the split folder's name as the engine spells it (none when the folder is not
    named like a split), then the class."""
    split = SPLIT_NAMES.get(split_dir.name.lower())
    return f"{split}/{CLASSES[label]}/" if split else f"{CLASSES[label]}/"


def _walk_images(folder: str, seen: set, problems: list[Problem], root: Path):
    """Image paths (str) under the class folder ``folder``, reporting everything it skips.

    Symlinked folders below it are not followed (see the module docstring); a
    seen-inode guard still stops a loop through bind mounts."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        problems.append(Problem(_rel(folder, root), f"cannot open folder: {exc.strerror or exc}"))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        problems.append(Problem(_rel(folder, root), "symlink loop (folder already listed)"))
        return
    seen.add(key)
    for entry in _scandir(folder, problems, root):
        if entry.name.startswith("."):
            continue
        is_image_name = os.path.splitext(entry.name)[1].lower() in LISTED_EXTENSIONS
        if _is_dir(entry):
            if entry.is_symlink():
                problems.append(Problem(_rel(entry.path, root), _symlinked_folder(entry.path)))
            elif is_image_name:
                problems.append(Problem(_rel(entry.path, root), "a directory, not an image file"))
            else:
                yield from _walk_images(entry.path, seen, problems, root)
        elif is_image_name:
            yield entry.path  # broken links and unreadable files too: loading reports them
        elif entry.is_symlink() and not os.path.exists(entry.path):
            problems.append(Problem(_rel(entry.path, root), "broken symlink"))
        else:
            problems.append(Problem(_rel(entry.path, root), "not an image file (extension)"))


def _symlinked_folder(link: str) -> str:
    target = os.path.realpath(link)
    here = os.path.realpath(os.path.dirname(link))
    if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
        return "symlink loop (a link to a folder above it): not followed"
    return ("symlinked folder inside a class folder: not followed (its images would take this folder's class; "
            "link the class folder itself instead)")


def _scandir(folder: Path, problems: list[Problem], root: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(_rel(folder, root), f"cannot list folder: {exc.strerror or exc}"))
        return []


def _subdirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return sorted(Path(e.path) for e in it if not e.name.startswith(".") and _is_dir(e))
    except OSError as exc:
        raise DataError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; False on a loop or broken link
    except OSError:
        return False


def _rel(path: Path, root: Path) -> str:
    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        return str(path)
    return "" if rel == Path(".") else rel.as_posix()
