"""The engine's base exception, and the one way an exception becomes a one-line message.

Every failure the engine expects (a bad dataset, recipe, run folder, checkpoint or
lock) is a ``PneumoError``: the CLI prints it as ``error: <message>`` and the app
shows it in one line, both through ``one_line``; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class PneumoError(Exception):
    """An expected failure of the engine, whose message is fit to show a user as it is."""


class RunNotFound(PneumoError, FileNotFoundError):
    """No run folder by that path, id or prefix (or several match a prefix)."""


def one_line(exc: BaseException, *, kind: bool = False) -> str:
    """The first line of ``exc``'s message (its class name when it has none).

    ``kind=True`` puts the class name in front (``ValueError: ...``), for errors
    that are not the engine's own, where the name tells what went wrong.
    """
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if kind else text
