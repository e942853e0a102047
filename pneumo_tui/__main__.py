"""``python -m pneumo_tui``: the ``pneumo`` command without its console script."""

from pneumo_tui.cli import main

main()
