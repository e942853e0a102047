"""A dataset's images for one task (``training.core.tasks``): which take part, and their labels.

The pneumonia task takes every image as it is. The subtype task takes the PNEUMONIA images only, labelled
BACTERIAL (1) or VIRAL (0) from their file names; a pneumonia image whose subtype cannot be read is left out and
reported, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from training.core.tasks import SUBTYPE, Task
from training.data.records import Record

SUBTYPE_LABELS = {"bacteria": 1, "virus": 0}
EXAMPLES = 5  # left-out images named in the report line


@dataclass
class TaskSelection:
    """The records a task keeps (relabelled), and the PNEUMONIA records it had to leave out, with why."""

    records: list[Record]
    left_out: list[Record] = field(default_factory=list)
    not_asked: int = 0  # images the question is not about (NORMAL images in the subtype task)

    def report(self, task: Task) -> str | None:
        """One line on the images left out (count and examples), or None when none were."""
        if not self.left_out:
            return None
        names = ", ".join(r.id for r in self.left_out[:EXAMPLES])
        more = f" and {len(self.left_out) - EXAMPLES} more" if len(self.left_out) > EXAMPLES else ""
        return (f"{len(self.left_out)} PNEUMONIA images left out of the {task.name} task: their file names say "
                f"neither bacteria nor virus ({names}{more})")


def select_for_task(records: list[Record], task: Task) -> TaskSelection:
    """``records`` as ``task`` asks: all of them for the pneumonia task; for the subtype task the PNEUMONIA ones
    with a known subtype, label 1 bacterial and 0 viral (the NORMAL ones counted as not asked)."""
    if task is not SUBTYPE:
        return TaskSelection(list(records))
    kept, left_out, normal = [], [], 0
    for r in records:
        if r.label != 1:
            normal += 1
        elif r.subtype in SUBTYPE_LABELS:
            kept.append(replace(r, label=SUBTYPE_LABELS[r.subtype]))
        else:
            left_out.append(r)
    return TaskSelection(kept, left_out, normal)
