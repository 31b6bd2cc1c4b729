"""`python -m assistant` is the `parley` command."""

from assistant.cli import run

run()
