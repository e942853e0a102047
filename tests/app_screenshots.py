"""Screenshots of the app for the README, on SYNTHETIC data only (never real X-rays).

    .venv/bin/python tests/app_screenshots.py assets/

Writes app-data.svg (the demo set), app-train.svg and app-runs.svg (the recorded
fixture runs). Convert to PNG with e.g. cairosvg or rsvg-convert if wanted.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app_waits import wait_for_runs, wait_for_stats  # noqa: E402  (tests/ is this script's folder)

from pneumo_tui.app import PneumoApp  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "recorded_runs"
SIZE = (120, 36)


async def shoot(app: PneumoApp, path: Path, keys: list[str], with_stats: bool = False) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        await wait_for_runs(pilot)
        if with_stats:
            await wait_for_stats(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.5)
        app.save_screenshot(filename=path.name, path=str(path.parent))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "assets").resolve()
    out.mkdir(parents=True, exist_ok=True)
    from training.data.demo import write_demo

    work = Path(tempfile.mkdtemp(prefix="pneumo-shots-"))
    os.environ["PNEUMO_CACHE"] = str(work / "cache")
    os.chdir(work)
    write_demo(work / "demo-data", per_class=40, size=128, seed=0)
    common = dict(runs_dir=FIXTURES, welcome=False, poll_interval=0)
    asyncio.run(shoot(PneumoApp(data=Path("demo-data"), image_protocol="halfcell", **common), out / "app-data.svg",
                      [], True))
    asyncio.run(shoot(PneumoApp(attach=FIXTURES / "20260101-000000-cnn3", **common), out / "app-train.svg", []))
    asyncio.run(shoot(PneumoApp(**common), out / "app-runs.svg", ["3", "space", "down", "space", "m", "m"]))
    print(f"wrote {out}/app-data.svg, app-train.svg, app-runs.svg")


if __name__ == "__main__":
    main()
