"""Pilot waits for the app's thread workers: the Runs table and the Data screen's statistics load off the UI thread."""

from __future__ import annotations

import time


async def wait_for_runs(pilot, timeout: float = 15.0) -> None:
    """The Runs table reads every log in a thread first; wait for it."""
    view = pilot.app.query_one("#runs-view")
    deadline = time.monotonic() + timeout
    while not view.loaded:
        assert time.monotonic() < deadline, "the runs table never loaded"
        await pilot.pause(0.05)


async def wait_for_stats(pilot, timeout: float = 60.0) -> None:
    """The Data screen computes its statistics in a thread (slow on a cold, busy machine); wait, then draw."""
    view = pilot.app.query_one("#data-view")
    deadline = time.monotonic() + timeout
    while view.stats is None and view.error is None:
        assert time.monotonic() < deadline, f"no dataset statistics within {timeout:.0f} s"
        await pilot.pause(0.05)
    assert view.stats is not None, view.error
    await pilot.pause()
