"""The progress panel beside the live charts: where the run is and how fast it goes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from pneumo_tui.plain import PlainTable as Table
from training.run.schema import BEST_VAL_SCORE
from training.run.state import Progress, RunReader

STATUS_STYLES = {"running": "bold green", "finished": "bold", "stopped": "bold cyan", "failed": "bold red",
                 "stale": "bold yellow"}


def status_text(status: str) -> Text:
    # The word itself carries the meaning, so NO_COLOR loses nothing.
    label = {"stale": "stale (writer died)", "stopped": "stopped (resumable)"}.get(status, status)
    return Text(label, style=STATUS_STYLES.get(status, ""))


def _bar(fraction: float, width: int) -> str:
    filled = int(round(fraction * width))
    return "█" * filled + "░" * (width - filled)


class ProgressPanel(Static):
    DEFAULT_CSS = """
    ProgressPanel { height: auto; padding: 0 1; }
    """

    def show_idle(self, message: str) -> None:
        self.update(Text(message, style="italic"))

    def show(self, follower: RunReader) -> None:
        table = self.render_progress(follower, follower.progress(), max(10, self.size.width - 12))
        # Relayout only when the panel grows or shrinks (a new row): most ticks change numbers in place.
        self.update(table, layout=table.row_count != self._rows)
        self._rows = table.row_count

    _rows = -1

    @staticmethod
    def render_progress(follower: RunReader, p: Progress, bar_width: int = 14) -> Table:
        s = follower.series
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True, min_width=7)
        table.add_column(no_wrap=True, overflow="ellipsis")
        table.add_row("run", Text(follower.run_id, overflow="ellipsis"))
        table.add_row("model", follower.model)
        dataset = follower.dataset()["dataset"]
        if dataset:
            table.add_row("data", Text(dataset, overflow="ellipsis"))
        if follower.synthetic:  # in words, so that NO_COLOR loses nothing
            table.add_row("" if dataset else "data", Text.assemble(("SYNTHETIC", "bold reverse"), ": not X-rays"))
        table.add_row("status", status_text(follower.status))
        epochs = f"{p.epoch}/{p.epochs}" if p.epochs else str(p.epoch)
        table.add_row("epoch", f"{epochs}")
        table.add_row("", _bar(p.run_fraction, bar_width))
        steps = f"{p.step}/{p.steps_per_epoch}" if p.steps_per_epoch else str(p.step)
        table.add_row("step", steps)
        table.add_row("", _bar(p.epoch_fraction, bar_width))
        table.add_row("ETA", format_duration(p.eta_s))
        table.add_row("elapsed", format_duration(p.elapsed_s))
        table.add_row("img/s", f"{p.images_per_s:.1f}" if p.images_per_s is not None else "-")
        table.add_row("lr", f"{p.lr:.2e}" if p.lr is not None else "-")
        table.add_row("device", p.device or "-")
        for label, text in gpu_rows(follower):
            table.add_row(label, text)
        if s.best_epoch is not None:
            auc = s.best_row.get(BEST_VAL_SCORE)
            table.add_row("best", f"epoch {s.best_epoch}" + (f" AUC {auc:.3f}" if isinstance(auc, float) else ""))
        test = s.evals.get("test")
        if test:
            table.add_row("test", f"acc {_f(test.get('accuracy'))}  AUC {_f(test.get('auc'))}")
            table.add_row("", f"sens {_f(test.get('sensitivity'))} spec {_f(test.get('specificity'))}")
        failed = s.lifecycle if s.lifecycle and s.lifecycle.get("event") == "run_failed" else None
        if failed:
            table.add_row("error", Text(str(failed.get("error", "")), style="red"))
        return table


def gpu_rows(follower: RunReader) -> list[tuple[str, str]]:
    """The GPU's figures of the latest epoch, as the trainer's epoch event gives them (training.engine.gpu_monitor):
    peak memory allocated of the device's total, reserved, and the mean utilisation; nothing off CUDA."""
    epochs = follower.state.epochs
    if not epochs:
        return []
    e = epochs[max(epochs)]
    rows = []
    allocated, reserved, total = (e.get(k) for k in ("gpu_memory_allocated", "gpu_memory_reserved",
                                                     "gpu_memory_total"))
    if isinstance(allocated, int):
        of = f" / {_gib(total)}" if isinstance(total, int) and total > 0 else ""
        rows.append(("gpu mem", f"{_gib(allocated)}{of} GiB peak"))
        if isinstance(reserved, int):
            rows.append(("", f"reserved {_gib(reserved)} GiB"))
    utilization = e.get("gpu_utilization")
    if isinstance(utilization, (int, float)):
        rows.append(("gpu use", f"{utilization:.0f}% (epoch {max(epochs)})"))
    return rows


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}"


def _f(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def format_duration(seconds: float | None) -> str:
    """``h:mm:ss`` or ``m:ss``; under ten seconds to a tenth (``0.4 s``), so a short run does not read ``0:00``."""
    if seconds is None:
        return "-"
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
