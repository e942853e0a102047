"""A run's name, tags and note: what people call a run, kept beside it in ``meta.json`` (``RunPaths.meta``).

    meta = read_meta(run_dir)                    # never raises: a missing or hostile file reads as no meta
    update_meta(run_dir, lambda m: m.renamed("lr sweep 3"))   # read, change, write, under meta.json.lock

The run id (its folder's name) never changes: a name is a second handle, found by ``resolve_run``. The file is
written atomically (training.core.fileio) and checked when read: anything that is not a small JSON object of
the fields below is ignored (``read_meta_checked`` says why), control characters are dropped (an ANSI escape
in a name never reaches a terminal), and lengths are capped, so no reader crashes on it or is flooded by it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from training.core.errors import PneumoError
from training.core.fileio import atomic_write_json
from training.run.paths import RunPaths

MAX_BYTES = 64 * 1024  # a bigger meta.json is not read
MAX_NAME = 80
MAX_TAG = 32
MAX_TAGS = 16
MAX_NOTE = 1000
TAG = re.compile(r"^[^\s,#]+$")  # one word: tags are typed space- or comma-separated


class MetaError(PneumoError, ValueError):
    """A name, tag or note that cannot be kept (too long, several lines, a duplicate name)."""


@dataclass(frozen=True)
class RunMeta:
    """What people said about a run; empty by default."""

    name: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""

    def renamed(self, name: str) -> RunMeta:
        return replace(self, name=check_name(name))

    def tagged(self, add: list[str] = (), remove: list[str] = ()) -> RunMeta:
        """Tags ``add`` added (in order, once each) and ``remove`` taken away."""
        gone = {check_tag(t) for t in remove}
        tags = [t for t in dict.fromkeys([*self.tags, *map(check_tag, add)]) if t not in gone]
        if len(tags) > MAX_TAGS:
            raise MetaError(f"a run keeps at most {MAX_TAGS} tags")
        return replace(self, tags=tuple(tags))

    def noted(self, note: str) -> RunMeta:
        return replace(self, note=check_note(note))

    def to_json(self) -> dict:
        return {"name": self.name, "tags": list(self.tags), "note": self.note}

    @property
    def words(self) -> str:
        """Everything a filter matches: name, tags and note, lower-cased."""
        return " ".join([self.name, *self.tags, self.note]).lower()


def _clean(text: str, keep_newlines: bool = False) -> str:
    """``text`` without control characters (tabs become spaces; newlines kept only in a note)."""
    out = []
    for ch in text.replace("\t", " ").replace("\r\n", "\n"):
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif unicodedata.category(ch)[0] != "C":
            out.append(ch)
    return "".join(out)


def check_name(name: str) -> str:
    """The name as kept: stripped, one line, at most MAX_NAME characters ("" clears it)."""
    if not isinstance(name, str):
        raise MetaError("a run's name is text")
    if "\n" in name.strip() or "\r" in name.strip():
        raise MetaError("a run's name is one line")
    name = _clean(name).strip()
    if "/" in name:
        raise MetaError("a run's name has no / (it is typed where a run id or folder goes)")
    if len(name) > MAX_NAME:
        raise MetaError(f"a run's name is at most {MAX_NAME} characters (this one has {len(name)})")
    return name


def check_tag(tag: str) -> str:
    """A tag as kept: one word of at most MAX_TAG characters, without a leading ``#``."""
    tag = _clean(str(tag)).strip().removeprefix("#")
    if not tag or not TAG.match(tag):
        raise MetaError(f"a tag is one word without spaces, commas or #: {tag!r}")
    if len(tag) > MAX_TAG:
        raise MetaError(f"a tag is at most {MAX_TAG} characters: {tag[:MAX_TAG]}…")
    return tag


def check_note(note: str) -> str:
    """A note as kept: at most MAX_NOTE characters, its lines kept ("" clears it)."""
    if not isinstance(note, str):
        raise MetaError("a run's note is text")
    note = _clean(note, keep_newlines=True).strip()
    if len(note) > MAX_NOTE:
        raise MetaError(f"a note is at most {MAX_NOTE} characters (this one has {len(note)})")
    return note


def split_tags(text: str) -> list[str]:
    """``"lr-sweep, best  baseline"`` -> ``["lr-sweep", "best", "baseline"]``."""
    return [t for t in re.split(r"[\s,]+", text) if t]


def read_meta_checked(run_dir: Path) -> tuple[RunMeta, str | None]:
    """``(meta, problem)``: the run's meta, or an empty one and why the file was ignored (None: no file, or a
    good one). Fields of the wrong type are dropped one by one; text is cleaned and capped, never refused."""
    path = RunPaths(Path(run_dir)).meta
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return RunMeta(), None
    except OSError as exc:
        return RunMeta(), f"{path.name} cannot be read ({type(exc).__name__})"
    if len(data) > MAX_BYTES:
        return RunMeta(), f"{path.name} is larger than {MAX_BYTES // 1024} KiB"
    try:
        obj = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return RunMeta(), f"{path.name} is not valid JSON"
    if not isinstance(obj, dict):
        return RunMeta(), f"{path.name} is not a JSON object"
    name = obj.get("name")
    name = _clean(name).replace("\n", " ").strip()[:MAX_NAME] if isinstance(name, str) else ""
    tags = obj.get("tags")
    kept = []
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str):
            try:
                kept.append(check_tag(tag))
            except MetaError:
                continue
    note = obj.get("note")
    note = _clean(note, keep_newlines=True).strip()[:MAX_NOTE] if isinstance(note, str) else ""
    return RunMeta(name, tuple(dict.fromkeys(kept))[:MAX_TAGS], note), None


def read_meta(run_dir: Path) -> RunMeta:
    """The run's name, tags and note (empty when it has none or its file is unusable)."""
    return read_meta_checked(run_dir)[0]


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    """Keep ``meta`` in the run's meta.json (atomically: a reader sees the old file or the new one)."""
    atomic_write_json(RunPaths(Path(run_dir)).meta, meta.to_json())


def update_meta(run_dir: Path, change: Callable[[RunMeta], RunMeta]) -> RunMeta:
    """Read the run's meta, ``change`` it and write it back under ``meta.json.lock``, so that two writers (the
    app and ``pneumo runs tag``) never lose each other's change; the meta as written."""
    paths = RunPaths(Path(run_dir))
    fd = os.open(paths.meta_lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        meta = change(read_meta(run_dir))
        write_meta(run_dir, meta)
        return meta
    finally:
        os.close(fd)  # drops the lock
