"""`python -m assistant` runs the `parley` command's subcommands (`parley` on its own, the app, is ui/launcher.py)."""

from assistant.cli.main import run

run()
