"""Finding runs: a new run folder, a run named by path, id, name or prefix, and its config.

The files inside a run folder are named in ``training.run.paths``; what its
events mean is folded in ``training.run.state``.
"""

from __future__ import annotations

import glob
import json
import re
import time
from pathlib import Path

from training.core.errors import RunNotFound
from training.core.tasks import Task, task_of_config
from training.run.meta import read_meta
from training.run.paths import DEFAULT_RUNS_DIR, RunPaths, archive_dir
from training.run.schema import check_config


def new_run_dir(runs_dir: Path, name: str) -> Path:
    """A fresh, unique run folder named ``<date>-<time>-<name>``."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
    for n in range(1000):
        path = runs_dir / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"cannot create a run folder in {runs_dir}")


def is_run_dir(path: Path) -> bool:
    return RunPaths.marks_a_run(Path(path))


def run_dirs(runs_dir: Path = DEFAULT_RUNS_DIR) -> list[Path]:
    """Every run folder directly inside ``runs_dir``, by name (none when the folder does not exist)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if p.is_dir() and is_run_dir(p)), key=lambda p: p.name)


def resolve_run(ref: str | Path, runs_dir: Path = DEFAULT_RUNS_DIR) -> Path:
    """A run given as a path, or inside ``runs_dir`` by its id, its name (``pneumo runs rename``) or a unique
    prefix of its id; an archived run (``runs_dir/archive/``) is found the same way when no listed run is."""
    if not str(ref).strip():
        raise RunNotFound("no run given: name a run folder, or a run id, name or prefix in the runs folder")
    path = Path(ref)
    if is_run_dir(path):
        return path
    if path.is_absolute() or len(path.parts) > 1:
        raise RunNotFound(f"no run named {str(ref)!r} (not a run folder: it has no {_MARKS})")
    for folder in (Path(runs_dir), archive_dir(runs_dir)):
        found = _find_in(str(ref), folder)
        if found is not None:
            return found
    raise RunNotFound(f"no run named {ref!r} (looked at {path} and in {runs_dir}/)")


def _find_in(ref: str, folder: Path) -> Path | None:
    """The run of ``folder`` whose id is ``ref``, else whose name is, else whose id starts with it."""
    exact = folder / ref
    if ref not in (".", "..") and is_run_dir(exact):
        return exact
    folders = run_dirs(folder)
    named = [p for p in folders if read_meta(p).name == ref]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise RunNotFound(f"{ref!r} names several runs: {', '.join(p.name for p in named)}; give a run id")
    candidates = sorted(p for p in folder.glob(f"{glob.escape(ref)}*") if is_run_dir(p))
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise RunNotFound(f"{ref!r} matches several runs: {', '.join(p.name for p in candidates)}")
    return None


_MARKS = f"{RunPaths(Path()).config.name} or {RunPaths(Path()).events.name}"


def run_task(run_dir: Path) -> Task:
    """The question the run answers (its config's ``recipe.task``; the pneumonia task for older runs)."""
    return task_of_config(load_config(run_dir))


def load_config(run_dir: Path) -> dict:
    """The run's config.json, or {} when it is missing, unreadable or not a JSON object."""
    return read_config(run_dir)[0]


def read_config(run_dir: Path) -> tuple[dict, str | None]:
    """``(config, problem)``: the run's config.json checked against the run contract, and why it cannot be
    used (None when it can, or when there is none yet: a run's config is written first, but may be missing)."""
    path = RunPaths(Path(run_dir)).config
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"{path.name} cannot be read ({type(exc).__name__})"
    try:
        config = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return {}, f"{path.name} is not valid JSON"
    why = check_config(config)
    return (config, None) if why is None else ({}, f"{path.name}: {why}")


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON allows")
