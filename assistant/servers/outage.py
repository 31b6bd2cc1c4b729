"""A server that stopped answering: asked again only after a while, and the user told once per outage.

Without it, every piece of work meant for a server that is down would wait for it first: for an address that does
not answer at all, the whole connect timeout (3 s) per turn, and per words-so-far pass on the transcription thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RETRY_AFTER_S = 30.0


class Outage:
    """Whether a server is worth asking now. Used from one thread (the one that asks the server)."""

    def __init__(self, retry_after_s: float = RETRY_AFTER_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._failed_at: float | None = None

    def worth_asking(self) -> bool:
        """True unless the server failed less than `retry_after_s` ago."""
        return self._failed_at is None or self._clock() - self._failed_at >= self._retry_after_s

    def failed(self) -> bool:
        """The server failed; True when that begins an outage (the moment to tell the user)."""
        began = self._failed_at is None
        self._failed_at = self._clock()
        return began

    def answered(self) -> None:
        """The server answered: the outage, if any, is over."""
        self._failed_at = None
