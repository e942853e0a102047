"""Checkpoints are written atomically and loaded as data only: a pickle that runs code is refused."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_helpers import square_data

from training.engine.checkpoint import (
    CheckpointError,
    CheckpointRefused,
    load_checkpoint,
    load_model_from_run,
    save_checkpoint,
)
from training.engine.recipes import load_recipe
from training.engine.trainer import train
from training.run.paths import RunPaths

PNEUMO = str(Path(sys.executable).with_name("pneumo"))


class RunsCode:
    """Unpickling this calls Path.touch(marker): proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_roundtrip_leaves_no_temp_files(tmp_path):
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "epoch": 3})
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["model"]["w"], torch.ones(2)) and loaded["format"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_a_checkpoint_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "best.pt"
    torch.save({"model": {}, "payload": RunsCode(marker)}, evil)
    with pytest.raises(CheckpointRefused, match="refused to load .*best.pt.*run code") as refused:
        load_checkpoint(evil)
    assert not marker.exists()
    # In our words: nothing of torch's advice to re-run torch.load with weights_only=False.
    message = str(refused.value)
    assert "weights_only" not in message and "torch.load" not in message and "\n" not in message
    assert "a Python object (" in message and "will not open it" in message


def test_random_bytes_and_folders_are_not_called_pickled_objects(tmp_path):
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint") as info:
        load_checkpoint(noise)
    assert not isinstance(info.value, CheckpointRefused)
    (tmp_path / "folder.pt").mkdir()
    with pytest.raises(CheckpointError, match="a folder is there"):
        load_checkpoint(tmp_path / "folder.pt")


def test_cli_refuses_a_poisoned_run_with_one_line(tmp_path):
    run = train(load_recipe("cnn3", ["epochs=1", "image_size=32", "batch_size=8"]), square_data(), tmp_path / "runs")
    marker = tmp_path / "code-ran"
    torch.save({"model": RunsCode(marker)}, RunPaths(run).best_checkpoint)
    with pytest.raises(CheckpointError, match="is not the file its run wrote"):
        load_model_from_run(run)
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (40, 40)).save(image)
    result = subprocess.run([PNEUMO, "predict", str(run), str(image)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    # Replaced after the run recorded its checksum: refused before a byte of it is unpickled.
    assert result.stderr.startswith("error: ") and "is not the file its run wrote" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_missing_or_truncated_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "none.pt")
    path = tmp_path / "half.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(1000)}})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train(load_recipe("cnn3", ["epochs=1", "image_size=32", "batch_size=8"]), square_data(),
                 tmp_path_factory.mktemp("runs"))


def _unchecked(run: Path, which: str, obj) -> None:
    """Put ``obj`` where the run's checkpoint is, and forget the checksum so the structure check is what fires."""
    torch.save(obj, RunPaths(run).checkpoint(which))
    events = RunPaths(run).events
    events.write_text("".join(line for line in events.read_text().splitlines(keepends=True) if '"sha256"' not in line))


@pytest.mark.parametrize("content, words", [
    ({"weights": {}}, "it lacks model"),
    ([1, 2, 3], "holds a list, not a checkpoint"),
    ({"model": {"conv1.weight": torch.zeros(3)}}, "its weights do not fit model cnn3 at 32 px"),
    ({"model": "not weights"}, "its 'model' is not a state dict of tensors"),
])
def test_a_checkpoint_of_the_wrong_structure_is_one_clear_error(tiny_run, tmp_path, content, words):
    # A dict without the expected keys, a list, tensors of the wrong shape gave KeyError/TypeError/size-mismatch
    # tracebacks in predict, --resume and eval.
    import shutil

    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    _unchecked(run, "best", content)
    with pytest.raises(CheckpointError, match=words):
        load_model_from_run(run)


def test_a_checkpoint_that_changed_after_it_was_written_is_found_not_loaded(tiny_run, tmp_path):
    import shutil

    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    best = RunPaths(run).best_checkpoint
    assert load_model_from_run(run)  # the recorded checksum matches what was written
    data = bytearray(best.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle: bit rot
    best.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is not the file its run wrote"):
        load_model_from_run(run)


def test_resume_from_a_last_checkpoint_of_another_shape_is_one_clear_error(tiny_run, tmp_path):
    import shutil

    from training.engine.trainer import resume_run

    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    events = RunPaths(run).events
    lines = [line for line in events.read_text().splitlines(keepends=True) if '"run_finished"' not in line]
    events.write_text("".join(lines))  # as if it had been stopped
    _unchecked(run, "last", {"model": {}, "epoch": 1})
    with pytest.raises(CheckpointError, match="is not a checkpoint pneumo train wrote: it lacks optimizer"):
        resume_run(run, data=square_data())
