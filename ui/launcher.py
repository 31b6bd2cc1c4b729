"""The `parley` command: on its own, the desktop app; with a command (`parley doctor`, `parley chat`, …), the engine's
command line (assistant/cli/main.py). The app is handed to that command line as what to run when no command is given,
so that the engine needs nothing of ui/, and a command never loads Qt."""

from __future__ import annotations


def run() -> None:
    """The console script's entry point (`parley`, also `python -m ui`)."""
    from assistant.cli.main import run as run_command_line

    run_command_line(no_command=_app)


def _app() -> int:
    """`parley` with no command: the menu-bar app, until Quit; returns the exit code."""
    from ui.app import main

    return main()
