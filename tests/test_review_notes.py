"""Review notes: saved atomically, reloaded, robust to crashes and bad files."""

import csv
import json
import os
from pathlib import Path

import pytest

from training.run.review_notes import VERDICTS, ReviewNotes


def test_notes_round_trip(tmp_path):
    notes = ReviewNotes(tmp_path)
    notes.set("test/NORMAL/a.jpeg", "label doubtful", "looks like consolidation")
    notes.set("test/PNEUMONIA/b.jpeg", "model wrong")
    notes.set("test/PNEUMONIA/b.jpeg", text="obvious opacity")  # keeps the verdict
    again = ReviewNotes(tmp_path)
    assert again.get("test/NORMAL/a.jpeg").verdict == "label doubtful"
    assert again.get("test/NORMAL/a.jpeg").text == "looks like consolidation"
    assert (again.get("test/PNEUMONIA/b.jpeg").verdict, again.get("test/PNEUMONIA/b.jpeg").text) == (
        "model wrong", "obvious opacity")
    assert again.get("unknown").verdict is None
    with pytest.raises(ValueError, match="unknown verdict"):
        again.set("x", "maybe")
    assert set(VERDICTS) == {"model wrong", "label doubtful", "unsure", "agree"}


def test_crash_between_temp_write_and_rename_keeps_old_notes(tmp_path, monkeypatch):
    notes = ReviewNotes(tmp_path)
    notes.set("case-1", "agree", "first")
    before = (tmp_path / "review.json").read_bytes()

    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        notes.set("case-2", "unsure", "second")
    monkeypatch.undo()

    assert (tmp_path / "review.json").read_bytes() == before
    # a killed process would also leave its temp file behind; it must not matter
    (tmp_path / ".review.json.zzz.tmp").write_text('{"version": 1, "notes": {"case-2": {"verd')
    reloaded = ReviewNotes(tmp_path)
    assert reloaded.problem is None
    assert reloaded.get("case-1").text == "first"
    assert "case-2" not in reloaded.notes
    reloaded.set("case-2", "unsure", "second")
    assert ReviewNotes(tmp_path).get("case-2").verdict == "unsure"


def test_unreadable_file_is_kept_aside_not_overwritten(tmp_path):
    (tmp_path / "review.json").write_text("{not json")
    notes = ReviewNotes(tmp_path)
    assert notes.problem and "unreadable" in notes.problem
    assert notes.notes == {}
    notes.set("a", "agree")
    kept = list(tmp_path.glob("review.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert ReviewNotes(tmp_path).get("a").verdict == "agree"


def test_malformed_entries_are_skipped(tmp_path):
    (tmp_path / "review.json").write_text(json.dumps({"version": 1, "notes": {
        "good": {"verdict": "agree", "note": "ok"}, "bad-verdict": {"verdict": "nope"}, "not-a-dict": 3}}))
    notes = ReviewNotes(tmp_path)
    assert list(notes.notes) == ["good"] and notes.skipped == 2 and notes.problem is None


def test_export_csv(tmp_path):
    notes = ReviewNotes(tmp_path)
    notes.set("b", "model wrong", 'says "normal", clearly not')
    cases = [{"id": "a", "path": "/x/a.jpeg", "label": 0, "probability": 0.9, "kind": "FP"},
             {"id": "b", "path": "/x/b.jpeg", "label": 1, "probability": 0.1, "kind": "FN"}]
    out = tmp_path / "out" / "notes.csv"
    assert notes.export_csv(out, cases) == 2
    rows = list(csv.DictReader(open(out, newline="")))
    assert [(r["id"], r["kind"], r["verdict"], r["note"]) for r in rows] == [
        ("a", "FP", "", ""), ("b", "FN", "model wrong", 'says "normal", clearly not')]


def test_two_reviewers_do_not_erase_each_other(tmp_path):
    first, second = ReviewNotes(tmp_path), ReviewNotes(tmp_path)  # e.g. two open apps
    first.set("a", "agree")
    second.set("b", "unsure", "check lateral")
    first.set("c", "model wrong")
    final = ReviewNotes(tmp_path)
    assert {k: n.verdict for k, n in final.notes.items()} == {"a": "agree", "b": "unsure", "c": "model wrong"}


def test_two_processes_writing_notes_lose_none(tmp_path):
    # Two writers (two app windows, or the app and pneumo review) setting notes on one run kept about half of 400.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = ("import sys; sys.path.insert(0, sys.argv[3]); from training.run.review_notes import ReviewNotes\n"
            "notes = ReviewNotes(sys.argv[1])  # loaded once, long-lived: its copy goes stale at once\n"
            "for i in range(200):\n"
            "    notes.set(f'{sys.argv[2]}/case-{i:03d}', 'unsure', f'note {i} from {sys.argv[2]}')\n")
    writers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), who, str(root)]) for who in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    notes = ReviewNotes(tmp_path)
    assert len(notes.notes) == 400 and notes.problem is None
    assert notes.get("a/case-199").text == "note 199 from a" and notes.get("b/case-000").text == "note 0 from b"


def test_every_unreadable_copy_is_kept(tmp_path):
    # A second unreadable file quarantined in the same second overwrote the first.
    path = tmp_path / "review.json"
    for garbage in ("{not json", "[1, 2"):
        path.write_text(garbage)
        ReviewNotes(tmp_path).set("x", "agree")
    kept = sorted(p.read_text() for p in tmp_path.glob("review.json.unreadable-*"))
    assert kept == ["[1, 2", "{not json"]
