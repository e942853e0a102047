import os
from collections import Counter

import numpy as np
import pytest
from conftest import SHARED_DATA, make_kermany_tree, needs_shared_data, write_dicom

from training.data.patients import parse_name
from training.data.records import DataError, UnreadableImage
from training.data.sources import open_source
from training.data.stats import compute_stats


@pytest.mark.parametrize(
    "name, expected",
    [
        ("person1_bacteria_1.jpeg", ("person1", "bacteria")),
        ("person1619_virus_2811.jpeg", ("person1619", "virus")),
        ("person447_virus_921_1.jpeg", ("person447", "virus")),
        ("IM-0115-0001.jpeg", ("IM-0115", None)),
        ("IM-0011-0001-0002.jpeg", ("IM-0011", None)),
        ("NORMAL2-IM-0374-0001.jpeg", ("NORMAL2-IM-0374", None)),
        ("NORMAL2-IM-0173-0001-0002.jpeg", ("NORMAL2-IM-0173", None)),
        ("scan.png", (None, None)),
    ],
)
def test_patient_ids_from_names(name, expected):
    assert parse_name(name) == expected


def test_kermany_root(kermany_tree):
    source = open_source(kermany_tree)
    records = source.records()
    counts = Counter((r.split, r.class_name) for r in records)
    assert counts == {("train", "NORMAL"): 6, ("train", "PNEUMONIA"): 6, ("val", "NORMAL"): 1,
                      ("val", "PNEUMONIA"): 1, ("test", "NORMAL"): 2, ("test", "PNEUMONIA"): 2}
    assert source.problems == [] and not source.synthetic and source.kind == "folder"
    by_id = {r.id: r for r in records}
    r = by_id["train/PNEUMONIA/person2_virus_3.jpeg"]
    assert (r.label, r.subtype, r.patient) == (1, "virus", "person2")
    assert by_id["train/NORMAL/IM-0001-0002.jpeg"].patient == "IM-0001"
    assert by_id["train/NORMAL/IM-0001-0002.jpeg"].subtype is None
    image = source.load(r)
    assert image.dtype == np.uint8 and image.shape == (40, 48)


def test_root_holding_chest_xray_and_nested_zip_layout(tmp_path):
    make_kermany_tree(tmp_path / "dl" / "chest_xray" / "chest_xray")
    (tmp_path / "dl" / "__MACOSX").mkdir()
    source = open_source(tmp_path / "dl")
    assert source.root == tmp_path / "dl" / "chest_xray" / "chest_xray"
    assert len(source.records()) == 18 and source.problems == []


def test_single_split_folder(kermany_tree):
    source = open_source(kermany_tree / "test")
    assert {r.split for r in source.records()} == {"test"} and len(source.records()) == 4
    (kermany_tree / "test").rename(kermany_tree / "mine")
    assert {r.split for r in open_source(kermany_tree / "mine").records()} == {"train"}


def test_names_and_extensions_are_case_insensitive(tmp_path):
    make_kermany_tree(tmp_path, {"Train/normal": ["IM-0001-0001.JPG", "IM-0002-0001.Jpeg"],
                                 "TEST/Pneumonia": ["person1_virus_1.PNG"]})
    records = open_source(tmp_path).records()
    assert sorted((r.split, r.label) for r in records) == [("test", 1), ("train", 0), ("train", 0)]
    assert records[0].id == "test/PNEUMONIA/person1_virus_1.PNG"  # split and class as the engine spells them
    assert records[0].path.parts[-3:] == ("TEST", "Pneumonia", "person1_virus_1.PNG")  # the path as on disk


def test_an_image_has_one_id_whichever_folder_was_passed(kermany_tree):
    # A run on a Kermany root and one with --test-data ROOT/test used to store test/NORMAL/x and NORMAL/x.
    from_root = {r.id for r in open_source(kermany_tree).records() if r.split == "test"}
    from_split = {r.id for r in open_source(kermany_tree / "test").records()}
    assert from_root == from_split and all(i.startswith("test/") for i in from_split)
    (kermany_tree / "test").rename(kermany_tree / "site")  # a folder not named like a split: no split part
    assert {r.id for r in open_source(kermany_tree / "site").records()} == {i[len("test/"):] for i in from_split}


def test_odd_entries_become_problems_not_errors(tmp_path):
    make_kermany_tree(tmp_path, {"train/NORMAL": ["IM-0001-0001.jpeg"], "train/PNEUMONIA": ["person1_virus_1.jpeg"],
                                 "train/COVID": ["x.jpeg"]})
    (tmp_path / "val").mkdir()
    (tmp_path / "train" / "NORMAL" / "notes.txt").write_text("hi")
    (tmp_path / "train" / "NORMAL" / ".DS_Store").write_text("hidden")
    (tmp_path / "train" / "NORMAL" / "dir.jpeg").mkdir()
    os.symlink(tmp_path / "train", tmp_path / "train" / "PNEUMONIA" / "loop")
    os.symlink(tmp_path / "train" / "PNEUMONIA", tmp_path / "train" / "PNEUMONIA" / "self")
    os.symlink(tmp_path / "nowhere.jpeg", tmp_path / "train" / "PNEUMONIA" / "gone.jpeg")
    source = open_source(tmp_path)
    problems = {p.path: p.reason for p in source.problems}
    assert "unknown class folder" in problems["train/COVID"]
    assert "empty split" in problems["val"] and "val/NORMAL" not in problems
    assert "not an image" in problems["train/NORMAL/notes.txt"]
    assert "a directory" in problems["train/NORMAL/dir.jpeg"]
    assert any("symlink loop" in reason for reason in problems.values())
    ids = {r.id for r in source.records()}
    assert "train/PNEUMONIA/gone.jpeg" in ids  # listed; loading says why it fails
    gone = next(r for r in source.records() if r.id == "train/PNEUMONIA/gone.jpeg")
    with pytest.raises(UnreadableImage, match="broken symlink"):
        source.load(gone)


def test_split_missing_a_class_folder_is_reported(tmp_path):
    make_kermany_tree(tmp_path, {"train/NORMAL": ["IM-0001-0001.jpeg"], "train/PNEUMONIA": ["person1_virus_1.jpeg"],
                                 "val/NORMAL": ["IM-0002-0001.jpeg"]})
    source = open_source(tmp_path)
    assert [(p.path, p.reason) for p in source.problems] == [("val", "no PNEUMONIA folder")]
    assert len(source.records()) == 3


def test_followed_symlinked_folder_is_listed_once(tmp_path):
    make_kermany_tree(tmp_path / "real", {"NORMAL": ["IM-0001-0001.jpeg"], "PNEUMONIA": ["person1_virus_1.jpeg"]})
    (tmp_path / "data" / "train").mkdir(parents=True)
    os.symlink(tmp_path / "real" / "NORMAL", tmp_path / "data" / "train" / "NORMAL")
    os.symlink(tmp_path / "real" / "PNEUMONIA", tmp_path / "data" / "train" / "PNEUMONIA")
    assert len(open_source(tmp_path / "data").records()) == 2


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir(), lambda p: p.write_text("x")])
def test_missing_or_unknown_path_is_a_one_line_data_error(tmp_path, make):
    path = tmp_path / "thing"
    make(path)
    with pytest.raises(DataError) as info:
        open_source(path)
    assert "\n" not in str(info.value) and "thing" in str(info.value)


def test_demo_is_synthetic(demo_root):
    source = open_source(demo_root)
    assert source.synthetic and source.problems == []
    assert open_source(demo_root / "train").synthetic


def _write_npz(path, side=28, n=(6, 2, 4)):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, side, side), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(count) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)
    return arrays


@pytest.mark.parametrize("side", [28, 64])
def test_npz_source(tmp_path, side):
    arrays = _write_npz(tmp_path / "pneumoniamnist.npz", side)
    source = open_source(tmp_path / "pneumoniamnist.npz")
    records = source.records()
    assert source.kind == "npz" and len(records) == 12
    r = records[7]
    assert (r.id, r.split, r.index, r.label, r.patient) == ("val/1", "val", 1, 1, None)
    assert np.array_equal(source.load(r), arrays["val_images"][1])


def test_npz_without_images_is_a_data_error(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="train_images"):
        open_source(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match="cannot read"):
        open_source(tmp_path / "broken.npz")


def test_dicom_in_folder_layout(tmp_path):
    pytest.importorskip("pydicom")
    folder = tmp_path / "train" / "NORMAL"
    folder.mkdir(parents=True)
    (tmp_path / "train" / "PNEUMONIA").mkdir()
    write_dicom(folder / "a.dcm", "MONOCHROME2")
    write_dicom(folder / "b.dcm", "MONOCHROME1")
    write_dicom(folder / "c.DCM", "MONOCHROME2", window=(1000, 1000))
    source = open_source(tmp_path)
    images = {r.path.name: source.load(r) for r in source.records()}
    a, b, c = images["a.dcm"], images["b.dcm"], images["c.DCM"]
    assert a.shape == (8, 16) and a[0, 0] == 0 and a[0, -1] == 255
    assert np.array_equal(b, 255 - a)  # MONOCHROME1: high values are dark
    # Window 500..1500: everything at or above 1500 is white, at or below 500 black.
    assert c[0, 0] == 0 and c[0, 2] == 0 and c[0, 6] == 255 and 0 < c[0, 4] < 255


def test_pydicom_sample_file_decodes(tmp_path):
    pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    sample = get_testdata_file("CT_small.dcm")  # ships with pydicom; a real scanner file
    (tmp_path / "NORMAL").mkdir()
    (tmp_path / "NORMAL" / "ct.dcm").write_bytes(open(sample, "rb").read())
    source = open_source(tmp_path)
    image = source.load(source.records()[0])
    assert image.shape == (128, 128) and image.dtype == np.uint8 and image.min() == 0 and image.max() == 255


@needs_shared_data
def test_shared_chest_xray_listing():
    source = open_source(SHARED_DATA / "chest_xray")
    counts = Counter((r.split, r.class_name) for r in source.records())
    assert counts == {("test", "NORMAL"): 234, ("test", "PNEUMONIA"): 390, ("val", "NORMAL"): 8,
                      ("val", "PNEUMONIA"): 8, ("train", "NORMAL"): 84, ("train", "PNEUMONIA"): 168}
    assert all(r.patient for r in source.records()) and source.problems == []


def test_a_symlinked_folder_in_a_class_folder_never_relabels_images(tmp_path):
    # A link to train/ inside train/NORMAL/ used to make every film NORMAL (and call the real PNEUMONIA folder a
    # loop); a link inside PNEUMONIA/ to a folder of NORMAL films added them to PNEUMONIA without a word.
    make_kermany_tree(tmp_path / "data", {"train/NORMAL": ["IM-0001-0001.jpeg", "IM-0002-0001.jpeg"],
                                          "train/PNEUMONIA": ["person1_virus_1.jpeg", "person2_bacteria_2.jpeg"]})
    make_kermany_tree(tmp_path / "elsewhere", {"NORMAL": ["IM-0100-0001.jpeg", "IM-0101-0001.jpeg"]})
    train = tmp_path / "data" / "train"
    os.symlink(train, train / "NORMAL" / "link")
    os.symlink(tmp_path / "elsewhere" / "NORMAL", train / "PNEUMONIA" / "more")
    source = open_source(tmp_path / "data")
    labels = sorted((r.id, r.label) for r in source.records())
    assert labels == [("train/NORMAL/IM-0001-0001.jpeg", 0), ("train/NORMAL/IM-0002-0001.jpeg", 0),
                      ("train/PNEUMONIA/person1_virus_1.jpeg", 1), ("train/PNEUMONIA/person2_bacteria_2.jpeg", 1)]
    problems = {p.path: p.reason for p in source.problems}
    assert "symlink loop" in problems["train/NORMAL/link"] and "not followed" in problems["train/NORMAL/link"]
    assert "symlinked folder inside a class folder" in problems["train/PNEUMONIA/more"]
    stats = compute_stats(tmp_path / "data")
    assert stats["splits"]["train"] == {"NORMAL": 2, "PNEUMONIA": 2}
