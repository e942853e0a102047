"""Options that several commands share, spelled once: the runs folder above all.

Every command that makes or looks up runs takes ``--runs DIR`` (default ``runs``).
The older spellings ``--runs-dir`` (and ``--out``, on the commands that create
runs) still work but are hidden from ``--help``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from training.run.paths import DEFAULT_RUNS_DIR

from .errors import fail

RUNS = typer.Option(DEFAULT_RUNS_DIR, "--runs", help="The runs folder: where runs are created and run ids looked up.")
RUNS_DIR_ALIAS = typer.Option(None, "--runs-dir", hidden=True)  # the older name, still accepted
RUNS_OUT_ALIAS = typer.Option(None, "--runs-dir", "--out", hidden=True)  # where --out meant the runs folder


def runs_folder(runs: Path, alias: Path | None) -> Path:
    """The runs folder from ``--runs`` or its hidden older spelling (not both, differently)."""
    if alias is None:
        return runs
    if runs != DEFAULT_RUNS_DIR and Path(runs) != Path(alias):
        fail(f"the runs folder is given twice ({runs} and {alias}): give it once, with --runs")
    return Path(alias)


def resolve(ref: str, runs: Path) -> Path:
    """The run folder ``ref`` names (a path, or an id or unique prefix in ``runs``), or a one-line error."""
    from training.core.errors import RunNotFound
    from training.run.store import resolve_run

    try:
        return resolve_run(ref, runs)
    except RunNotFound as exc:
        fail(str(exc))
