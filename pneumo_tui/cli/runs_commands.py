"""``pneumo runs``: list the runs (sorted, filtered, with their settings), and manage them.

    pneumo runs [--sort COL] [--filter TEXT] [--settings] [--hide-constant] [--archived] [--json]
    pneumo runs rename RUN NAME        a name to find it by (its id stays)
    pneumo runs tag RUN TAG... [--remove TAG]
    pneumo runs note RUN TEXT
    pneumo runs archive RUN / unarchive RUN     into the runs folder's archive/ and back
    pneumo runs delete RUN [--yes]     asks first; refused while a trainer writes the run
    pneumo runs diff A B               what changed between their config.json

Run ids are never cut: in a pipe (``pneumo runs | cat``) and at 80 columns the other columns wrap instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from training.core.errors import one_line
from training.core.jsontext import json_text
from training.run.paths import DEFAULT_RUNS_DIR
from training.run.schema import HEADLINE

from .errors import fail, user_errors
from .options import RUNS, RUNS_DIR_ALIAS, resolve, runs_folder
from .train_commands import _fmt, dataset_text, recipe_and_model

runs_app = typer.Typer(
    name="runs",
    help="Every run with status, recipe, data and figures; rename, tag, note, archive, delete, diff them.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
)

RUN = typer.Argument(..., help="Run folder, or run id, name or id prefix in --runs.")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


def _runs_dir(ctx: typer.Context, runs: Path, alias: Path | None) -> Path:
    """The runs folder of a subcommand: its own --runs, else the one given to ``pneumo runs``."""
    runs = runs_folder(runs, alias)
    if runs == DEFAULT_RUNS_DIR and ctx.parent is not None and isinstance(ctx.parent.obj, Path):
        return ctx.parent.obj
    return runs


WIDE = 10_000  # a pipe's width: every column whole, each line as long as the table needs


def _console():
    """A console for tables: the terminal's width, or in a pipe (no COLUMNS) as wide as the table needs, so that
    ``pneumo runs | cat`` or ``| grep`` sees every cell whole."""
    import os

    from rich.console import Console

    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        return Console(highlight=False, width=WIDE)
    return Console(highlight=False)


@runs_app.callback()
def runs(
    ctx: typer.Context,
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
    as_json: bool = typer.Option(False, "--json", help="One JSON list instead of a table."),
    sort: str | None = typer.Option(None, "--sort", metavar="COL",
                                    help="Sort by a column: run, name, status, started, recipe, model, image, "
                                         "epochs, lr, batch, seed, dataset, val (the best epoch's AUC), acc, sens, "
                                         "spec, auc (figures best first)."),
    reverse: bool = typer.Option(False, "--reverse", help="Turn the sort round."),
    filter_text: str | None = typer.Option(None, "--filter", metavar="TEXT",
                                           help="Only runs whose id, name, tags, note, recipe, model or data "
                                                "hold every word of TEXT."),
    settings: bool = typer.Option(False, "--settings", help="The settings columns (recipe, model, image, epochs, "
                                  "lr, batch, seed, dataset), those that differ between the runs first."),
    hide_constant: bool = typer.Option(False, "--hide-constant", help="With --settings: leave out the settings "
                                       "every listed run shares (said in one line above the table)."),
    archived: bool = typer.Option(False, "--archived", help="The archived runs (runs/archive/) instead."),
) -> None:
    """Every run with status (running, finished, stopped, failed, stale), model, epochs, best val metric, test.

    Runs have names, tags and notes (rename, tag, note), can be archived or deleted, and two of them diffed.
    """
    runs_dir = runs_folder(runs_dir, runs_alias)
    ctx.obj = runs_dir
    if ctx.invoked_subcommand is not None:
        return
    from training.run.listing import filter_runs, sort_runs
    from training.run.state import list_runs

    if not runs_dir.is_dir():
        fail(f"no runs folder {runs_dir} (give one with --runs)")
    summaries = list_runs(runs_dir, archived=archived)
    if filter_text:
        summaries = filter_runs(summaries, filter_text)
    if sort:
        with user_errors(ValueError):
            summaries = sort_runs(summaries, sort, reverse)
    elif reverse:
        summaries = summaries[::-1]
    if as_json:
        print(json_text([s.to_json() for s in summaries]))
        return
    if not summaries:
        where = f"{runs_dir}/archive/" if archived else f"{runs_dir}/"
        print(f"no runs in {where}" + (f" match {filter_text!r}" if filter_text else ""), file=sys.stderr)
        return
    if settings or hide_constant:
        _print_settings(summaries, hide_constant)
    else:
        _print_figures(summaries)


def _run_cell(s):
    """The run id whole (never wrapped nor cut), its name and tags under it, and what it was adapted from."""
    from rich.text import Text

    cell = Text(s.run_id)
    extra = " ".join([f'"{s.name}"' if s.name else "", *(f"#{t}" for t in s.tags)]).strip()
    for line in (extra, f"(adapted: {s.adapted})" if s.adapted else ""):
        if line:
            cell.append("\n" + line)  # under the id, wrapped as the column's width allows
    return cell


LAST_RESORT = 10  # columns ranked this or above go only once a borderless table does not fit either


def _table(columns, rows, kept: list[int], widths: dict[int, int] | None, compact: bool):
    """The Rich table of the ``kept`` columns, each ``widths[i]`` wide (None: as wide as it needs)."""
    from rich import box
    from rich.text import Text

    from pneumo_tui.plain import PlainTable as Table

    table = (Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True) if compact
             else Table(box=box.HEAVY_HEAD))
    for i in kept:
        width = widths[i] if widths else None
        table.add_column(columns[i][0], width=width, overflow="fold")  # the run's: as wide as its longest id
    for row in rows:
        table.add_row(*(row[i] if isinstance(row[i], Text) else Text(str(row[i])) for i in kept))
    return table


def _rendered_width(table) -> int:
    import io

    from rich.console import Console

    console = Console(width=WIDE, file=io.StringIO(), color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(table)
    return max((len(line.rstrip()) for line in capture.get().splitlines()), default=0)


def _print_table(columns: list[tuple[str, int]], rows: list[list], note: str | None = None) -> None:
    """A table of ``columns`` (header, rank: 0 never goes, else the lowest goes first) that fits the console.

    Columns wrap at spaces (their longest word still fits); while even then the table is too wide, the columns
    of lowest rank are left out (named on stderr), and before the last ones go the table drops its borders.
    The run column (the first) is never wrapped nor cut: every run id is whole."""
    from rich.text import Text

    console = _console()
    texts = [[columns[i][0], *((r[i].plain if isinstance(r[i], Text) else str(r[i])) for r in rows)]
             for i in range(len(columns))]
    natural = [max(len(line) for t in col for line in t.split("\n")) for col in texts]
    ids = max(len(t.split("\n")[0]) for t in texts[0])  # the run column's least: its ids (names under them wrap)
    least = [ids] + [max(len(word) for t in col for word in (t.split() or [""])) for col in texts[1:]]
    ranked = sorted((i for i, (_, rank) in enumerate(columns) if rank), key=lambda i: columns[i][1])
    for compact in (False, True):
        kept, dropped = list(range(len(columns))), []
        while True:
            fixed = {i: natural[i] for i in kept}
            overhead = _rendered_width(_table(columns, rows, kept, fixed, compact)) - sum(fixed.values())
            room = console.width - overhead
            if sum(least[i] for i in kept) <= room:
                break
            nxt = next((i for i in ranked if i in kept and (compact or columns[i][1] < LAST_RESORT)), None)
            if nxt is None:
                break
            kept.remove(nxt)
            dropped.append(columns[nxt][0])
        if sum(least[i] for i in kept) <= room or compact:
            break
    widths = {i: natural[i] for i in kept}
    while sum(widths.values()) > room:  # the column with the most to spare gives a character
        i = max(kept, key=lambda k: (widths[k] - least[k], k))
        if widths[i] <= least[i]:
            break
        widths[i] -= 1
    console.print(_table(columns, rows, kept, widths, compact))
    if note:
        console.print(Text(note))
    if dropped:
        print(f"left out at {console.width} columns: {', '.join(dropped)} (a wider terminal, a pipe or --json "
              "shows them)", file=sys.stderr)


def _print_figures(summaries) -> None:
    columns = [("run", 0), ("status", 0), ("recipe (model)", 0), ("data", 6), ("epochs", 3), ("best (val)", 2),
               ("operating point", 1), ("test acc", 12), ("test sens", 11), ("test spec", 10), ("test auc", 4)]
    rows = []
    for s in summaries:
        best = f"{s.best_metric} {_fmt(s.best_value, 4)} @{s.best_epoch}" if s.best_metric else "-"
        planned = f"/{s.epochs_planned}" if s.epochs_planned else ""
        point = f"{s.threshold:.3f} ({s.threshold_how})" if s.threshold is not None else s.threshold_how or "-"
        rows.append([_run_cell(s), s.status, recipe_and_model(s), dataset_text(s), f"{s.epochs_done}{planned}",
                     best, point, *(_fmt(s.test.get(k)) for k in HEADLINE)])  # Text cells: never markup
    _print_table(columns, rows)


def _print_settings(summaries, hide_constant: bool) -> None:
    from rich.text import Text

    from training.run.settings import SETTINGS, differing, ordered_settings

    headers = {key: header for key, header, _ in SETTINGS}
    all_settings = [s.settings for s in summaries]
    keys = ordered_settings(all_settings, hide_constant)
    changing = set(differing(all_settings))
    if hide_constant:
        shared = [f"{headers[k]} {all_settings[0].get(k, '-')}" for k in headers if k not in changing]
        if shared:
            _console().print(Text("every run: " + ", ".join(shared)))
    # the constant settings go first (from the right), then the figures, the differing settings last
    n = len(keys)
    columns = [("run", 0), ("status", 0)]
    columns += [(headers[k] + ("*" if k in changing else ""), LAST_RESORT + n - i if k in changing else 1 + n - i)
                for i, k in enumerate(keys)]
    columns += [("val AUC", LAST_RESORT - 1), ("test auc", LAST_RESORT - 2)]
    rows = [[_run_cell(s), s.status, *(s.settings.get(k, "-") for k in keys), _fmt(s.val_auc),
             _fmt(s.test.get("auc"))] for s in summaries]
    _print_table(columns, rows, "* differs between the listed runs" if changing else None)


# --------------------------------------------------------------------------- name, tags, note


@runs_app.command()
def rename(
    ctx: typer.Context,
    run: str = RUN,
    name: str = typer.Argument(..., help="The new name (\"\" removes it). The run id stays."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Give a run a name: shown beside its id, searched by --filter, and a handle like its id."""
    from training.run.manage import rename_run

    run_dir = resolve(run, _runs_dir(ctx, runs_dir, runs_alias))
    with user_errors(OSError):  # a refusal, or a folder this user may not write
        meta = rename_run(run_dir, name)
    print(f"{run_dir.name} is called {meta.name!r}" if meta.name else f"{run_dir.name} has no name now")


@runs_app.command()
def tag(
    ctx: typer.Context,
    run: str = RUN,
    tags: list[str] = typer.Argument(None, help="Tags to add (one word each; commas also separate)."),
    remove: list[str] = typer.Option([], "--remove", help="A tag to take away (repeatable)."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Add tags to a run (or take them away with --remove); prints its tags."""
    from training.run.manage import tag_run
    from training.run.meta import split_tags

    run_dir = resolve(run, _runs_dir(ctx, runs_dir, runs_alias))
    add = [t for text in tags or [] for t in split_tags(text)]
    gone = [t for text in remove for t in split_tags(text)]
    with user_errors(OSError):  # a refusal, or a folder this user may not write
        meta = tag_run(run_dir, add, gone)
    print(f"{run_dir.name}: " + (" ".join(f"#{t}" for t in meta.tags) or "no tags"))


@runs_app.command()
def note(
    ctx: typer.Context,
    run: str = RUN,
    text: str = typer.Argument(..., help="The note (\"\" removes it)."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Keep a note with a run (what it tried, what went wrong)."""
    from training.run.manage import note_run

    run_dir = resolve(run, _runs_dir(ctx, runs_dir, runs_alias))
    with user_errors(OSError):  # a refusal, or a folder this user may not write
        meta = note_run(run_dir, text)
    print(f"{run_dir.name}: note kept" if meta.note else f"{run_dir.name}: no note now")


# --------------------------------------------------------------------------- archive, delete


@runs_app.command()
def archive(
    ctx: typer.Context,
    run: str = RUN,
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Move a run into the runs folder's archive/: whole, but left out of the list (see --archived)."""
    from training.run.manage import archive_run

    run_dir = resolve(run, _runs_dir(ctx, runs_dir, runs_alias))
    with user_errors(OSError):  # a refusal, or a folder this user may not write
        moved = archive_run(run_dir)
    print(f"archived {run_dir.name} (in {moved.parent}; pneumo runs unarchive {run_dir.name} restores it)")


@runs_app.command()
def unarchive(
    ctx: typer.Context,
    run: str = RUN,
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Move an archived run back into the list."""
    from training.run.manage import unarchive_run

    run_dir = resolve(run, _runs_dir(ctx, runs_dir, runs_alias))
    with user_errors(OSError):  # a refusal, or a folder this user may not write
        moved = unarchive_run(run_dir)
    print(f"restored {moved.name}")


def _size(folder: Path) -> str:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return f"{total / 1e6:.1f} MB" if total >= 1e5 else f"{total / 1e3:.0f} kB"


@runs_app.command()
def delete(
    ctx: typer.Context,
    run: str = RUN,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Delete a run folder and everything in it (asks first). A running run is refused: stop it first."""
    from training.run.manage import RunBusy, delete_run
    from training.run.state import read_run

    run_dir = resolve(run, _runs_dir(ctx, runs_dir, runs_alias))
    if read_run(run_dir).status == "running":  # said before asking; delete_run checks again under the lock
        fail(f"{run_dir.name} is running: stop it first (x on the Train screen, or Ctrl-C in its terminal)")
    if not yes and not typer.confirm(f"delete {run_dir} ({_size(run_dir)}) and everything in it?", default=False):
        fail("not deleted", code=1)
    try:
        delete_run(run_dir)
    except (RunBusy, OSError) as exc:
        fail(one_line(exc))
    print(f"deleted {run_dir.name}")


# --------------------------------------------------------------------------- diff


@runs_app.command()
def diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="The first run."),
    b: str = typer.Argument(..., help="The second run."),
    as_json: bool = typer.Option(False, "--json", help="A list of {key, a, b}."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """What changed between two runs' config.json: model, recipe, data, then versions and the rest."""
    from rich.text import Text

    from pneumo_tui.plain import PlainTable as Table
    from training.run.settings import config_diff
    from training.run.state import read_run

    folder = _runs_dir(ctx, runs_dir, runs_alias)
    first, second = read_run(resolve(a, folder)), read_run(resolve(b, folder))
    label_a, label_b = (r.summary().label for r in (first, second))
    for reader in (first, second):
        if reader.config_problem:
            fail(f"{reader.run_id}: {reader.config_problem}")
    changes = config_diff(first.config, second.config)
    if as_json:
        print(json_text([{"key": k, "a": va, "b": vb} for k, va, vb in changes]))
        return
    if not changes:
        print(f"{first.run_id} and {second.run_id}: the same config (only their run ids differ)")
        return
    table = Table()
    table.add_column("setting")
    table.add_column(Text(label_a), overflow="fold")
    table.add_column(Text(label_b), overflow="fold")
    for key, va, vb in changes:
        table.add_row(Text(key), Text(va), Text(vb))
    _console().print(table)
