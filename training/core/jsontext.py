"""JSON that is always JSON: what the CLI's ``--json`` prints and the engine writes.

Python's ``json`` writes NaN and Infinity, which no other JSON reader accepts;
here a number that is not finite becomes ``null`` (undefined), as a metric
with no denominator already is.
"""

from __future__ import annotations

import json
import math


def finite(value):
    """``value`` with every float that is not finite replaced by None, in nested dicts and lists too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(value, indent: int | None = 2) -> str:
    """``value`` as strict JSON text (no NaN or Infinity; objects it cannot write become strings)."""
    return json.dumps(finite(value), indent=indent, default=str, allow_nan=False)
