"""Where the screens' layout lives: one Textual stylesheet per screen under ``pneumo_tui/styles``.

Paths are absolute, so a subclass of the app or a screen defined elsewhere (a test's
host app) loads the same sheets; the reusable widgets keep their own ``DEFAULT_CSS``.
"""

from __future__ import annotations

from pathlib import Path

STYLES_DIR = Path(__file__).resolve().parent / "styles"


def sheet(name: str) -> Path:
    """The stylesheet ``styles/<name>.tcss``."""
    return STYLES_DIR / f"{name}.tcss"
