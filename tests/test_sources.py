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


# -- hostile .npz files: headers are checked before anything is allocated (item 9) --------


def _npy(shape, dtype="uint8", payload=b"") -> bytes:
    """A .npy member whose header declares ``shape`` whatever the payload holds."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def _zip_members(path, members, compression=None):
    import zipfile

    with zipfile.ZipFile(path, "w", compression or zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return path


def _arrays(**arrays):
    import io

    out = {}
    for name, array in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(array), allow_pickle=True)
        out[name] = buf.getvalue()
    return out


def test_npz_header_declaring_a_trillion_images_is_refused_before_loading(tmp_path):
    # It ended in a MemoryError traceback: numpy allocated what the header declared.
    path = _zip_members(tmp_path / "forged.npz", {"train_images": _npy((10**12, 28, 28), payload=bytes(784)),
                                                 "train_labels": _npy((10**12, 1), payload=bytes(8))})
    with pytest.raises(DataError) as info:
        open_source(path)
    message = str(info.value)
    assert "train_images declares 1000000000000 x 28 x 28 uint8 (784.0 TB) but holds only 784 bytes" in message
    assert "truncated or forged" in message and "\n" not in message


def test_npz_zip_bomb_is_refused_and_a_good_split_is_kept(tmp_path):
    import tracemalloc

    # 300 x 224 x 224 zeros: 15 MB that deflate to 15 KB (the was 30000 images: 1.5 GB from 1.5 MB).
    good = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    members = _arrays(train_images=np.zeros((300, 224, 224), np.uint8), train_labels=np.zeros((300, 1), np.uint8),
                      test_images=good, test_labels=np.array([[0], [1], [0], [1]], np.uint8))
    path = _zip_members(tmp_path / "bomb.npz", members)
    tracemalloc.start()
    try:
        source = open_source(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the 15 MB array was never decompressed
    assert [r.id for r in source.records()] == ["test/0", "test/1", "test/2", "test/3"]
    [problem] = source.problems
    assert problem.path == "train_images" and "refused as a zip bomb" in problem.reason and "200:1" in problem.reason
    only_bomb = _zip_members(tmp_path / "only.npz", {k: v for k, v in members.items() if k.startswith("train")})
    with pytest.raises(DataError, match=r"only.npz: no usable images \(train_images expands .* zip bomb\)"):
        open_source(only_bomb)


def test_npz_of_the_wrong_shapes_is_reported_not_a_traceback(tmp_path):
    # A 1-D images array and 0x0 images gave tracebacks in pneumo stats; labels of another shape were
    # taken column by column.
    rng = np.random.default_rng(0)
    members = _arrays(train_images=np.zeros(5, np.uint8), train_labels=np.zeros(5, np.uint8),
                      val_images=np.zeros((4, 0, 0), np.uint8), val_labels=np.zeros((4, 1), np.uint8),
                      test_images=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
                      test_labels=np.array([0, 1, 0, 1], np.uint8))
    path = _zip_members(tmp_path / "odd.npz", members)
    stats = compute_stats(path)
    assert stats["total"] == stats["readable"] == 4
    assert {p["path"]: p["reason"] for p in stats["problems"]} == {
        "train_images": "is a 1-D array of shape (5,), not images (expected N x H x W, or N x H x W x 1 or 3)",
        "val_images": "declares empty images (0x0 pixels)",
    }
    members.update(_arrays(test_labels=np.zeros((4, 2), np.uint8)))
    with pytest.raises(DataError, match=r"test_labels has shape \(4, 2\): not one label per image \(4 images"):
        open_source(_zip_members(tmp_path / "labels.npz", members))
    members.update(_arrays(test_labels=np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match=r"test_labels has shape \(3,\): not one label per image"):
        open_source(_zip_members(tmp_path / "short.npz", members))


def test_npz_images_over_the_pixel_limit_or_pickled_are_refused(tmp_path):
    path = _zip_members(tmp_path / "big.npz", {"train_images": _npy((1, 12000, 12000)),
                                              "train_labels": _npy((1, 1))})
    with pytest.raises(DataError, match=r"bomb: declares 12000x12000 pixels per image \(limit 100000000\)"):
        open_source(path)
    pickled = _zip_members(tmp_path / "pickled.npz", _arrays(
        train_images=np.array([[[{"run": "code"}]]], dtype=object), train_labels=np.zeros((1, 1))))
    with pytest.raises(DataError, match=r"train_images holds Python objects \(pickled data is never loaded\)"):
        open_source(pickled)


def test_compressed_npz_needing_more_memory_than_is_free_is_refused(tmp_path, monkeypatch):
    from training.data.sources import npz

    members = _arrays(train_images=np.ones((64, 28, 28), np.uint8), train_labels=np.zeros((64, 1), np.uint8))
    path = _zip_members(tmp_path / "p.npz", members)
    monkeypatch.setattr(npz, "available_memory", lambda: 20_000)
    with pytest.raises(DataError, match=r"train_images needs 50.2 KB of memory to decompress, more than the "
                                        r"10.0 KB allowed \(half the memory available"):
        open_source(path)


def test_uncompressed_npz_is_memory_mapped(tmp_path):
    import zipfile

    arrays = _write_npz(tmp_path / "stored.npz", side=28)  # np.savez stores without compression
    assert {i.compress_type for i in zipfile.ZipFile(tmp_path / "stored.npz").infolist()} == {zipfile.ZIP_STORED}
    source = open_source(tmp_path / "stored.npz")
    assert isinstance(source.images("train"), np.memmap)
    record = source.records()[3]
    assert np.array_equal(source.load(record), arrays[f"{record.split}_images"][record.index])
    assert compute_stats(tmp_path / "stored.npz")["readable"] == 12
