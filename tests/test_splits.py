import json
from collections import Counter, defaultdict

from conftest import SHARED_DATA, needs_shared_data

from training.data.records import Record
from training.data.sources import open_source
from training.data.splits import with_validation_split


def _records(n_patients=60, seed_split="train"):
    """Patients with 1-4 images each, both classes and both subtypes, plus an official val and a test."""
    out = []
    for p in range(n_patients):
        label = p % 2
        subtype = ("bacteria", "virus")[p % 4 // 2] if label else None
        split = "val" if p in (0, 1) else seed_split
        for k in range(1 + p % 4):
            out.append(Record(id=f"{split}/{p}-{k}", split=split, label=label, subtype=subtype, patient=f"p{p}"))
    out += [Record(id="test/x", split="test", label=0, patient="p999")]
    return out


def test_patient_grouped_stratified_and_seeded():
    records = _records()
    out = with_validation_split(records, fraction=0.2, seed=3)
    assert len(out) == len(records) and [r.id for r in out] == [r.id for r in records]
    splits_of = defaultdict(set)
    for r in out:
        splits_of[r.patient].add(r.split)
    assert all(len(s) == 1 for s in splits_of.values())  # no patient on both sides
    val = [r for r in out if r.split == "val"]
    pool = [r for r in out if r.split in ("train", "val")]
    for label in (0, 1):
        n_val = sum(r.label == label for r in val)
        n_all = sum(r.label == label for r in pool)
        assert abs(n_val - 0.2 * n_all) <= 2.5  # whole patients of 1-4 images
    assert {r.subtype for r in val if r.label == 1} == {"bacteria", "virus"}
    assert next(r for r in out if r.id == "test/x").split == "test"
    # Official val is merged: its patients are drawn like any other.
    assert with_validation_split(records, fraction=0.2, seed=3) == out
    assert with_validation_split(records, fraction=0.2, seed=4) != out


def test_keep_official_val_and_zero_fraction():
    records = _records()
    kept = with_validation_split(records, keep_official_val=True)
    assert [r.split for r in kept] == [r.split for r in records]
    merged = with_validation_split(records, fraction=0)
    assert {r.split for r in merged} == {"train", "test"}


def test_stored_assignment_is_reused(tmp_path):
    records = _records()
    first = with_validation_split(records, store=tmp_path)
    stored = list(tmp_path.glob("*.json"))
    assert len(stored) == 1
    data = json.loads(stored[0].read_text())
    assert sorted(data["val"]) == sorted(r.id for r in first if r.split == "val")
    # Edit the stored file: a later call must use it as is, not recompute.
    data["val"] = data["val"][:1]
    stored[0].write_text(json.dumps(data))
    again = with_validation_split(records, store=tmp_path)
    assert [r.id for r in again if r.split == "val"] == data["val"]
    # Different training images: the stored split no longer applies.
    changed = with_validation_split(records[:-5] + records[-1:], store=tmp_path)
    assert len([r for r in changed if r.split == "val"]) > 1


def test_images_without_patient_ids_are_their_own_group():
    records = [Record(id=f"train/{i}", split="train", label=i % 2, index=i) for i in range(100)]
    val = [r for r in with_validation_split(records) if r.split == "val"]
    assert Counter(r.label for r in val) == {0: 5, 1: 5}


@needs_shared_data
def test_shared_chest_xray_val_split_has_no_patient_leak():
    records = with_validation_split(open_source(SHARED_DATA / "chest_xray").records())
    val_patients = {r.patient for r in records if r.split == "val"}
    train_patients = {r.patient for r in records if r.split == "train"}
    assert val_patients and not val_patients & train_patients
    n_pool = sum(r.split in ("train", "val") for r in records)
    assert 0.07 * n_pool <= sum(r.split == "val" for r in records) <= 0.13 * n_pool


def _numbered_records():
    """Kermany-style patient ids: two NORMAL series and one PNEUMONIA series, 1-3 images a patient."""
    out = []
    for series, label, subtype, first in (("IM-", 0, None, 115), ("NORMAL2-IM-", 0, None, 383),
                                          ("person", 1, "bacteria", 1)):
        for n in range(first, first + 40):
            patient = f"{series}{n:04d}" if label == 0 else f"{series}{n}"
            for k in range(1 + n % 3):
                out.append(Record(id=f"train/{patient}-{k}", split="train", label=label, subtype=subtype,
                                  patient=patient))
    return out


def test_block_split_holds_out_the_lowest_numbered_patients_of_each_series(tmp_path):
    records = _numbered_records()
    out = with_validation_split(records, fraction=0.2, store=tmp_path, method="block")
    val_patients = {r.patient for r in out if r.split == "val"}
    train_patients = {r.patient for r in out if r.split == "train"}
    assert not val_patients & train_patients
    for series, first in (("IM-", 115), ("NORMAL2-IM-", 383), ("person", 1)):
        numbers = sorted(int(p[len(series):]) for p in val_patients if p.startswith(series)
                         and not (series == "IM-" and p.startswith("NORMAL2")))
        # A block at the head of the series: consecutive numbers from its first patient.
        assert numbers == list(range(first, first + len(numbers))) and numbers
        n_series = sum(r.patient.startswith(series) for r in records)
        n_val = sum(r.patient in val_patients and r.patient.startswith(series) for r in records)
        assert abs(n_val - 0.2 * n_series) <= 3
    # No randomness: the seed changes nothing; the assignment is stored in its own file and reused.
    assert with_validation_split(records, fraction=0.2, seed=7, store=tmp_path, method="block") == out
    stored = json.loads((tmp_path / "val-split-block-f0.2.json").read_text())
    assert stored["method"] == "block" and sorted(stored["val"]) == sorted(r.id for r in out if r.split == "val")
    # The random split is stored beside it, not over it.
    with_validation_split(records, fraction=0.2, store=tmp_path)
    assert (tmp_path / "val-split-f0.2-s0.json").exists()


def test_unknown_split_method_is_refused():
    import pytest

    with pytest.raises(ValueError, match="block"):
        with_validation_split(_records(), method="newest")
