"""The full-screen film, Grad-CAM blend and side by side, and the thumbnail grid (Review's f, Enter and T).

Driven by Pilot in a tiny host app; snapshots at 80x24 and 120x40 in half cells (deterministic in any
terminal; the sixel path is tested by decoding its bytes in test_viewer_graphics.py).
"""

import numpy as np
import pytest
from test_review_screens import Host, settle, with_checkpoint
from textual.widgets import DataTable, Static

from pneumo_tui.screens.film import FilmScreen
from pneumo_tui.screens.review import CAVEAT, ReviewScreen, ReviewView
from pneumo_tui.screens.thumbs import ThumbsScreen
from pneumo_tui.widgets.thumbs import ThumbCell
from pneumo_tui.widgets.xray import XRayView
from training.evaluation.review_cases import confidence, review_cases
from training.run.review_notes import ReviewNotes

SIZES = [(80, 24), (120, 40)]
size_ids = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")

pytest_plugins = []


@pytest.fixture
def run(tmp_path, monkeypatch):
    from test_review_screens import run as review_run

    yield from review_run.__wrapped__(tmp_path, monkeypatch)


def facts(app) -> str:
    return str(app.screen.query_one("#film-facts", Static).render())


def named(app, case: dict) -> str:
    """How the facts line names ``case``: its id, or at 80 columns the id without its folders."""
    return app.screen.review.short_names[case["id"]] if app.size.width < 100 else case["id"]


def status(app) -> str:
    return str(app.screen.query_one("#film-status", Static).render())


async def test_film_shows_the_case_full_screen_and_steps_through_the_list(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(ReviewView)
        first, second = view.shown[0], view.shown[1]
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FilmScreen)
        line = facts(app)
        for fact in (first["kind"], named(app, first), f"{first['probability']:.3f}", first["patient"], "no verdict",
                     "true " + ("PNEUMONIA" if first["label"] else "NORMAL")):
            assert fact in line
        assert status(app).startswith(f"1/{len(view.shown)} · ")
        film = app.screen.film
        assert film.region.width == 80 and film.region.height >= 24 - 5  # the whole screen but 4-5 lines
        await pilot.press("right")
        assert named(app, second) in facts(app) and view.selected["id"] == second["id"]  # the list follows
        await pilot.press("m")  # a verdict given on the film is the Review's
        assert ReviewNotes(run).get(second["id"]).verdict == "model wrong" and "model wrong" in facts(app)
        await pilot.press("left")
        assert named(app, first) in facts(app)
        await pilot.press("left")  # before the first: the last
        assert named(app, view.shown[-1]) in facts(app)
        # the picture controls of the side panel
        await pilot.press("plus", "shift+right", "right_square_bracket", "i")
        assert film.zoom == 1.5 and film.centre[1] > 0.5 and film.window < 255 and film.inverted
        assert "inverted" in status(app) and "zoom 1.5x" in status(app)
        await pilot.press("0", "r", "i")
        assert (film.zoom, film.window, film.inverted) == (1.0, 255.0, False)
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
        table = app.screen.query_one(DataTable)
        assert "model wrong" in [str(c) for c in table.get_row(second["id"])]
        await pilot.press("enter")  # Enter on a row opens the film too
        await pilot.pause()
        assert isinstance(app.screen, FilmScreen) and named(app, view.selected) in facts(app)


async def test_film_keeps_the_side_panels_window(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("right_square_bracket", "full_stop", "i", "f")
        await pilot.pause()
        panel = app.screen_stack[-2].query_one("#review-xray", XRayView)
        assert (app.screen.film.window, app.screen.film.level, app.screen.film.inverted) == (
            panel.window, panel.level, True)


async def test_gradcam_blend_strength_and_side_by_side(run):
    with_checkpoint(run)
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f", "g")
        await settle(pilot)
        film, overlay = app.screen.views
        assert film.show_overlay and film.has_heatmap and CAVEAT in status(app) and "blend 50%" in status(app)
        half = np.asarray(film.render_pil(), np.float32)
        grey = np.asarray(film.render_pil().convert("L"), np.float32)
        await pilot.press("right_curly_bracket", "right_curly_bracket")
        assert film.overlay_strength == 0.7 and "blend 70%" in status(app)
        more = np.asarray(film.render_pil(), np.float32)
        assert np.abs(more - grey[..., None]).mean() > np.abs(half - grey[..., None]).mean()  # more colour
        for _ in range(9):
            await pilot.press("left_curly_bracket")
        assert film.overlay_strength == 0.1  # never quite off: g is for that
        await pilot.press("s")
        await settle(pilot)
        assert overlay.display and overlay.show_overlay and overlay.has_heatmap
        assert not film.show_overlay and film.render_pil().mode == "L"  # the film under the map, readable
        assert "side by side" in status(app) and CAVEAT in status(app)
        assert film.region.width + overlay.region.width == 120 and film.region.y == overlay.region.y
        await pilot.press("right")  # the next case gets its own map, on both sides
        await settle(pilot)
        case = app.screen.case
        assert overlay.has_heatmap and app.screen.review.cached_gradcam(case["id"]) is not None
        await pilot.press("s", "g")
        assert not overlay.display and not film.show_overlay and "Grad-CAM" not in status(app)


async def test_thumbnail_grid_of_errors_fn_and_fp_apart(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        await pilot.pause()
        assert isinstance(app.screen, ThumbsScreen)
        errors = review_cases(run)
        for kind in ("FN", "FP"):
            cells = list(app.screen.query_one(f"#thumbs-{kind.lower()}").query(ThumbCell))
            ids = [c.case["id"] for c in cells]
            expected = sorted((c for c in errors if c["kind"] == kind), key=lambda c: (-confidence(c), c["id"]))
            assert ids == [c["id"] for c in expected]  # apart, the most confident first
        cells = list(app.screen.query(ThumbCell))
        assert app.focused is cells[0]
        grid = app.screen.query_one("#thumbs-fn")
        assert grid.columns == 4  # 18-cell thumbnails at 80 columns
        await pilot.press("right", "down")
        assert app.focused is cells[1 + grid.columns]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FilmScreen) and named(app, cells[1 + grid.columns].case) in facts(app)
        await pilot.press("right")  # the film steps in the grid's order
        assert named(app, cells[2 + grid.columns].case) in facts(app)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, ReviewScreen)


async def test_film_of_a_missing_image_says_why(run):
    from pathlib import Path

    first = review_cases(run)[0]
    Path(first["path"]).unlink()
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert "image unavailable" in status(app)
        lines = app.screen.film.query_one("FilmImage").render_lines(app.screen.film.region.reset_offset)
        assert "no image" in "".join(seg.text for line in lines for seg in line)  # never a silent blank


async def press_film(pilot, *keys):
    await settle(pilot)
    await pilot.press("f", *keys)
    await settle(pilot)


@size_ids
def test_film_snapshot(run, snap_compare, size):
    assert snap_compare(Host(lambda: ReviewScreen(run)), terminal_size=size,
                        run_before=lambda pilot: press_film(pilot, "right"))


@size_ids
def test_film_blend_snapshot(run, snap_compare, size):
    with_checkpoint(run)
    assert snap_compare(Host(lambda: ReviewScreen(run)), terminal_size=size,
                        run_before=lambda pilot: press_film(pilot, "g", "right_curly_bracket"))


@size_ids
def test_film_side_by_side_snapshot(run, snap_compare, size):
    with_checkpoint(run)
    assert snap_compare(Host(lambda: ReviewScreen(run)), terminal_size=size,
                        run_before=lambda pilot: press_film(pilot, "s"))


@size_ids
def test_thumbnails_snapshot(run, snap_compare, size):
    async def thumbs(pilot):
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)

    assert snap_compare(Host(lambda: ReviewScreen(run)), terminal_size=size, run_before=thumbs)


async def test_facts_line_names_the_whole_id_where_it_fits(run):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first = app.screen.query_one(ReviewView).shown[0]
        await pilot.press("f")
        await pilot.pause()
        assert first["id"] in facts(app) and first["patient"] in facts(app) and "no verdict" in facts(app)


async def test_film_and_thumbnails_from_the_apps_review_tab(run):
    from pneumo_tui.app import PneumoApp

    app = PneumoApp(runs_dir=run.parent, attach=run, welcome=False, poll_interval=0, image_protocol="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        view = app.query_one(ReviewView)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FilmScreen) and named(app, view.selected) in facts(app)
        await pilot.press("escape", "T")
        await pilot.pause()
        assert isinstance(app.screen, ThumbsScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FilmScreen)
        await pilot.press("escape", "escape")
        assert app.focused is view.cases  # back on the list, keys to it


async def test_thumbnails_load_off_the_ui_thread_and_say_why_one_is_missing(run):
    from pathlib import Path

    from pneumo_tui.widgets.xray import FilmImage

    errors = review_cases(run)
    missing = next(c for c in errors if c["kind"] == "FN")
    Path(missing["path"]).unlink()
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        await settle(pilot)
        cells = {cell.case["id"]: cell for cell in app.screen.query(ThumbCell)}
        assert all(cell.pixels is not None for key, cell in cells.items() if key != missing["id"])
        film = cells[missing["id"]].query_one(FilmImage)
        assert cells[missing["id"]].pixels is None and film.reason not in ("loading…", None)


@pytest.mark.parametrize("size,hinted", [((80, 24), False), ((120, 40), True)], ids=["80x24", "120x40"])
async def test_the_half_cell_hint_where_it_fits(run, size, hinted):
    app = Host(lambda: ReviewScreen(run))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        panel = str(app.screen.query_one("#review-view-status", Static).render())
        assert ("real pixels" in panel) is hinted  # a narrow side panel keeps its rows for the film
        await pilot.press("f")
        await pilot.pause()
        assert "half cells" in status(app) and "real pixels" in status(app)  # the film screen always says it
