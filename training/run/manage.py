"""Putting runs away: name, archive, restore and delete a run folder, never one a trainer is writing.

Archiving moves ``runs/<id>`` to ``runs/archive/<id>`` (``paths.archive_dir``): the run is whole and can be
restored; it is only left out of the list. Deleting removes the folder. Both first take the run's lock
(``training.run.lock.RunLock``): while a trainer holds it they are refused with ``RunBusy``, and while they
hold it no trainer can resume the run under them.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from training.core.errors import PneumoError
from training.run.lock import RunLock, RunLocked
from training.run.meta import MetaError, RunMeta, check_name, read_meta, update_meta
from training.run.paths import ARCHIVE_DIR, RunPaths, archive_dir
from training.run.store import run_dirs


class RunBusy(PneumoError):
    """The run is being written (a trainer holds its lock): it cannot be archived or deleted now."""


@contextmanager
def _not_running(run_dir: Path, doing: str):
    """Hold the run's lock for the block, or raise ``RunBusy`` naming the trainer that holds it."""
    lock = RunLock(run_dir)
    try:
        lock.acquire()
    except RunLocked as exc:
        raise RunBusy(f"cannot {doing} {Path(run_dir).name}: it is running ({exc}); stop it first") from None
    try:
        yield lock
    finally:
        lock.release()


def is_archived(run_dir: Path) -> bool:
    return Path(run_dir).parent.name == ARCHIVE_DIR


def archive_run(run_dir: Path) -> Path:
    """Move the run into its runs folder's ``archive/``; the new path. Refused while it runs."""
    run_dir = Path(run_dir)
    if is_archived(run_dir):
        raise PneumoError(f"{run_dir.name} is archived already")
    return _move(run_dir, archive_dir(run_dir.parent) / run_dir.name, "archive")


def unarchive_run(run_dir: Path) -> Path:
    """Move an archived run back into the runs folder; the new path."""
    run_dir = Path(run_dir)
    if not is_archived(run_dir):
        raise PneumoError(f"{run_dir.name} is not archived")
    return _move(run_dir, run_dir.parent.parent / run_dir.name, "restore")


def _move(src: Path, dst: Path, doing: str) -> Path:
    if dst.exists():
        raise PneumoError(f"cannot {doing} {src.name}: {dst} exists already")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _not_running(src, doing):
        os.rename(src, dst)  # one folder, one rename: a reader sees the run here or there, whole
        RunPaths(dst).lock.unlink(missing_ok=True)  # our lock moved with it; its release unlinks the old path
    return dst


def delete_run(run_dir: Path) -> None:
    """Remove the run folder and everything in it. Refused while it runs."""
    run_dir = Path(run_dir)
    if not RunPaths.marks_a_run(run_dir):
        raise PneumoError(f"{run_dir} is not a run folder")
    with _not_running(run_dir, "delete"):
        shutil.rmtree(run_dir)


def rename_run(run_dir: Path, name: str) -> RunMeta:
    """Give the run ``name`` ("" removes it); refused when another run of its folder has that name or id,
    as the name would then not say which run it is. The run id (its folder) stays."""
    run_dir = Path(run_dir)
    name = check_name(name)
    if name:
        for other in run_dirs(run_dir.parent):
            if other.name == run_dir.name:
                continue
            if other.name == name or read_meta(other).name == name:
                raise MetaError(f"{other.name} is already called {name!r}: give another name")
    return update_meta(run_dir, lambda meta: meta.renamed(name))


def tag_run(run_dir: Path, add: list[str] = (), remove: list[str] = ()) -> RunMeta:
    """Add and remove tags of the run."""
    return update_meta(run_dir, lambda meta: meta.tagged(add, remove))


def note_run(run_dir: Path, note: str) -> RunMeta:
    """Keep ``note`` with the run ("" removes it)."""
    return update_meta(run_dir, lambda meta: meta.noted(note))
