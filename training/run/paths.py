"""Every file of a run folder, named once.

    runs/                  the runs folder (DEFAULT_RUNS_DIR unless --runs says otherwise)
        .launch/           logs of trainers the app started, until their run folder is known
        <run-id>/
            config.json        recipe, data, split, versions, git commit
            events.jsonl       append-only event log (training.run.schema)
            checkpoints/       last.pt, best.pt (atomic writes)
            predictions.csv    id, path, split, label, probability, subtype, patient
            lock               present while a trainer writes the run
            threshold.json     the operating point chosen for the run (optional)
            review.json        review notes (optional), and review.json.lock that their writers take turns on
            train.log          stdout/stderr of a trainer the app started
            meta.json          the run's name, tags and note (optional; training.run.meta), and meta.json.lock
        archive/           runs put away with ``pneumo runs archive`` (same layout, hidden from the list)

No other module spells one of these names: they ask ``RunPaths``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_RUNS_DIR = Path("runs")
LAUNCH_DIR = ".launch"  # inside the runs folder
ARCHIVE_DIR = "archive"  # inside the runs folder: archived runs
CHECKPOINT_KINDS = ("last", "best")


@dataclass(frozen=True)
class RunPaths:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint(self, kind: str) -> Path:
        """``checkpoints/last.pt`` or ``checkpoints/best.pt``."""
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"a checkpoint is {' or '.join(CHECKPOINT_KINDS)}, not {kind!r}")
        return self.checkpoints / f"{kind}.pt"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoint("last")

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint("best")

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def threshold(self) -> Path:
        return self.root / "threshold.json"

    @property
    def review(self) -> Path:
        return self.root / "review.json"

    @property
    def review_lock(self) -> Path:
        """Held while one writer changes review.json (training.run.review_notes)."""
        return self.root / "review.json.lock"

    @property
    def log(self) -> Path:
        """stdout/stderr of a detached trainer started by the app."""
        return self.root / "train.log"

    @property
    def meta(self) -> Path:
        """The run's name, tags and note, written by people (training.run.meta), never by the trainer."""
        return self.root / "meta.json"

    @property
    def meta_lock(self) -> Path:
        """Held while one writer changes meta.json (the app and pneumo runs may both)."""
        return self.root / "meta.json.lock"

    def written_by_the_trainer(self) -> list[Path]:
        """The files only the run's writer (its lock holder) writes: their stale temporaries are its to clean."""
        return [self.config, self.predictions, *(self.checkpoint(kind) for kind in CHECKPOINT_KINDS)]

    def relative(self, path: Path) -> str:
        """``path`` as the run's events name it: relative to the run folder."""
        return str(Path(path).relative_to(self.root))

    @staticmethod
    def marks_a_run(folder: Path) -> bool:
        """A folder is a run when it holds a config or an event log."""
        paths = RunPaths(folder)
        return paths.config.is_file() or paths.events.is_file()


def launch_dir(runs_dir: Path) -> Path:
    """Where the app keeps a trainer's log until the trainer has made its run folder."""
    return Path(runs_dir) / LAUNCH_DIR


def archive_dir(runs_dir: Path) -> Path:
    """Where ``pneumo runs archive`` puts runs away: listed only when asked for."""
    return Path(runs_dir) / ARCHIVE_DIR
