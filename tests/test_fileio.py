"""Crash-safe writes keep the file modes a shared server expects."""

import os
import stat

import pytest

from training.core.fileio import atomic_write_bytes, atomic_write_json, process_umask


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, mask, mode):
    # Under umask 022 config.json, checkpoints, predictions, threshold and review files used to be 0600.
    old = os.umask(mask)
    try:
        assert process_umask() == mask
        atomic_write_bytes(tmp_path / "best.pt", b"x")
        atomic_write_json(tmp_path / "config.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("best.pt", "config.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
