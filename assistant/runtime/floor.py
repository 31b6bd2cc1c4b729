"""Who goes first on this computer's engines: the live conversation, over work done for other programs.

The conversation holds the floor while a turn is heard, answered and said (its owner thread says so at each
decision). Work for other programs (`parley serve`'s API, run beside the app on the same loaded models) waits for
the floor to be free before each piece of its work (a recording, a sentence, a run of tokens), so a person talking
to Parley never waits for more than the piece already under way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

WAIT_STEP_S = 0.1  # how often a waiting piece of work looks whether its client has gone


class Floor:
    """Thread-safe. `hold(True)` by the conversation; `wait_free()` by work that gives way to it."""

    def __init__(self) -> None:
        self._free = threading.Event()
        self._free.set()

    def hold(self, held: bool) -> None:
        """The conversation takes (True) or leaves (False) the floor."""
        if held:
            self._free.clear()
        else:
            self._free.set()

    @property
    def held(self) -> bool:
        return not self._free.is_set()

    def wait_free(self, stopped: Callable[[], bool] = lambda: False) -> bool:
        """Block until the floor is free (True), or until `stopped()` (False: the work is no longer wanted)."""
        while not self._free.wait(WAIT_STEP_S):
            if stopped():
                return False
        return not stopped()
