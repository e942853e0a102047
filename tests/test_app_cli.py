"""`pneumo tui` refuses bad arguments with one line, before any screen opens."""

import subprocess

from pneumo_tui.launch import pneumo_command


def _tui(*args, cwd):
    return subprocess.run(pneumo_command() + ["tui", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_unknown_run_and_missing_data_are_one_line_errors(tmp_path):
    proc = _tui("--runs", str(tmp_path), "--attach", "no-such-run", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: no run named 'no-such-run'")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = _tui("--data", str(tmp_path / "nothing"), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip() == f"error: no such dataset: {tmp_path / 'nothing'}"


def test_image_protocol_choices_are_checked(tmp_path):
    proc = _tui("--image-protocol", "ascii-art", cwd=tmp_path)
    assert proc.returncode == 2 and "ascii-art" in proc.stderr
