"""``pneumo``: the headless commands and the app's entry point.

Each command group lives in its own module and registers itself on ``app``.
Heavy imports (torch, textual) happen inside the commands so that
``pneumo --help`` stays fast.
"""

from __future__ import annotations

import typer
import typer.core

_NAMES = {"str": "TEXT", "path": "PATH", "int": "INTEGER", "float": "NUMBER", "bool": "BOOLEAN"}


def _value_names(typers_own):
    """What ``--help`` shows after an option: nothing for a flag, a name for a value (``PATH``, ``INTEGER``,
    ``auto|sixel``), never typer's ``<bool>`` / ``<str>`` / ``<list[str]>`` placeholders."""

    def value_name(param, ctx) -> str | None:
        if getattr(param, "metavar", None) is not None:
            return param.metavar
        if getattr(param, "is_flag", False):
            return None
        label = str(typers_own(param, ctx) or "").strip("<>")
        many = label.startswith("list[")
        label = label.removeprefix("list[").removesuffix("]")
        label = "|".join(_NAMES.get(part, part) for part in label.split("|")) or "VALUE"
        return f"{label}..." if many else label

    return value_name


# typer 0.29 shows its type placeholders in every command's help; ours say what to give, as click does.
for _param_class in (typer.core.TyperOption, typer.core.TyperArgument):
    if hasattr(_param_class, "display_type") and hasattr(_param_class, "display_type_rich"):
        _param_class.display_type_rich = _value_names(_param_class.display_type)

app = typer.Typer(
    name="pneumo",
    help="A terminal workbench for pediatric pneumonia chest X-ray classifiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """A terminal workbench for pediatric pneumonia chest X-ray classifiers."""


from . import (  # noqa: E402
    data_commands,
    repeat_commands,
    review_commands,
    site_commands,
    study_commands,
    train_commands,
    tui_command,
)

for module in (data_commands, train_commands, study_commands, repeat_commands, review_commands, site_commands,
               tui_command):
    module.register(app)


def main() -> None:
    app()
