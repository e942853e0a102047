"""The Train form for real work (issue 16, item 3): a run's real settings cloned, every recipe key as key=value
(checked in one line), the dataset s uses, the estimate and its basis, the exact command; snapshots at 80x24, 120x40."""

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Static

from pneumo_tui.app import PneumoApp
from pneumo_tui.estimate import Throughput
from pneumo_tui.screens.train import TrainView, clone_settings, recipe_choices

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
RUN = "20260101-000000-cnn3"
SIZES = [(80, 24), (120, 40)]
# What the cloned run really ran: the shipped cnn3 recipe with these changes (its config.json says so).
RAN = {"name": "cnn3", "model": "cnn3", "epochs": 4, "batch_size": 16, "image_size": 64, "lr": 0.0005, "seed": 3,
       "optimizer": "adamw", "hflip": True, "threshold": "youden", "rotation": 20.0}
COMMAND = ("$ pneumo train cnn3 --data demo --runs runs --test-data demo/test --epochs 4 --image-size 64 --seed 3 "
           "--device cpu --set batch_size=16 --set lr=0.0005 --set optimizer=adamw --set hflip=true "
           "--set threshold=youden")


@pytest.fixture
def cloned(tmp_path, monkeypatch):
    """A runs folder holding the recorded cnn3 run, its config.json rewritten to RAN on a demo set that is here
    (relative paths, so that the screen reads the same on every machine)."""
    from training.data.demo import write_demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    write_demo(tmp_path / "demo", per_class=12, size=64, seed=0)
    run = tmp_path / "runs" / RUN
    shutil.copytree(FIXTURES / RUN, run)
    config = json.loads((run / "config.json").read_text())
    config["recipe"] = RAN
    config["data"].update(path="demo", test_path="demo/test")
    (run / "config.json").write_text(json.dumps(config))
    return Path("runs")


def _app(runs: Path, **kwargs) -> PneumoApp:
    return PneumoApp(runs_dir=runs, welcome=False, poll_interval=0, **kwargs)


def _line(view: TrainView, name: str) -> str:
    return str(view.query_one(f"#train-{name}", Static).render())


async def _estimated(pilot, view: TrainView) -> None:
    """Until the estimate's thread has said something."""
    for _ in range(100):
        await pilot.pause(0.05)
        if view.estimate_text and "timing" not in view.estimate_text:
            return
    raise AssertionError("no estimate")


def test_clone_settings_are_the_runs_own_not_its_recipes_defaults(cloned):
    config = json.loads((cloned / RUN / "config.json").read_text())
    values = clone_settings(config, dict(recipe_choices()))
    assert values["recipe"] == "cnn3"
    assert [values[k] for k in ("epochs", "image_size", "batch_size", "lr", "seed")] == ["4", "64", "16", "0.0005", "3"]
    # only what differs from the cnn3 recipe (rotation 20 is its own value)
    assert values["settings"] == "optimizer=adamw hflip=true threshold=youden"
    assert (values["test_data"], values["device"], values["data"]) == ("demo/test", "cpu", Path("demo"))


def test_a_run_of_a_recipe_file_clones_as_its_models_recipe_with_the_differences():
    config = {"model": "resnet_small", "recipe": {"name": "my_site", "model": "resnet_small", "epochs": 3,
                                                  "image_size": 128, "gamma": 0.4, "tta": 5},
              "data": {"path": "/nowhere"}, "device": "cuda:1 (NVIDIA A100)"}
    values = clone_settings(config, dict(recipe_choices()))
    assert values["recipe"] == "resnet_small"
    assert values["settings"] == "gamma=0.4 tta=5"
    assert (values["epochs"], values["image_size"], values["lr"]) == ("3", "128", "0.002")  # lr: the recipe's
    assert values["device"] == "cuda:1"


async def test_attaching_a_run_clones_it_and_shows_the_command_dataset_and_estimate(cloned):
    app = _app(cloned, attach=cloned / RUN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.train_view
        await _estimated(pilot, view)
        assert view.field("epochs").value == "4" and view.field("batch_size").value == "16"
        assert view.device.value == "cpu"
        assert _line(view, "data") == f"data: demo (the data of {RUN})  SYNTHETIC: " + _promise()
        assert _line(view, "command") == COMMAND
        # 4 epochs of the run's 800 images at the 61 img/s its epochs recorded: 52 s
        assert view.estimate_text == (f"estimate: about 0:52 of training steps: 4 epochs x 800 images at 61 img/s, "
                                      f"from run {RUN} (64 px, cpu); e times steps here")
        copied = []
        app.copy_to_clipboard = copied.append
        await pilot.press("c")
        assert copied == [COMMAND.removeprefix("$ ")]


def _promise() -> str:
    from pneumo_tui.screens.train import DEMO_PROMISE

    return DEMO_PROMISE


@pytest.mark.parametrize("entry, error", [
    ("lr=abc", "cannot start: lr=abc: recipe key 'lr' wants float, got 'abc'"),
    ("rotation=400", "cannot start: rotation=400: recipe key 'rotation' must be in [0, 180], got 400.0"),
    ("optimizer=rmsprop", "cannot start: optimizer=rmsprop: recipe key 'optimizer' must be one of adam, adamw, sgd, "
                          "got 'rmsprop'"),
    ("epoch=3", "cannot start: epoch=3: unknown recipe key 'epoch' (pneumo models --keys lists them)"),
    ("hflip", "cannot start: hflip: --set wants key=value, got 'hflip'"),
    ("epochs=3", "cannot start: epochs=: set it in its box above"),
])
async def test_a_bad_key_value_entry_is_one_line_and_nothing_starts(cloned, entry, error):
    app = _app(cloned, attach=cloned / RUN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.train_view
        await pilot.pause()
        view.field("settings").value = f"hflip=true {entry}"
        await pilot.pause()
        assert _line(view, "command") == error
        view.recipe.focus()
        view.follower = None  # not following a running run: s would start one
        await pilot.press("s")
        assert view.launched is None
        assert _line(view, "message") == "Cannot start: " + error.removeprefix("cannot start: ")


async def test_a_text_box_leaves_s_to_the_screen_until_enter_starts_editing(cloned):
    app = _app(cloned, attach=cloned / RUN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.train_view
        await pilot.pause()
        box = view.field("settings")
        box.focus()
        await pilot.pause()
        assert "s Start" in str(app.query_one("#keybar").render())
        view.follower = None
        started = []
        view.action_start = lambda: started.append(True)  # what s would do, without a trainer
        await pilot.press("s")
        assert started and box.value == "optimizer=adamw hflip=true threshold=youden"
        await pilot.press("enter", *" tta=5", "enter")  # edit, type (s included), keep
        assert box.value.endswith(" tta=5") and len(started) == 1
        assert _line(view, "command").endswith("--set threshold=youden --set tta=5")
        box.focus()
        await pilot.press("enter", *" dropout=2", "escape")  # Esc puts back the value it had
        assert box.value.endswith(" tta=5")


async def test_a_bad_number_in_a_box_is_said_the_same_way(cloned):
    app = _app(cloned, attach=cloned / RUN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.train_view
        await pilot.pause()
        view.field("epochs").value = "0"
        await pilot.pause()
        assert _line(view, "command") == "cannot start: recipe key 'epochs' must be in [1, 10000], got 0"


async def test_e_times_steps_here_and_the_estimate_says_so(cloned, monkeypatch):
    import pneumo_tui.screens.train as train_screen

    asked = []

    def fake_timing(model, image_size, batch_size, device=None, steps=5, settings=None):
        asked.append((model, image_size, batch_size, device, settings["rotation"], settings["hflip"]))
        return Throughput(400.0, "5 steps timed here by pneumo bench (cpu)")

    monkeypatch.setattr(train_screen, "time_steps", fake_timing)
    app = _app(cloned, attach=cloned / RUN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.train_view
        await _estimated(pilot, view)
        view.recipe.focus()
        await pilot.press("e")
        for _ in range(100):
            await pilot.pause(0.05)
            if "timed here" in view.estimate_text:
                break
        assert asked == [("cnn3", 64, 16, "cpu", "20.0", "true")]  # the step augments as the run will
        assert view.estimate_text == ("estimate: about 8.0 s of training steps: 4 epochs x 800 images at 400 img/s, "
                                      "from 5 steps timed here by pneumo bench (cpu); e times steps here")


async def test_the_demo_set_open_offers_the_demo_recipe_first(cloned):
    app = _app(cloned, data=Path("demo"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        view = app.train_view
        assert view.recipe.value == "demo"
        assert (view.field("epochs").value, view.field("image_size").value) == ("12", "64")
        assert _line(view, "data") == "data: demo (open on Data (1))  SYNTHETIC: " + _promise()
        assert _line(view, "command").startswith("$ pneumo train demo --data demo --runs runs --epochs 12")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_form_cloned_from_a_run(snap_compare, cloned, size):
    async def estimated(pilot):
        await _estimated(pilot, pilot.app.train_view)

    assert snap_compare(_app(cloned, attach=cloned / RUN), terminal_size=size, run_before=estimated)


def test_time_steps_runs_pneumo_bench_in_a_child_and_reads_its_json(tmp_path, monkeypatch):
    """The app never loads torch for a timing: `pneumo bench --json` does it (here a stand-in that records its
    arguments), and a failing bench is one line."""
    import sys

    import pneumo_tui.launch as launch
    from pneumo_tui.estimate import time_steps

    fake = tmp_path / "fake_pneumo.py"
    fake.write_text(
        "import json, sys\n"
        "open(sys.argv[0] + '.args', 'w').write(' '.join(sys.argv[1:]))\n"
        "if '--device' in sys.argv and sys.argv[sys.argv.index('--device') + 1] == 'tpu':\n"
        "    print('error: no device tpu', file=sys.stderr); sys.exit(1)\n"
        "print(json.dumps([{'mode': 'train', 'images_per_s': 123.4, 'device': 'cpu'},"
        " {'mode': 'infer', 'images_per_s': 999.0, 'device': 'cpu'}]))\n")
    monkeypatch.setattr(launch, "pneumo_command", lambda: [sys.executable, str(fake)])
    measured = time_steps("cnn3", 64, 8, "cpu", settings={"rotation": "0.0"})
    assert measured == Throughput(123.4, "5 steps timed here by pneumo bench (cpu)")
    args = (tmp_path / "fake_pneumo.py.args").read_text()
    assert args == "bench --model cnn3 --image-size 64 --batch-size 8 --steps 5 --json --device cpu --set rotation=0.0"
    with pytest.raises(RuntimeError, match="^pneumo bench exited 1: error: no device tpu$"):
        time_steps("cnn3", 64, 8, "tpu")


async def test_shift_c_on_the_runs_screen_clones_the_selected_run_into_the_train_form(cloned):
    from app_waits import wait_for_runs

    app = _app(cloned)  # nothing attached: the form starts from the recipe's defaults
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.train_view
        assert view.field("epochs").value != "4"
        await pilot.press("3")
        await wait_for_runs(pilot)
        await pilot.press("C")
        await pilot.pause()
        assert app.tabs.active == "train"
        await _estimated(pilot, view)
        assert view.field("epochs").value == "4" and view.field("seed").value == "3"
        assert _line(view, "command") == COMMAND


async def test_a_run_whose_config_cannot_be_read_is_not_cloned_and_the_form_is_kept(cloned):
    (cloned / RUN / "config.json").write_text("{not json")
    app = _app(cloned)
    async with app.run_test(size=(120, 40)) as pilot:
        before = app.train_view.field("epochs").value
        app.clone(cloned / RUN)
        await pilot.pause()
        assert app.train_view.field("epochs").value == before
        (note,) = [n.message for n in app._notifications]
        assert note.startswith(f"cannot clone {RUN}: config.json is not valid JSON")
