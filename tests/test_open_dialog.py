"""The Open dialog (issue 16, item 6): its path box completes from the filesystem, and the download and the demo
set go where the box says, not to a fixed ./data."""

from pathlib import Path

import pytest

from pneumo_tui.app import PneumoApp
from pneumo_tui.screens.welcome import PathInput, WelcomeScreen, complete_path


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """chest_xray/ (a folder), chest_notes.txt (a file), .hidden/ and pneumonia.npz, in the current folder."""
    monkeypatch.chdir(tmp_path)
    for folder in ("chest_xray/train", "chest_xray/test", ".hidden"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "chest_notes.txt").write_text("x")
    (tmp_path / "pneumonia.npz").write_bytes(b"")
    return tmp_path


def test_complete_path_takes_folders_first_and_adds_their_slash(tree):
    assert complete_path("ch") == "chest_xray/"
    assert complete_path("chest_n") == "chest_notes.txt"
    assert complete_path("chest_xray/t") == "chest_xray/test/"
    assert complete_path("pn") == "pneumonia.npz"
    assert complete_path(str(tree) + "/pne") == str(tree) + "/pneumonia.npz"
    assert complete_path("nothing") is None and complete_path("") is None
    assert complete_path("chest_xray/") == "chest_xray/test/"  # a folder's first entry
    assert complete_path("pneumonia.npz") is None  # complete already
    assert complete_path("h") is None and complete_path(".h") == ".hidden/"  # hidden only once asked for


def test_complete_path_understands_the_home_folder(tree, monkeypatch):
    monkeypatch.setenv("HOME", str(tree))
    assert complete_path("~/chest_x") == "~/chest_xray/"


async def test_typing_a_path_shows_the_completion_and_tab_takes_it(tree):
    app = PneumoApp(runs_dir=tree / "runs", welcome=True, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("enter")  # Open a folder or .npz file
        box = app.screen.query_one("#welcome-path", PathInput)
        assert app.focused is box
        await pilot.press(*"ch")
        await pilot.pause(0.1)
        assert box._suggestion == "chest_xray/"  # shown greyed after what was typed
        await pilot.press("tab")
        assert box.value == "chest_xray/"
        await pilot.press(*"tr", "tab", "enter")
        await pilot.pause()
        assert app.data == Path("chest_xray/train/")


async def test_the_demo_set_is_created_in_the_folder_typed(tree, monkeypatch):
    monkeypatch.setenv("PNEUMO_CACHE", str(tree / "cache"))
    app = PneumoApp(runs_dir=tree / "runs", welcome=True, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # the demo set
        box = app.screen.query_one("#welcome-path", PathInput)
        assert box.value == "demo-data"  # offered
        box.value = "sets/my-demo"
        await pilot.press("enter")
        for _ in range(200):
            if not isinstance(app.screen, WelcomeScreen):
                break
            await pilot.pause(0.05)
        assert app.data == Path("sets/my-demo") and (tree / "sets/my-demo/SYNTHETIC").is_file()
        assert not (tree / "demo-data").exists()


async def test_the_download_goes_to_the_folder_typed(tree, monkeypatch):
    import pneumo_tui.screens.welcome as welcome

    asked = []

    def fake_download(target, progress=None):
        asked.append(Path(target))
        (Path(target) / "chest_xray").mkdir(parents=True)
        return Path(target) / "chest_xray"

    monkeypatch.setattr(welcome, "download_public", fake_download)
    app = PneumoApp(runs_dir=tree / "runs", welcome=True, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")  # download
        box = app.screen.query_one("#welcome-path", PathInput)
        assert box.value == "data"  # offered, not imposed
        box.value = "big-disk/kermany"
        await pilot.press("enter")
        for _ in range(100):
            if not isinstance(app.screen, WelcomeScreen):
                break
            await pilot.pause(0.05)
        assert asked == [Path("big-disk/kermany")]
        assert app.data == Path("big-disk/kermany/chest_xray")


def test_the_demo_folder_must_be_new_or_empty_or_a_demo_set_already(tree):
    from pneumo_tui.screens.welcome import create_demo

    with pytest.raises(ValueError, match="exists and is not an empty folder"):
        create_demo(tree / "chest_xray")
    made = create_demo(tree / "fresh")
    assert create_demo(made) == made  # opened again, not rewritten
