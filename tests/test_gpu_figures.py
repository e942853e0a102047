"""A GPU server's figures (issue 16, item 4): the trainer's epoch events carry the CUDA memory peaks and NVML's
utilisation, the Train screen shows them, ``pneumo runs --json`` and the Runs screen say each run's device.
No GPU here: torch.cuda's readings and NVML are faked, and the screen reads fake events."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from runs_fixtures import screen_text
from typer.testing import CliRunner

from pneumo_tui.app import PneumoApp
from pneumo_tui.cli import app as cli
from pneumo_tui.widgets.progress import ProgressPanel
from pneumo_tui.widgets.run_table import run_detail
from training.run.schema import check_event
from training.run.state import list_runs

torch = pytest.importorskip("torch", reason="the monitor reads torch.cuda")

FIXTURES = Path(__file__).parent / "fixtures" / "recorded_runs"
RUN = "20260101-000000-cnn3"
GIB = 2**30
H200 = "cuda:0 (NVIDIA H200)"


class FakeNvml:
    """pynvml's three calls the monitor makes, with a utilisation that rises by 10% a reading."""

    def __init__(self):
        self.readings = iter([70.0, 80.0, 90.0, 95.0])
        self.asked_for = None

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.asked_for = uuid
        return "handle"

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=next(self.readings))


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's memory readings: peaks of 12 and 14 GiB of 141, reset after each epoch."""
    peaks = {"allocated": 12 * GIB, "reserved": 14 * GIB}
    resets = []
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: peaks["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda device=None: peaks["reserved"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: resets.append(device))
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: SimpleNamespace(total_memory=141 * GIB, uuid="1234-abcd"))
    return resets


def test_the_epoch_fields_of_a_cuda_device(fake_cuda, monkeypatch):
    import training.engine.gpu_monitor as gpu_monitor

    monkeypatch.setattr(gpu_monitor, "SAMPLE_INTERVAL_S", 0.0)  # every step reads NVML
    nvml = FakeNvml()
    monitor = gpu_monitor.GpuMonitor(torch.device("cuda", 0), nvml=nvml)
    monitor.sample()
    monitor.sample()
    fields = monitor.epoch_fields()
    assert fields == {"gpu_memory_allocated": 12 * GIB, "gpu_memory_reserved": 14 * GIB,
                      "gpu_memory_total": 141 * GIB, "gpu_utilization": 75.0}
    assert nvml.asked_for == "GPU-1234-abcd"  # by UUID: CUDA_VISIBLE_DEVICES does not renumber it
    assert len(fake_cuda) == 2  # the peaks reset at the start and after the epoch: each epoch has its own
    assert check_event({"event": "epoch", "time": 1.0, "epoch": 1, **fields}) is None
    assert monitor.epoch_fields()["gpu_utilization"] == 90.0  # a short epoch without samples: one reading


def test_without_nvidia_ml_py_memory_only_and_off_cuda_nothing(fake_cuda, monkeypatch):
    import builtins

    from training.engine.gpu_monitor import GpuMonitor

    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError("No module named 'pynvml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    monitor = GpuMonitor(torch.device("cuda", 0))
    monitor.sample()
    assert set(monitor.epoch_fields()) == {"gpu_memory_allocated", "gpu_memory_reserved", "gpu_memory_total"}
    cpu = GpuMonitor(torch.device("cpu"))
    cpu.sample()
    assert cpu.epoch_fields() == {}


def test_a_cpu_training_writes_no_gpu_fields(tmp_path):
    from engine_helpers import square_data

    from training.engine.recipes import load_recipe
    from training.engine.trainer import train
    from training.run.events import read_events
    from training.run.paths import RunPaths

    run = train(load_recipe("baseline", ["epochs=1", "image_size=32", "batch_size=8"]), square_data(),
                tmp_path / "runs", device="cpu")
    epochs = [e for e in read_events(RunPaths(run).events) if e["event"] == "epoch"]
    assert epochs and not any(k.startswith("gpu_") for e in epochs for k in e)


@pytest.fixture
def gpu_run(tmp_path):
    """The recorded cnn3 run as if trained on an H200: its run_started device and GPU figures in its epochs."""
    run = tmp_path / "runs" / RUN
    shutil.copytree(FIXTURES / RUN, run)
    events = []
    for line in (run / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "run_started":
            e["device"] = H200
        if e["event"] == "epoch":
            e.update(gpu_memory_allocated=(10 + e["epoch"]) * GIB, gpu_memory_reserved=16 * GIB,
                     gpu_memory_total=141 * GIB, gpu_utilization=80.0 + e["epoch"])
        events.append(json.dumps(e))
    (run / "events.jsonl").write_text("\n".join(events) + "\n")
    config = json.loads((run / "config.json").read_text())
    config["device"] = H200
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_the_train_screen_shows_the_latest_epochs_gpu_figures(gpu_run):
    from training.run.state import read_run

    table = ProgressPanel.render_progress(read_run(gpu_run), read_run(gpu_run).progress())
    rows = {str(row[0]) + ":" + str(row[1]) for row in zip(*(c._cells for c in table.columns), strict=True)}
    assert {"device:" + H200, "gpu mem:14.0 / 141.0 GiB peak", ":reserved 16.0 GiB", "gpu use:84% (epoch 4)"} <= rows


async def test_the_train_screen_attached_to_a_gpu_run(gpu_run):
    app = PneumoApp(runs_dir=gpu_run.parent, attach=gpu_run, welcome=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "14.0 / 141.0 GiB peak" in text and "84% (epoch 4)" in text
        assert app.train_view.device.value == "cuda:0"  # the form clones the run's device


def test_runs_json_and_the_runs_detail_say_the_device(gpu_run):
    result = CliRunner().invoke(cli, ["runs", "--runs", str(gpu_run.parent), "--json"])
    assert result.exit_code == 0, result.output
    assert [r["device"] for r in json.loads(result.output)] == [H200]
    (summary,) = list_runs(gpu_run.parent)
    assert f"cnn3 on {H200}" in run_detail(summary).plain
