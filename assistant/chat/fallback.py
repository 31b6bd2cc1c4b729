"""A chat server, with the local model standing in when it can't answer.

`FallbackChat` asks the server first. A turn the server can't begin (it raised ServerUnavailable before its
first token) is answered by the local engine (MLX or llama.cpp) from the same history, and the user is told
once, through `on_fallback`. A server that fails in the middle of a reply ends that reply there: what was said
stays (the caller records it, as after any reply), and it is not answered again locally, which would say the
same thing twice. After a failure the server is left alone for `retry_after_s` (30 s), so that the turns in
between don't each wait for a server that is down; the first turn after that tries it again.

The local model loads only when it is first needed, to spare the memory (a server is often chosen because
this computer is short of it): when a turn falls back, or at `start_loading()` / `warm_up()` if the server
is not answering then (it is about to be needed). So the first fallback after a good start pays the load
(a second or two for the default model); with the server down from the start, nothing waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future

from assistant.chat.engine import ChatEngine
from assistant.chat.prompt import ReplyTimings
from assistant.servers.server_address import ServerUnavailable
from assistant.chat.server_engine import ServerChat

log = logging.getLogger(__name__)


def _ignore(message: str) -> None:
    pass


class FallbackChat(ChatEngine):
    """The server (`primary`) with a local engine (`local`) standing in; both must share one ChatHistory.

    Thread-safe as engines are: replies on one thread, `cancel()` from another. `on_fallback(message)` is
    called on whichever thread met the failure (the reply's, or a loading thread), once per failure:
    "The server at http://localhost:11434/v1 is not answering (connection refused); answering with
    qwen2.5-coder-0.5b-instruct on llama.cpp." — a failure while the server is being skipped is not one.
    """

    name = "server"

    def __init__(self, primary: ServerChat, local: ChatEngine, on_fallback: Callable[[str], None] = _ignore,
                 retry_after_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        """Raises ValueError when the two engines keep separate histories (the local one would answer a
        conversation it had not seen)."""
        if local.chat_history is not primary.chat_history:
            raise ValueError("the server and the local chat engine must share one ChatHistory: "
                             "pass the same `history` to both")
        super().__init__(primary.config, primary.model_id, primary.chat_history)
        self.primary = primary
        self.local = local
        self.retry_after_s = retry_after_s
        self._on_fallback = on_fallback
        self._clock = clock
        self._lock = threading.Lock()
        self._skip_until: float | None = None  # the server failed: local answers until then
        self._answered_by: ChatEngine | None = None  # who answered the last turn

    # --- who answers ---------------------------------------------------------------------------------------

    @property
    def answered_by(self) -> ChatEngine:
        """The engine that answered the last turn (before any: the one that will be asked first)."""
        return self._answered_by or (self.primary if self.server_in_use() else self.local)

    def describe(self) -> str:
        return self.answered_by.describe()

    @property
    def last_timings(self) -> ReplyTimings | None:
        return self.answered_by.last_timings

    @last_timings.setter
    def last_timings(self, value: ReplyTimings | None) -> None:
        pass  # the engines keep their own; ChatEngine.__init__ sets this

    def server_in_use(self) -> bool:
        """False while the server is skipped after a failure."""
        with self._lock:
            return self._skip_until is None or self._clock() >= self._skip_until

    def _server_failed(self, exc: ServerUnavailable, mid_reply: bool = False) -> None:
        with self._lock:
            now = self._clock()
            known = self._skip_until is not None and now < self._skip_until
            self._skip_until = now + self.retry_after_s
        log.warning("%s (using %s for %g s)", exc, self.local.describe(), self.retry_after_s)
        if known:
            return  # told already: another request of the same outage (a warm-up beside a load)
        if mid_reply:
            message = (f"The server at {exc.url} {exc.problem}; the reply ends there, and "
                       f"{self.local.describe()} answers until the server is back.")
        else:
            message = f"The server at {exc.url} {exc.problem}; answering with {self.local.describe()}."
        try:
            self._on_fallback(message)
        except Exception:  # the listener's bug must not cost the user the turn
            log.exception("on_fallback failed")

    def _server_answered(self) -> None:
        with self._lock:
            was_down, self._skip_until = self._skip_until is not None, None
        if was_down:
            log.info("the chat server at %s answers again", self.primary.url)

    # --- the interface -------------------------------------------------------------------------------------

    def start_loading(self) -> Future:
        """Check the server; load the local model only if the server is not answering. The future fails only
        when the local model, needed and loading, fails."""
        if not self.server_in_use():
            return self.local.start_loading()
        return _then(self.primary.start_loading(), self.local.start_loading, self._server_failed)

    def warm_up(self, language: str | None = None) -> Future:
        """Warm the server (it loads its model); if it is not answering, warm (and so load) the local model."""
        if not self.server_in_use():
            return self.local.warm_up(language)
        return _then(self.primary.warm_up(language), lambda: self.local.warm_up(language), self._server_failed)

    def reply(self, user_text: str, language: str | None = None, offer_tools: bool = True) -> Iterator[str]:
        """The server's reply, or the local engine's when the server can't begin one (see the module)."""
        if self.server_in_use():
            try:
                stream = self.primary.reply(user_text, language, offer_tools)
            except ServerUnavailable as exc:
                self._server_failed(exc)
            else:
                self._server_answered()
                self._answered_by = self.primary
                return self._watch(stream, self.chat_history.generation)
        self._answered_by = self.local
        return self.local.reply(user_text, language, offer_tools)

    def use_tools(self, specs, prompt_text) -> None:
        super().use_tools(specs, prompt_text)
        self.primary.use_tools(specs, prompt_text)
        self.local.use_tools(specs, prompt_text)

    def reply_with_result(self, call, result: str, language: str | None = None) -> Iterator[str]:
        """The engine that called the tool goes on (a server that fails now ends the reply there)."""
        if self._answered_by is self.primary:
            return self._watch(self.primary.reply_with_result(call, result, language), self.chat_history.generation)
        return self.local.reply_with_result(call, result, language)

    @property
    def runs_here(self) -> bool:
        return not self.server_in_use()

    def complete(self, messages: list[dict], max_tokens: int, so_far: str = "") -> Iterator[str]:
        """The server's completion, or the local model's when the server is not in use."""
        if self.server_in_use():
            try:
                return self.primary.complete(messages, max_tokens, so_far)
            except ServerUnavailable as exc:
                self._server_failed(exc)
        return self.local.complete(messages, max_tokens, so_far)

    def _watch(self, stream: Iterator[str], generation: int) -> Iterator[str]:
        """The server's deltas; a failure in the middle ends the reply there (the caller records what came)."""
        try:
            yield from stream
        except ServerUnavailable as exc:
            if self.chat_history.is_current(generation):  # (a cancel that broke the stream is no failure)
                self._server_failed(exc, mid_reply=True)
        finally:
            close = getattr(stream, "close", None)  # a generator's: it closes the connection
            if close is not None:
                close()

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        """The engine that will answer next reads ahead (the server's prefill does nothing; see ServerChat)."""
        if self.server_in_use():
            return self.primary.prefill(user_text, language)
        return self.local.prefill(user_text, language)

    def count_tokens(self, text: str) -> int:
        return self.answered_by.count_tokens(text)

    def cancel(self) -> None:
        self.primary.cancel()  # closes the server's connection; the history's generation is shared
        self.local.cancel()

    def reset(self) -> None:
        self.primary.reset()
        self.local.reset()

    def close(self, timeout: float | None = None) -> None:
        self.primary.close(timeout)
        self.local.close(timeout)


def _then(first: Future, fallback: Callable[[], Future], on_failure: Callable[[ServerUnavailable], None]) -> Future:
    """A future of `first`; if it fails with ServerUnavailable, `on_failure` is told and `fallback()`'s outcome
    becomes this one's instead."""
    result: Future = Future()

    def copy(source: Future) -> None:
        if source.cancelled():
            result.cancel()
        elif source.exception() is not None:
            result.set_exception(source.exception())
        else:
            result.set_result(source.result())

    def after(done: Future) -> None:
        error = None if done.cancelled() else done.exception()
        if isinstance(error, ServerUnavailable):
            on_failure(error)
            try:
                fallback().add_done_callback(copy)
            except Exception as exc:  # the local engine could not even start
                result.set_exception(exc)
        else:
            copy(done)

    first.add_done_callback(after)
    return result
