"""The app in a real terminal: tmux 120x40 on the shared Kermany data shows the official test counts."""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "tmux_data_screen.sh"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chest_xray"


@pytest.mark.shared_data
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/chest_xray not present")
def test_data_screen_in_tmux_shows_official_test_counts():
    proc = subprocess.run([str(SCRIPT), str(DATA)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "234" in proc.stdout and "390" in proc.stdout
