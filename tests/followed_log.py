"""Waiting for a state that a Parley process under test logs: a line in its log file."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable


def wait_for_log(read: Callable[[], str], pattern: str, after: int = 0, timeout: float = 60.0,
                 proc: subprocess.Popen | None = None, on_exit: Callable[[], str] = lambda: "") -> re.Match:
    """The first match of regex `pattern` in the log that `read()` returns, at or after character `after`.

    AssertionError after `timeout` s, or as soon as `proc` has exited (with `on_exit()`, what it left behind)."""
    compiled = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        match = compiled.search(read(), after)
        if match:
            return match
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"waiting for {pattern!r} in the log: it exited with {proc.returncode}{on_exit()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {pattern!r} in the log; its tail:\n{read()[-3000:]}")
        time.sleep(0.1)
