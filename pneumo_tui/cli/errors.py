"""One-line errors for the CLI: a user mistake never prints a traceback."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import typer

from training.core.errors import PneumoError, one_line


def fail(message: str, code: int = 1) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


@contextmanager
def user_errors(*kinds: type[BaseException]):
    """Turn the engine's own errors (``PneumoError``) and the named kinds into ``error: ...`` and exit 1."""
    try:
        yield
    except (PneumoError, *kinds) as exc:
        fail(one_line(exc))
