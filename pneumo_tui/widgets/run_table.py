"""The table of every run in the runs folder, with a selection for overlaying curves."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from training.run.state import RunSummary

from .charts import run_colour
from .progress import status_text

COLUMNS = ("", "run", "status", "model", "data", "epochs", "val AUC", "test acc", "sens", "spec")


def _num(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


class RunTable(DataTable):
    """Rows keyed by run id; space toggles a run into the overlay (its colour swatch shows it)."""

    BINDINGS = [("space", "toggle_selected", "Overlay")]

    class SelectionChanged(Message):
        """The set of runs picked for the overlay changed."""

        def __init__(self, table: RunTable):
            super().__init__()
            self.table = table

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.summaries: dict[str, RunSummary] = {}
        self.selected: list[str] = []  # run ids, in the order they were picked

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name or "mark")

    def show_runs(self, summaries: list[RunSummary]) -> None:
        """Update in place, keeping the cursor on the same run."""
        if [s.to_json() for s in summaries] == [s.to_json() for s in self.summaries.values()]:
            return  # unchanged: keep the table (and the screen) as it is
        current = self.current_run_id
        self.summaries = {s.run_id: s for s in summaries}
        self.selected = [r for r in self.selected if r in self.summaries]
        self.clear()
        for s in summaries:
            self.add_row(*self._cells(s), key=s.run_id)
        if current in self.summaries:
            self.move_cursor(row=self.get_row_index(current))

    def _cells(self, s: RunSummary) -> list:
        mark = Text("■", style=run_colour(s.run_id)) if s.run_id in self.selected else Text("·")
        epochs = f"{s.epochs_done}/{s.epochs_planned}" if s.epochs_planned else str(s.epochs_done)
        return [
            mark, s.run_id, status_text(s.status), s.model, "synth" if s.synthetic else "real", epochs, _num(s.val_auc),
            _num(s.test.get("accuracy")), _num(s.test.get("sensitivity")), _num(s.test.get("specificity")),
        ]

    @property
    def current_run_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # empty or moving table
            return None

    def action_toggle_selected(self) -> None:
        run_id = self.current_run_id
        if run_id is None:
            return
        if run_id in self.selected:
            self.selected.remove(run_id)
        else:
            self.selected.append(run_id)
        mark = Text("■", style=run_colour(run_id)) if run_id in self.selected else Text("·")
        self.update_cell(run_id, "mark", mark)
        self.post_message(self.SelectionChanged(self))
