"""``pneumo data demo|download`` and ``pneumo stats``: getting data and looking at it.

Only typer is imported at module level; numpy, PIL and rich load inside the
commands so that ``pneumo --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from .errors import fail, user_errors

data_app = typer.Typer(
    help="Get datasets: a synthetic demo set or the public downloads.", no_args_is_help=True
)


@data_app.command("demo")
def demo(
    dir: Path = typer.Argument(..., help="Folder to create (must be new or empty)."),
    per_class: int = typer.Option(40, "--per-class", min=2, help="Training images per class."),
    size: int = typer.Option(128, "--size", min=32, max=1024, help="Approximate image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Write a small SYNTHETIC dataset in the Kermany layout (for first runs and tests)."""
    from training.data.demo import write_demo

    if dir.exists() and (not dir.is_dir() or any(dir.iterdir())):
        fail(f"{dir} exists and is not an empty folder; choose a new folder")
    root = write_demo(dir, per_class=per_class, size=size, seed=seed)
    n = sum(1 for p in root.rglob("*.jpeg"))
    print(f"wrote {n} SYNTHETIC images (drawn shapes, not radiographs) to {root}")
    print(f"next: pneumo stats {root}")


@data_app.command("download")
def download(
    dataset: str = typer.Argument(..., help="kermany | pneumoniamnist"),
    dir: Path = typer.Argument(..., help="Folder to download into."),
    size: int = typer.Option(28, "--size", help="PneumoniaMNIST image size: 28, 64, 128 or 224."),
    url: str = typer.Option(None, "--url",
                            help="Download from this URL instead (a mirror). Also $PNEUMO_DOWNLOAD_URL."),
    md5: str = typer.Option(None, "--md5", help="Expected MD5 of the file (defaults to the published one)."),
    keep_archive: bool = typer.Option(False, "--keep-archive", help="Keep the zip after unpacking."),
) -> None:
    """Download a public dataset (resumable, checksum-verified) and unpack it into DIR."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from training.data.download import download_dataset
    from training.data.records import DataError

    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with user_errors(DataError), Progress(*columns, transient=True) as bar:
        task = bar.add_task(f"{dataset}", total=None)

        def report(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        root = download_dataset(dataset, dir, size=size, url=url, md5=md5, progress=report,
                                keep_archive=keep_archive)
    print(f"{dataset} is ready in {root}")
    print(f"next: pneumo stats {root}")


def stats(
    path: Path = typer.Argument(..., help="A dataset folder (Kermany layout) or a PneumoniaMNIST .npz."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """Counts, patients, leakage, duplicates, sizes, modes and unreadable files of a dataset."""
    from rich.console import Console

    from training.data.records import DataError
    from training.data.stats import compute_stats

    with user_errors(DataError), _LazyProgress("reading files (cached for next time)") as report:
        result = compute_stats(path, progress=report)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        from .stats_view import render_stats

        render_stats(result, Console())


class _LazyProgress:
    """A progress bar on stderr that appears only once there is work to show
    (a warm ``pneumo stats`` prints nothing but its result)."""

    def __init__(self, description: str):
        self.description = description
        self.bar = None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.command("stats")(stats)
