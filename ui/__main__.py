"""`python -m ui` is the `parley` command: on its own the desktop app, with a command the engine's command line."""

from ui.launcher import run

run()
