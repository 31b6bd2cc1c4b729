"""`python -m assistant` is the `parley` command."""

from assistant.cli.main import run

run()
