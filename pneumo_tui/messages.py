"""The app's messages: views post them, they bubble up, and whoever owns the answer handles them.

Messages go up, calls go down: a view never calls the app (``self.app.attach``)
nor pushes another view's screen; it posts one of these and the app (or the
screen hosting the view, outside the app) handles it with ``@on(...)`` and
calls public methods on its typed children.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from .screens.review import ReviewView


class AttachRun(Message):
    """Follow ``run_dir`` live on the Train screen (and make it the run to review)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class CloneRun(Message):
    """Fill the Train form with the settings of ``run_dir`` (its config.json), to start a run like it."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class ReviewRun(Message):
    """Review the misclassified cases of ``run_dir`` on the Review screen."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class OpenEvaluation(Message):
    """Open the evaluation (ROC/PR, threshold explorer) of ``run_dir`` as a screen.

    ``review`` is the review that asked, if one did: a threshold saved in the
    evaluation changes which cases are errors, so it reloads when the screen closes.
    """

    def __init__(self, run_dir: Path, review: ReviewView | None = None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.review = review


class CompareRuns(Message):
    """Compare runs ``a`` and ``b`` on the same test images (McNemar, DeLong) on a screen of their own."""

    def __init__(self, a: Path, b: Path) -> None:
        super().__init__()
        self.a = Path(a)
        self.b = Path(b)


class RunUpdated(Message):
    """A poll of ``run_dir`` found new events; the reader is now at ``version``.

    Posted by whoever polls the run, at most once per poll and run, and only
    when ``RunReader.poll()`` returned True (never once per tick). The view
    that polled redraws from it once per batch: the first of several
    updates posted by one poll draws them all, the rest find their version drawn.
    """

    def __init__(self, run_dir: Path, version: int) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.version = version
