import json
import logging
import os
import shutil

import numpy as np
import pytest
from conftest import (
    SHARED_DATA,
    bomb_png,
    gray_image,
    make_kermany_tree,
    needs_shared_data,
    truncated_jpeg,
    write_dicom,
)

import training.data.stats as stats_module
from training.data.cache import cached_images
from training.data.records import DataError
from training.data.sources import open_source
from training.data.stats import compute_stats


def test_counts_patients_sizes_modes(kermany_tree):
    gray_image(60, 30).convert("RGB").save(kermany_tree / "train" / "PNEUMONIA" / "person9_virus_9.jpeg")
    s = compute_stats(kermany_tree)
    assert s["splits"] == {"train": {"NORMAL": 6, "PNEUMONIA": 7}, "val": {"NORMAL": 1, "PNEUMONIA": 1},
                           "test": {"NORMAL": 2, "PNEUMONIA": 2}}
    assert s["subtypes"]["train"] == {"bacteria": 4, "virus": 3, "unknown": 0}
    assert s["patients"]["train"]["patients"] == 11  # IM-0001 and person1 have two images each
    assert s["patients"]["train"]["images_per_patient"]["max"] == 2
    assert s["patients"]["train"]["id_ranges"] == {"IM-": [1, 5], "NORMAL2-IM-": [3, 3], "person": [1, 9]}
    assert s["patients"]["test"]["id_ranges"] == {"IM-": [20, 21], "person": [20, 21]}
    assert s["modes"]["all"] == {"L": 18, "RGB": 1}
    assert s["modes"]["by_split"]["train"]["PNEUMONIA"] == {"L": 6, "RGB": 1}
    assert s["sizes"]["width"]["min"] == 48 and s["sizes"]["width"]["max"] == 60
    assert sum(s["sizes"]["aspect"]["histogram"]["counts"]) == 19
    assert s["sizes"]["by_split"]["train"]["PNEUMONIA"]["height"]["min"] == 30
    assert set(s["intensity"]) == {"NORMAL", "PNEUMONIA"}
    assert s["total"] == s["readable"] == 19 and s["unreadable"] == [] and s["synthetic"] is False
    json.dumps(s)  # JSON-able as is


def test_cross_split_patients_and_duplicates(kermany_tree):
    tree = kermany_tree
    shutil.copy(tree / "train/NORMAL/IM-0002-0001.jpeg", tree / "test/NORMAL/IM-0002-0005.jpeg")  # leak + dup
    shutil.copy(tree / "train/PNEUMONIA/person3_bacteria_4.jpeg", tree / "train/PNEUMONIA/person7_bacteria_8.jpeg")
    shutil.copy(tree / "train/PNEUMONIA/person5_bacteria_6.jpeg", tree / "test/NORMAL/IM-0030-0001.jpeg")
    s = compute_stats(tree)
    assert s["cross_split_patients"]["count"] == 1
    assert s["cross_split_patients"]["patients"][0] == {"patient": "IM-0002", "splits": {"test": 1, "train": 1}}
    d = s["duplicates"]
    assert (d["within_split"], d["across_splits"], d["conflicting_labels"], d["extra_files"]) == (1, 2, 1, 3)
    paths = sorted(tuple(g["paths"]) for g in d["groups"])
    assert ("test/NORMAL/IM-0002-0005.jpeg", "train/NORMAL/IM-0002-0001.jpeg") in paths


def test_warm_stats_read_no_file_and_changed_files_are_reread(kermany_tree, monkeypatch):
    cold = compute_stats(kermany_tree)
    read = []
    real = stats_module._file_facts
    monkeypatch.setattr(stats_module, "_file_facts", lambda src, r: read.append(r.id) or real(src, r))
    assert compute_stats(kermany_tree) == cold and read == []
    changed = kermany_tree / "test/NORMAL/IM-0020-0001.jpeg"
    gray_image(20, 10).save(changed)
    os.utime(changed, ns=(5, 5))
    warm = compute_stats(kermany_tree)
    assert read == ["test/NORMAL/IM-0020-0001.jpeg"]
    assert warm["sizes"]["width"]["min"] == 20


def test_npz_stats(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    images[5] = images[0]
    np.savez(tmp_path / "p.npz", train_images=images[:4], train_labels=np.array([[0], [1], [1], [1]]),
             test_images=images[4:], test_labels=np.array([[0], [1]]))
    s = compute_stats(tmp_path / "p.npz")
    assert s["splits"] == {"train": {"NORMAL": 1, "PNEUMONIA": 3}, "test": {"NORMAL": 1, "PNEUMONIA": 1}}
    assert s["duplicates"]["across_splits"] == 1 and s["modes"]["all"] == {"L": 6}
    assert s["source"]["kind"] == "npz" and s["patients"]["train"]["without_id"] == 4


def test_dicom_stats(tmp_path):
    pytest.importorskip("pydicom")
    for cls in ("NORMAL", "PNEUMONIA"):
        (tmp_path / "test" / cls).mkdir(parents=True)
    write_dicom(tmp_path / "test" / "NORMAL" / "IM-0001-0001.dcm")
    write_dicom(tmp_path / "test" / "PNEUMONIA" / "person1_virus_1.dcm", "MONOCHROME1")
    (tmp_path / "test" / "PNEUMONIA" / "person2_virus_2.dcm").write_bytes(b"DICM? no")
    s = compute_stats(tmp_path)
    assert s["splits"] == {"test": {"NORMAL": 1, "PNEUMONIA": 2}}
    assert s["modes"]["all"] == {"DICOM": 2} and s["sizes"]["width"]["max"] == 16
    assert [u["path"] for u in s["unreadable"]] == ["test/PNEUMONIA/person2_virus_2.dcm"]
    assert "DICOM" in s["unreadable"][0]["reason"]


def test_missing_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        compute_stats(tmp_path / "nothing")


def make_bad_folder(root):
    """Every kind of bad input the issue names, beside a few good images."""
    make_kermany_tree(root, {"train/NORMAL": ["IM-0001-0001.jpeg", "IM-0002-0001.jpeg"],
                             "train/PNEUMONIA": ["person1_virus_1.jpeg", "person2_bacteria_2.jpeg"],
                             "test/NORMAL": ["IM-0003-0001.jpeg"], "test/PNEUMONIA": ["person3_virus_3.jpeg"]})
    normal, pneumonia = root / "train" / "NORMAL", root / "train" / "PNEUMONIA"
    truncated_jpeg(normal / "IM-0100-0001.jpeg")
    (normal / "IM-0101-0001.jpeg").write_bytes(b"")
    (pneumonia / "person100_virus_100.jpeg").write_text("this is a text file, not a JPEG\n")
    bomb_png(pneumonia / "person101_bacteria_101.png")
    (root / "train" / "COVID").mkdir()
    gray_image().save(root / "train" / "COVID" / "x.jpeg")
    (root / "val" / "NORMAL").mkdir(parents=True)
    (root / "val" / "PNEUMONIA").mkdir()
    locked = normal / "IM-0102-0001.jpeg"
    gray_image().save(locked)
    os.chmod(locked, 0)
    (normal / "IM-0103-0001.jpeg").mkdir()  # a folder where a file should be
    os.symlink(root / "missing.jpeg", pneumonia / "person102_virus_102.jpeg")
    os.symlink(normal, normal / "loop")
    os.symlink(pneumonia / "person103_virus_103.jpeg", pneumonia / "person103_virus_103.jpeg")
    return root


EXPECTED_UNREADABLE = {
    "train/NORMAL/IM-0100-0001.jpeg": "truncated",
    "train/NORMAL/IM-0101-0001.jpeg": "empty",
    "train/PNEUMONIA/person100_virus_100.jpeg": "not an image",
    "train/PNEUMONIA/person101_bacteria_101.png": "decompression bomb",
    "train/PNEUMONIA/person102_virus_102.jpeg": "broken symlink",
    "train/PNEUMONIA/person103_virus_103.jpeg": "symlink loop",
}
EXPECTED_PROBLEMS = {
    "train/COVID": "unknown class folder",
    "val": "empty split",
    "train/NORMAL/IM-0103-0001.jpeg": "a directory",
    "train/NORMAL/loop": "symlink loop",
}


def test_bad_inputs_are_reported_and_skipped(tmp_path, caplog):
    root = make_bad_folder(tmp_path / "bad")
    locked = "train/NORMAL/IM-0102-0001.jpeg"
    try:
        s = compute_stats(root)
        unreadable = {u["path"]: u["reason"] for u in s["unreadable"]}
        problems = {p["path"]: p["reason"] for p in s["problems"]}
        for path, reason in EXPECTED_UNREADABLE.items():
            assert reason in unreadable.get(path, ""), (path, unreadable)
        for path, reason in EXPECTED_PROBLEMS.items():
            assert reason in problems.get(path, ""), (path, problems)
        if os.geteuid() != 0:  # root reads a chmod 000 file anyway
            assert "permission denied" in unreadable[locked]
        assert s["splits"]["train"] == {"NORMAL": 5, "PNEUMONIA": 6}

        caplog.clear()
        with caplog.at_level(logging.WARNING):
            source = open_source(root)
            records = [r for r in source.records() if r.split == "train"]
            out = cached_images(source, records, size=16)
        skipped = {p.path for p in out.skipped}
        assert skipped == set(EXPECTED_UNREADABLE) | (set() if os.geteuid() == 0 else {locked})
        assert len(out.records) == len(out.images) == len(records) - len(skipped)
        lines = [r.getMessage() for r in caplog.records]
        assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
        for path in list(EXPECTED_UNREADABLE) + list(EXPECTED_PROBLEMS):
            assert sum(path in line for line in lines) == 1, (path, lines)
    finally:
        os.chmod(root / locked, 0o644)


@needs_shared_data
def test_shared_chest_xray_acceptance():
    s = compute_stats(SHARED_DATA / "chest_xray")
    assert s["splits"] == {"train": {"NORMAL": 84, "PNEUMONIA": 168}, "val": {"NORMAL": 8, "PNEUMONIA": 8},
                           "test": {"NORMAL": 234, "PNEUMONIA": 390}}
    assert s["modes"]["by_split"]["train"]["PNEUMONIA"]["RGB"] == 10
    assert s["subtypes"]["test"] == {"bacteria": 242, "virus": 148, "unknown": 0}
    assert s["unreadable"] == [] and s["problems"] == []
    # The official test split is the head of each patient numbering series.
    assert s["patients"]["test"]["id_ranges"] == {"IM-": [1, 111], "NORMAL2-IM-": [7, 381], "person": [1, 1685]}


@needs_shared_data
def test_shared_chest_xray_224_acceptance():
    s = compute_stats(SHARED_DATA / "chest_xray_224")
    assert s["splits"] == {"train": {"NORMAL": 1341, "PNEUMONIA": 3875}, "test": {"NORMAL": 234, "PNEUMONIA": 390}}
    assert s["subtypes"]["train"] == {"bacteria": 2530, "virus": 1345, "unknown": 0}
    assert s["sizes"]["width"]["min"] == s["sizes"]["width"]["max"] == 224


@needs_shared_data
def test_shared_pneumoniamnist_acceptance():
    s = compute_stats(SHARED_DATA / "pneumoniamnist.npz")
    assert s["splits"] == {"train": {"NORMAL": 1214, "PNEUMONIA": 3494}, "val": {"NORMAL": 135, "PNEUMONIA": 389},
                           "test": {"NORMAL": 234, "PNEUMONIA": 390}}
    assert s["sizes"]["width"]["max"] == 28
