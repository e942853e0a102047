import logging
import os

import numpy as np
import pytest
from conftest import gray_image, truncated_jpeg

from training.data.cache import cache_dir_for, cached_images
from training.data.decode import resize
from training.data.sources import open_source


def _counting(source):
    """Wrap source.load to record which ids get decoded."""
    calls = []
    original = source.load

    def load(record, draft=None):
        calls.append(record.id)
        return original(record, draft=draft)

    source.load = load
    return calls


def test_cold_build_then_warm_memmap(kermany_tree):
    source = open_source(kermany_tree)
    records = source.records()
    calls = _counting(source)
    seen = []
    cold = cached_images(source, records, size=16, progress=lambda d, t: seen.append((d, t)))
    assert sorted(calls) == sorted(r.id for r in records)
    assert cold.images.shape == (len(records), 16, 16) and cold.images.dtype == np.uint8
    assert seen[-1] == (len(records), len(records))
    for record, image in zip(cold.records, cold.images, strict=True):
        assert np.array_equal(image, resize(source.load(record, draft=16), 16))
    calls.clear()
    warm = cached_images(source, records, size=16)
    assert calls == [] and isinstance(warm.images, np.memmap)
    assert [r.id for r in warm.records] == [r.id for r in records]
    assert np.array_equal(np.asarray(warm.images), np.asarray(cold.images))


def test_only_changed_or_added_files_are_decoded(kermany_tree):
    source = open_source(kermany_tree)
    records = source.records()
    cached_images(source, records, size=16)
    changed = records[3]
    gray_image(30, 30, value=255).save(changed.path)
    os.utime(changed.path, ns=(1, 1))  # a different mtime, whatever the clock does
    gray_image(30, 30, value=7).save(kermany_tree / "train" / "NORMAL" / "IM-0099-0001.jpeg")
    source = open_source(kermany_tree)
    calls = _counting(source)
    out = cached_images(source, source.records(), size=16)
    assert sorted(calls) == sorted([changed.id, "train/NORMAL/IM-0099-0001.jpeg"])
    by_id = dict(zip([r.id for r in out.records], out.images, strict=True))
    assert by_id[changed.id].min() > 240 and by_id["train/NORMAL/IM-0099-0001.jpeg"].max() < 20
    calls.clear()
    again = cached_images(source, source.records(), size=16)
    assert calls == [] and isinstance(again.images, np.memmap)
    # Superseded shards are deleted: one shard holds this request.
    folder = next(cache_dir_for(source.root).glob("images-*-16-squash"))
    assert len(list(folder.glob("shard-*.npy"))) == 1


def test_other_size_or_fit_builds_separately(kermany_tree):
    source = open_source(kermany_tree)
    records = source.records()
    a = cached_images(source, records, size=16)
    b = cached_images(source, records, size=24, fit="letterbox")
    assert a.images.shape[1:] == (16, 16) and b.images.shape[1:] == (24, 24)
    calls = _counting(source)
    cached_images(source, records, size=16)
    cached_images(source, records, size=24, fit="letterbox")
    assert calls == []
    with pytest.raises(ValueError):
        cached_images(source, records, fit="crop")


def test_subsets_reuse_cached_rows(kermany_tree):
    source = open_source(kermany_tree)
    records = source.records()
    full = cached_images(source, records, size=16)
    calls = _counting(source)
    subset = records[::3]
    part = cached_images(source, subset, size=16)
    assert calls == []
    assert np.array_equal(np.asarray(part.images), np.asarray(full.images)[::3])
    assert len(cached_images(source, [], size=16).images) == 0


def test_unreadable_images_are_skipped_once_with_a_warning(kermany_tree, caplog):
    bad = truncated_jpeg(kermany_tree / "train" / "NORMAL" / "IM-0050-0001.jpeg")
    (kermany_tree / "train" / "NORMAL" / "IM-0051-0001.jpeg").write_bytes(b"")
    source = open_source(kermany_tree)
    records = source.records()
    with caplog.at_level(logging.WARNING, logger="training.data.cache"):
        out = cached_images(source, records, size=16)
    assert len(out.records) == len(records) - 2 == len(out.images)
    reasons = {p.path: p.reason for p in out.skipped}
    assert "truncated" in reasons["train/NORMAL/IM-0050-0001.jpeg"]
    assert "empty" in reasons["train/NORMAL/IM-0051-0001.jpeg"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("\n" not in line and "skipping" in line for line in lines)
    assert bad.exists()  # never touches the data
    calls = _counting(source)
    again = cached_images(source, records, size=16)
    assert calls == [] and len(again.skipped) == 2 and isinstance(again.images, np.memmap)


def test_killed_build_leaves_the_cache_usable(kermany_tree):
    source = open_source(kermany_tree)
    records = source.records()
    before = np.array(cached_images(source, records[:5], size=16).images)
    original = source.load

    def dies(record, draft=None):
        if record.id == records[9].id:
            raise KeyboardInterrupt  # what Ctrl-C does mid-build
        return original(record, draft=draft)

    source.load = dies
    with pytest.raises(KeyboardInterrupt):
        cached_images(source, records, size=16, workers=1)
    source.load = original
    folder = next(cache_dir_for(source.root).glob("images-*-16-squash"))
    assert not list(folder.glob(".tmp-*"))
    calls = _counting(source)
    assert np.array_equal(np.asarray(cached_images(source, records[:5], size=16).images), before)
    assert calls == []
    assert len(cached_images(source, records, size=16).images) == len(records)


def test_parallel_and_serial_builds_agree(demo_root, tmp_path, monkeypatch):
    source = open_source(demo_root)
    records = source.records()
    serial = np.array(cached_images(source, records, size=32, workers=1).images)
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "other"))
    parallel = np.array(cached_images(source, records, size=32, workers=4).images)
    assert np.array_equal(serial, parallel)


def test_npz_source_is_cached(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "p.npz", train_images=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
             train_labels=np.array([[0], [1], [0], [1], [1]]))
    source = open_source(tmp_path / "p.npz")
    out = cached_images(source, source.records(), size=32)
    assert out.images.shape == (5, 32, 32)


def test_cache_location(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "base"))
    assert cache_dir_for(tmp_path / "data").parent == tmp_path / "base"
    monkeypatch.delenv("PNEUMO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "data").mkdir()
    assert cache_dir_for(tmp_path / "data") == tmp_path / "data" / ".pneumo-cache"
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)  # root ignores this, but the owner said read-only
    try:
        assert cache_dir_for(tmp_path / "ro").parent == tmp_path / "xdg" / "pneumo"
    finally:
        os.chmod(tmp_path / "ro", 0o755)


def test_only_unreadable_images_give_an_empty_split(tmp_path):
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    (tmp_path / "train" / "NORMAL" / "a.jpeg").write_bytes(b"")
    (tmp_path / "train" / "NORMAL" / "b.jpeg").write_text("text")
    source = open_source(tmp_path)
    out = cached_images(source, source.records(), size=16)
    assert out.images.shape == (0, 16, 16) and out.records == [] and len(out.skipped) == 2


def test_two_builders_at_once_agree(demo_root):
    import threading

    source = open_source(demo_root)
    records = source.records()
    results = []
    threads = [threading.Thread(target=lambda: results.append(np.array(cached_images(source, records, size=24).images)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(np.array_equal(results[0], r) for r in results[1:])


@pytest.mark.parametrize("base, why", [("/dev/null", "it is not a folder"),
                                       ("/dev/null/cache", "a part of that path is not a folder")])
def test_pneumo_cache_that_is_no_folder_is_one_line_naming_it(kermany_tree, monkeypatch, base, why):
    # PNEUMO_CACHE=/dev/null gave a NotADirectoryError traceback.
    from typer.testing import CliRunner

    from pneumo_tui.cli import app
    from training.data.records import DataError

    monkeypatch.setenv("PNEUMO_CACHE", base)
    message = f"PNEUMO_CACHE={base}: {why}; set it to a folder you can write to, or unset it"
    with pytest.raises(DataError) as info:
        cache_dir_for(kermany_tree)
    assert str(info.value) == message
    source = open_source(kermany_tree)
    with pytest.raises(DataError, match="^PNEUMO_CACHE="):
        cached_images(source, source.records(), size=16)
    result = CliRunner().invoke(app, ["stats", str(kermany_tree)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].replace("\n", "") == f"error: {message}"
