import json
import os
import subprocess
import sys

from test_stats import make_bad_folder
from typer.testing import CliRunner

from pneumo_tui.cli import app

runner = CliRunner()


def test_demo_then_stats_json(tmp_path):
    result = runner.invoke(app, ["data", "demo", str(tmp_path / "demo"), "--per-class", "8", "--size", "48"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    result = runner.invoke(app, ["stats", str(tmp_path / "demo"), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["synthetic"] is True
    assert stats["splits"]["train"] == {"NORMAL": 8, "PNEUMONIA": 8}
    assert stats["subtypes"]["train"]["bacteria"] > 0 and stats["subtypes"]["train"]["virus"] > 0
    assert stats["cross_split_patients"]["count"] == 0


def test_demo_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("precious")
    result = runner.invoke(app, ["data", "demo", str(tmp_path / "mine")])
    assert result.exit_code == 1 and "not an empty folder" in result.output
    assert (tmp_path / "mine" / "keep.txt").read_text() == "precious"


def test_stats_tables_mark_synthetic(demo_root):
    result = runner.invoke(app, ["stats", str(demo_root)])
    assert result.exit_code == 0, result.output
    for text in ("SYNTHETIC", "Images per split", "Patients", "Patient numbers per id series", "Image sizes",
                 "Mean intensity"):
        assert text in result.output


def test_stats_missing_or_wrong_path_is_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    for path in (tmp_path / "missing", tmp_path / "notes.txt", tmp_path):
        result = runner.invoke(app, ["stats", str(path)])
        assert result.exit_code == 1
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output


def test_stats_reports_bad_inputs_without_traceback(tmp_path):
    root = make_bad_folder(tmp_path / "bad")
    try:
        result = runner.invoke(app, ["stats", str(root)])
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        for text in ("Unreadable files", "truncated", "decompression bomb", "unknown class folder", "symlink loop"):
            assert text in result.output
    finally:
        os.chmod(root / "train/NORMAL/IM-0102-0001.jpeg", 0o644)


def test_cli_imports_data_modules_lazily():
    code = "import sys, pneumo_tui.cli; print(sorted(m for m in sys.modules if m in " \
           "('training.data.stats', 'training.data.cache', 'training.data.download', 'training.data.demo')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_npz_says_na_for_patients_and_subtypes_instead_of_zero(tmp_path):
    # pneumo stats on a PneumoniaMNIST .npz printed "No patient id appears in more than one split" and
    # bacteria 0 / virus 0, where the app said unknown: the format has neither.
    from engine_helpers import write_tiny_npz

    npz = write_tiny_npz(tmp_path / "p.npz", {"train": 6, "val": 2, "test": 4})
    stats = json.loads(runner.invoke(app, ["stats", str(npz), "--json"]).stdout)
    assert stats["unavailable"] == {"patients": "n/a: this format has no patient ids",
                                    "subtypes": "n/a: this format has no subtypes"}
    text = runner.invoke(app, ["stats", str(npz)], env={"COLUMNS": "120"}).stdout
    assert "n/a: this format has no patient ids" in text and "n/a: this format has no subtypes" in text
    assert "No patient id appears" not in text


def test_a_kermany_folder_has_its_patients_and_subtypes(demo_root):
    stats = json.loads(runner.invoke(app, ["stats", str(demo_root), "--json"]).stdout)
    assert stats["unavailable"] == {"patients": None, "subtypes": None}
