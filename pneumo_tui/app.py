"""The Textual app: Data, Train, Runs and Review screens as tabs, keyboard first.

Messages up, calls down: the views post messages (``messages.py``: attach,
review, evaluate, compare) that the app handles with ``@on``, calling public
methods on its typed children; each view says which of its widgets takes the
focus. Each view owns its refresh timer and the app only says which tab is
shown, so a hidden chart costs nothing and a followed run is never slowed by
the app (it only reads the run folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import Header, Static, TabbedContent, TabPane, Tabs

from training.core.errors import one_line
from training.run.paths import DEFAULT_RUNS_DIR, RunPaths

from .messages import AttachRun, CloneRun, CompareRuns, OpenEvaluation, ReviewRun
from .screens.data import DataView
from .screens.help import HelpScreen
from .screens.runs import RunsView
from .screens.tab_view import TabView
from .screens.train import TrainView
from .screens.welcome import WelcomeScreen
from .stylesheets import sheet
from .widgets.keybar import KeyBar
from .widgets.screen_tabs import ScreenTabs
from .widgets.xray import set_image_protocol

if TYPE_CHECKING:
    from .screens.review import ReviewView


class ReviewPane(TabView):
    """Hosts the review of the run attached last (the review widgets are the review module's)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.run_dir: Path | None = None
        self.reviewing = False  # a ReviewView is mounted (not a hint)
        self._review: ReviewView | None = None  # that ReviewView

    def compose(self) -> ComposeResult:
        yield Static("Attach a run on the Runs screen (3, Enter or r) to review its predictions.", id="review-hint")

    @property
    def focus_target(self) -> Widget | None:
        return self._review.focus_target if self.reviewing and self._review is not None else None

    def shown(self) -> None:
        self.show_run()

    def choose(self, run_dir: Path) -> None:
        """Make ``run_dir`` the run to review next time the tab is shown (without reading it now)."""
        self.run_dir = Path(run_dir)
        self.reviewing = False

    def show_run(self, run_dir: Path | None = None) -> None:
        """Review ``run_dir`` (or look again at the current one: its predictions appear when training ends)."""
        run_dir = Path(run_dir) if run_dir is not None else self.run_dir
        if run_dir is None or (run_dir == self.run_dir and self.reviewing):
            return
        self.run_dir = run_dir
        widget, self.reviewing = review_widget(run_dir)
        self._review = widget if self.reviewing else None
        self.remove_children()
        self.mount(widget)


def review_widget(run_dir: Path):
    """(widget, is_review): the review of ``run_dir``, or a one-line reason why there is none yet."""
    if not RunPaths(run_dir).predictions.is_file():
        return Static(f"{run_dir.name}: no predictions yet (written when its training ends).", markup=False), False
    try:
        from .screens.review import ReviewView

        return ReviewView(run_dir), True
    except Exception as exc:  # a broken run folder must not take the app down
        return Static(f"Cannot review {run_dir.name}: {one_line(exc)}", markup=False), False


class PneumoApp(App):
    TITLE = "pneumo-tui"
    CSS_PATH = [sheet(name) for name in ("app", "data", "train", "runs", "review")]
    # The tab bar already shows 1-4, so the key bar leaves them out.
    BINDINGS = [
        Binding("1", "show_tab('data')", "Data", show=False),
        Binding("2", "show_tab('train')", "Train", show=False),
        Binding("3", "show_tab('runs')", "Runs", show=False),
        Binding("4", "show_tab('review')", "Review", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("o", "open_data", "Open data", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        data: Path | None = None,
        runs_dir: Path = DEFAULT_RUNS_DIR,
        attach: Path | None = None,
        image_protocol: str = "auto",
        poll_interval: float = 1.0,
        welcome: bool = True,
    ):
        super().__init__()
        # No animations: over SSH every animation frame is a screen update sent down the wire.
        self.animation_level = "none"
        self.data = Path(data) if data else None
        self.runs_dir = Path(runs_dir)
        self.attach_to = Path(attach) if attach else None
        self.image_protocol = image_protocol
        set_image_protocol(image_protocol)  # the review screens' X-ray views follow --image-protocol too
        self.poll_interval = poll_interval  # seconds between the shown view's polls of its runs; 0: none
        self.show_welcome = welcome

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification is plain text: they carry run names, paths and exception messages from disk."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with ScreenTabs(initial="train" if self.attach_to else "data", id="tabs"):
            with TabPane("1 Data", id="data"):
                yield DataView(self.data, self.image_protocol, id="data-view")
            with TabPane("2 Train", id="train"):
                yield TrainView(self.data, self.runs_dir, poll_interval=self.poll_interval, id="train-view")
            with TabPane("3 Runs", id="runs"):
                yield RunsView(self.runs_dir, poll_interval=self.poll_interval, id="runs-view")
            with TabPane("4 Review", id="review"):
                yield ReviewPane(id="review-pane")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        self.sub_title = str(self.data) if self.data else "no dataset"
        if self.attach_to is not None:
            self.attach(self.attach_to)
        elif self.data is None and self.show_welcome:
            self.push_screen(WelcomeScreen(), self._data_chosen)

    # ---- the children the app works with

    @property
    def tabs(self) -> ScreenTabs:
        return self.query_one(ScreenTabs)

    @property
    def data_view(self) -> DataView:
        return self.query_one(DataView)

    @property
    def train_view(self) -> TrainView:
        return self.query_one(TrainView)

    @property
    def runs_view(self) -> RunsView:
        return self.query_one(RunsView)

    @property
    def review_pane(self) -> ReviewPane:
        return self.query_one(ReviewPane)

    def tab_views(self) -> dict[str, TabView]:
        """The view in each tab, by the tab's id (the ids compose gives the panes and show_tab takes)."""
        return {"data": self.data_view, "train": self.train_view, "runs": self.runs_view, "review": self.review_pane}

    # ---- navigation

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        self._focus_tab(tab)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        try:
            if event.pane.id != self.tabs.active:
                return  # stale: the tab changed again since; focusing this pane would switch back to it
            views = self.tab_views()
            for tab, view in views.items():
                if tab != event.pane.id:
                    view.hidden()  # its timer stops: a hidden view reads nothing
            shown = views.get(event.pane.id or "")
            if shown is not None:
                shown.shown()  # catches up at once, not a tick later (the review looks again for predictions)
            self._focus_tab(event.pane.id or "")
        except NoMatches:  # a late activation while the app tears its widgets down
            return

    def _focus_tab(self, tab: str) -> None:
        # Focus must move into the new pane: TabbedContent re-shows the pane holding the focus.
        try:
            view = self.tab_views().get(tab)
            target = view.focus_target if view is not None else None
            (target or self.tabs.query_one(Tabs)).focus()
        except NoMatches:  # the app is closing
            return

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_open_data(self) -> None:
        self.push_screen(WelcomeScreen(), self._data_chosen)

    def _data_chosen(self, path: Path | None) -> None:
        if path is None:
            return
        self.data = Path(path)
        self.sub_title = str(self.data)
        self.data_view.show_data(self.data)
        self.train_view.data = self.data
        self.action_show_tab("data")

    # ---- what the views ask for

    @on(AttachRun)
    def _attach_run(self, message: AttachRun) -> None:
        self.attach(message.run_dir)

    @on(CloneRun)
    def _clone_run(self, message: CloneRun) -> None:
        self.clone(message.run_dir)

    @on(ReviewRun)
    def _review_run(self, message: ReviewRun) -> None:
        self.review(message.run_dir)

    @on(OpenEvaluation)
    def _open_evaluation(self, message: OpenEvaluation) -> None:
        from .screens.evaluation import EvaluationScreen

        review = message.review  # a threshold saved there changes which cases are errors: reload it after
        try:
            self.push_screen(EvaluationScreen(message.run_dir),
                             callback=(lambda _: review.reload()) if review is not None else None)
        except ValueError as exc:
            self.notify(str(exc), severity="warning")

    @on(CompareRuns)
    def _compare_runs(self, message: CompareRuns) -> None:
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(message.a, message.b))

    def attach(self, run_dir: Path) -> None:
        """Follow ``run_dir`` live on the Train screen (and make it the run to review)."""
        self.train_view.follow(Path(run_dir))
        self.review_pane.choose(Path(run_dir))
        self.action_show_tab("train")

    def clone(self, run_dir: Path) -> None:
        """The Train form filled with ``run_dir``'s settings (its config.json), shown; a run whose config cannot
        be read leaves the form as it was and says why in one line."""
        from training.run.store import read_config

        run_dir = Path(run_dir)
        config, problem = read_config(run_dir)
        if problem or not config:
            self.notify(f"cannot clone {run_dir.name}: {problem or 'it has no config.json yet'}", severity="warning")
            return
        self.train_view.clone(config, run_dir.name)
        self.action_show_tab("train")
        self.notify(f"Train form filled from {run_dir.name}: check it, then s starts a new run")

    def review(self, run_dir: Path) -> None:
        """Review ``run_dir`` on the Review screen."""
        self.review_pane.show_run(Path(run_dir))
        self.action_show_tab("review")
