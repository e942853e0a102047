"""The Open dialog (also the first-run screen): open a dataset, download the public one, or create the demo set.

Each choice asks for its path in one box, the folder to open, download into or
create the demo set in (``./data`` and ``./demo-data`` offered), which
completes what is typed from the filesystem (``PathSuggester``: the rest of
the first name that fits shows greyed, Tab or Right takes it). Dismisses with
the chosen data path (or None when skipped).
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from training.core.errors import one_line
from training.data.sources import SYNTHETIC_MARKER

DEMO_DIR = Path("demo-data")
DOWNLOAD_DIR = Path("data")


MAX_LISTED = 2000  # entries of one folder looked at for a completion (a huge folder must not stall the keys)


class PathSuggester(Suggester):
    """Completes a path from the filesystem: the first entry (folders before files, by name) of the typed path's
    folder that starts with its last part, a folder with its ``/``; hidden entries only once a ``.`` is typed."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)  # the filesystem changes (a download, a new set)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


class PathInput(Input):
    """The dialog's path box: Tab takes the greyed completion, as in a shell (so does Right at the end)."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def action_complete(self) -> None:
        if self._suggestion and self.cursor_at_end:
            self.action_cursor_right()


def complete_path(value: str) -> str | None:
    """``value`` completed by the first fitting entry of its folder (``~`` understood), or None."""
    if not value:
        return None
    folder_text, _, prefix = value.rpartition("/")
    folder = Path(os.path.expanduser(folder_text + "/" if folder_text or value.startswith("/") else "."))
    try:
        entries = []
        with os.scandir(folder) as listing:
            for i, entry in enumerate(listing):
                if i >= MAX_LISTED:
                    break
                if entry.name.startswith(prefix) and (prefix.startswith(".") or not entry.name.startswith(".")):
                    entries.append((not entry.is_dir(), entry.name))
    except OSError:
        return None
    for is_file, name in sorted(entries):
        completed = value[: len(value) - len(prefix)] + name + ("" if is_file else "/")
        if completed != value:
            return completed
    return None


def create_demo(target: Path) -> Path:
    """The demo set in ``target``: made there when it is new or empty, opened when it already is one."""
    from training.data.demo import write_demo

    target = Path(target)
    if (target / SYNTHETIC_MARKER).is_file():
        return target
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target} exists and is not an empty folder; choose a new folder")
    return Path(write_demo(target))


def download_public(target: Path = DOWNLOAD_DIR, progress=None) -> Path:
    """The public Kermany set, as ``pneumo data download kermany`` fetches it (resumable, checksum-verified)."""
    from training.data.download import download_dataset

    return Path(download_dataset("kermany", target, progress=progress))


# What the path box is for, after each choice: its placeholder and the path it offers.
PATH_PROMPTS = {
    "open": ("path to chest_xray/ or pneumoniamnist.npz, then Enter", ""),
    "download": ("folder to download into, then Enter", str(DOWNLOAD_DIR)),
    "demo": ("folder for the demo set (new or empty), then Enter", str(DEMO_DIR)),
}


class WelcomeScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "skip", "Skip")]

    def __init__(self, demo_dir: Path = DEMO_DIR):
        super().__init__()
        self.demo_dir = demo_dir
        self.choice = "open"  # what Enter in the path box does: open, download or demo

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome-dialog"):
            yield Static("pneumo-tui: no dataset yet", classes="dialog-title")
            yield Static("Pick how to get one (Enter), or Esc to look around without data.")
            yield OptionList(
                Option("Open a folder or .npz file", id="open"),
                Option(f"Download the public dataset (Kermany 2018, about 1.2 GB) into a folder (./{DOWNLOAD_DIR})",
                       id="download"),
                Option(f"Create the synthetic demo set in a folder (./{self.demo_dir})", id="demo"),
                id="welcome-choices",
            )
            yield PathInput(placeholder=PATH_PROMPTS["open"][0], id="welcome-path", suggester=PathSuggester())
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
        """Ask for the choice's path in the box, the default offered (Right or End completes from the disk)."""
        self.choice = event.option.id or "open"
        placeholder, default = PATH_PROMPTS[self.choice]
        if self.choice == "demo":
            default = str(self.demo_dir)
        path_input = self.path_input
        path_input.placeholder = placeholder
        path_input.value = default
        path_input.display = True
        path_input.focus()
        self.status("Tab (or Right) takes the greyed completion; Esc skips.")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        path = Path(text).expanduser()
        if self.choice == "download":
            if not text:
                self.status("Name a folder to download into.")
                return
            self.status(f"Downloading the Kermany set into {path} ... this can take a while.")
            self._download(path)
        elif self.choice == "demo":
            if not text:
                self.status("Name a folder for the demo set.")
                return
            self.status(f"Creating the synthetic demo set in {path} ...")
            self._demo(path)
        elif not text or not path.exists():
            self.status(f"No such file or folder: {text or '(empty)'}")
        else:
            self.dismiss(path)

    @work(thread=True, exclusive=True)
    def _download(self, target: Path = DOWNLOAD_DIR) -> None:
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            if done // 10**6 == shown[0]:
                return  # one screen update per MB, not per chunk
            shown[0] = done // 10**6
            of = f" of {total / 1e6:.0f} MB" if total else ""
            self.app.call_from_thread(self.status, f"Downloading: {done / 1e6:.0f} MB{of} (resumes if interrupted)")

        try:
            path = download_public(target, progress=progress)
        except Exception as exc:  # network down, no space...: say it on one line
            self.app.call_from_thread(self.status, f"Download stopped: {one_line(exc)}")
            return
        self.app.call_from_thread(self.dismiss, path)

    @work(thread=True, exclusive=True)
    def _demo(self, target: Path) -> None:
        try:
            path = create_demo(target)
        except Exception as exc:
            self.app.call_from_thread(self.status, f"Could not create the demo set: {one_line(exc)}")
            return
        self.app.call_from_thread(self.dismiss, path)

    def action_skip(self) -> None:
        self.dismiss(None)
