"""The conversation so far and the generation counter: one object, shared by whichever engine answers
a turn (a server, or the local model standing in for it), so that both see the same history."""

from __future__ import annotations

import threading

from assistant.chat.prompt import Message


UNTIED = -1  # the generation of a reply that belongs to no conversation (the API's): no reply, cancel or reset ends it


class ChatHistory:
    """Thread-safe. `generation` grows with every new reply, cancel and reset: a reply whose generation is
    no longer current stops before its next token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._generation = 0

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    def is_current(self, generation: int) -> bool:
        return generation == self._generation or generation == UNTIED  # int reads: no lock needed (called per token)

    def begin_reply(self) -> tuple[int, list[Message]]:
        """Start a new reply (cancelling the one in progress): its generation, and the history before it."""
        with self._lock:
            self._generation += 1
            return self._generation, list(self._messages)

    def add_user(self, text: str) -> None:
        with self._lock:
            self._messages.append(Message("user", text))

    def add_reply(self, text: str, interrupted: bool = False) -> None:
        """Add the assistant's reply (only what the user heard, if interrupted); an empty, whole reply is left out."""
        if not text.strip() and not interrupted:
            return
        with self._lock:
            self._messages.append(Message("assistant", text.strip(), interrupted))

    def withdraw_user(self, text: str) -> None:
        """Take back the user's turn `text`, the last message (a reply begun before the turn was known to be
        over, dropped unheard when the user went on: the whole turn comes again)."""
        with self._lock:
            if self._messages and self._messages[-1] == Message("user", text):
                self._messages.pop()

    def cancel(self) -> None:
        with self._lock:
            self._generation += 1

    def clear(self) -> None:
        """Forget the conversation and cancel the reply in progress."""
        with self._lock:
            self._messages.clear()
            self._generation += 1
