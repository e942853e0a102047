"""The first-run screen: no dataset configured yet, so offer the three ways to get one.

Dismisses with the chosen data path (or None when skipped).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from training.core.errors import one_line

DEMO_DIR = Path("demo-data")
DOWNLOAD_DIR = Path("data")


def create_demo(target: Path) -> Path:
    from training.data.demo import write_demo

    return Path(write_demo(target))


def download_public(target: Path = DOWNLOAD_DIR, progress=None) -> Path:
    """The public Kermany set, as ``pneumo data download kermany`` fetches it (resumable, checksum-verified)."""
    from training.data.download import download_dataset

    return Path(download_dataset("kermany", target, progress=progress))


class WelcomeScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "skip", "Skip")]

    def __init__(self, demo_dir: Path = DEMO_DIR):
        super().__init__()
        self.demo_dir = demo_dir

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome-dialog"):
            yield Static("pneumo-tui: no dataset yet", classes="dialog-title")
            yield Static("Pick how to get one (Enter), or Esc to look around without data.")
            yield OptionList(
                Option("Open a folder or .npz file", id="open"),
                Option(f"Download the public dataset (Kermany 2018, about 1.2 GB) into ./{DOWNLOAD_DIR}",
                       id="download"),
                Option(f"Create the synthetic demo set in ./{self.demo_dir}", id="demo"),
                id="welcome-choices",
            )
            yield Input(placeholder="path to chest_xray/ or pneumoniamnist.npz, then Enter", id="welcome-path")
            yield Static(id="welcome-status")

    @property
    def path_input(self) -> Input:
        return self.query_one(Input)

    @property
    def status_line(self) -> Static:
        return self.query_one("#welcome-status", Static)

    def on_mount(self) -> None:
        self.path_input.display = False
        self.query_one(OptionList).focus()

    def status(self, text: str) -> None:
        self.status_line.update(Text(text))  # paths are text, never markup

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id
        if choice == "open":
            path_input = self.path_input
            path_input.display = True
            path_input.focus()
        elif choice == "download":
            self.status("Downloading the Kermany set ... this can take a while.")
            self._download()
        elif choice == "demo":
            self.status(f"Creating the synthetic demo set in {self.demo_dir} ...")
            self._demo()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip() or not path.exists():
            self.status(f"No such file or folder: {event.value.strip() or '(empty)'}")
            return
        self.dismiss(path)

    @work(thread=True, exclusive=True)
    def _download(self) -> None:
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            if done // 10**6 == shown[0]:
                return  # one screen update per MB, not per chunk
            shown[0] = done // 10**6
            of = f" of {total / 1e6:.0f} MB" if total else ""
            self.app.call_from_thread(self.status, f"Downloading: {done / 1e6:.0f} MB{of} (resumes if interrupted)")

        try:
            path = download_public(progress=progress)
        except Exception as exc:  # network down, no space...: say it on one line
            self.app.call_from_thread(self.status, f"Download stopped: {one_line(exc)}")
            return
        self.app.call_from_thread(self.dismiss, path)

    @work(thread=True, exclusive=True)
    def _demo(self) -> None:
        try:
            path = create_demo(self.demo_dir)
        except Exception as exc:
            self.app.call_from_thread(self.status, f"Could not create the demo set: {one_line(exc)}")
            return
        self.app.call_from_thread(self.dismiss, path)

    def action_skip(self) -> None:
        self.dismiss(None)
