"""``pneumo``: the headless commands and the app's entry point.

Each command group lives in its own module and registers itself on ``app``.
Heavy imports (torch, textual) happen inside the commands so that
``pneumo --help`` stays fast.
"""

from __future__ import annotations

import typer

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


from . import data_commands, repeat_commands, review_commands, study_commands, train_commands, tui_command  # noqa: E402

for module in (data_commands, train_commands, study_commands, repeat_commands, review_commands, tui_command):
    module.register(app)


def main() -> None:
    app()
