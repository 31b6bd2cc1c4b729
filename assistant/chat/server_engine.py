"""The chat model on a server of the user's choosing: any OpenAI-compatible `/v1/chat/completions` endpoint
(Ollama, LM Studio, llama.cpp's llama-server, vLLM, mlx_lm.server), replies streamed as server-sent events.

This module is the engine: the ChatEngine interface and the conversation's messages. Beside it: the address and
the longest waits (`server_address`), the requests (`server_client`), each on a connection of its own
(`server_http`), and the reading of what the server says (`server_replies`).

The server counts tokens itself, so the history is trimmed against `ChatConfig.prompt_budget` by an
estimate (`estimate_tokens`: UTF-8 bytes / 3, which overestimates English — about 4 bytes a token — and
comes close for Korean, Chinese or Japanese, 3 bytes a character and about a token each).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future

from assistant.chat.engine import ChatEngine
from assistant.chat.history import ChatHistory
from assistant.chat.prompt import ChatConfig, trim_history
from assistant.chat.tool_calls import read_calls, tool_exchange
from assistant.servers.server_address import ServerAddress, ServerTimeouts
from assistant.chat.server_client import ServerClient
from assistant.servers.server_http import Aborted, Exchange
from assistant.servers.server_key import read_server_key
from assistant.models.errors import ModelError
from assistant.tools.tool import Call

def estimate_tokens(text: str) -> int:
    """Tokens `text` takes, estimated without the server's tokenizer: UTF-8 bytes / 3, rounded up."""
    return (len(text.encode("utf-8")) + 2) // 3


def estimate_message_tokens(messages: list[dict]) -> int:
    """The prompt of `messages`: their text, and about 4 tokens of chat-template markers around each."""
    return sum(estimate_tokens(m["content"]) + 4 for m in messages) + 2


class ServerChat(ServerClient, ChatEngine):
    """A chat model on an OpenAI-compatible server. Thread-safe: a reply is asked for on one thread and
    cancelled from another; `cancel()` closes its connection at once.

    `reply()` returns once the first token has come (or raises ServerUnavailable when the server can't give
    one), so that a caller standing in with another engine (`FallbackChat`) knows before anything was said.
    The user's message joins the history with that first token, or when the reply is cancelled; a turn the
    server could not answer leaves no trace in the history, so another engine can answer it from the same one.
    """

    name = "server"

    def __init__(self, url: str, model: str = "", config: ChatConfig = ChatConfig(),
                 history: ChatHistory | None = None, key_reader: Callable[[], str | None] = read_server_key,
                 timeouts: ServerTimeouts = ServerTimeouts()) -> None:
        """`url`: the API root as the user gave it; `model`: the server's name for the model ("" = the first it
        lists); `key_reader`: gives the API key (None = send none), read for every request, so a key saved in
        Settings counts from the next turn on. Raises ServerUnavailable for an address that is not one."""
        super().__init__(config, model, history)
        self.address = ServerAddress.parse(url)
        self.url = self.address.display
        self.requested_model = model.strip()
        self.timeouts = timeouts
        self._key_reader = key_reader
        self._lock = threading.Lock()
        self._exchanges: set[Exchange] = set()  # open requests: what cancel() and close() shut
        self._pending: tuple[int, str] | None = None  # (generation, text): a user message waiting for its reply
        self._listed: list[str] | None = None  # the server's model ids, once listed
        self._last_messages: list[dict] = []  # the last reply's request (a tool's result goes on from it)

    def __repr__(self) -> str:
        return f"ServerChat({self.url!r}, model={self.requested_model!r})"  # the key is not ours to show

    def describe(self) -> str:
        return f"{_shown_model(self.model_id) or 'its first model'} on the server at {self.url}"

    # --- the interface -------------------------------------------------------------------------------------

    def start_loading(self) -> Future:
        """Ask the server for its models, on a thread of its own: the future fails with ServerUnavailable when
        the server can't be reached, and tells which model answers when none was named. The server loads the
        model itself, when the first request comes (`warm_up` makes that happen now)."""
        def probe() -> str | None:
            try:
                return self._resolve_model(probe=True)
            except Aborted:
                return None  # closed meanwhile

        return _in_thread("server-models", probe)

    def reply(self, user_text: str, language: str | None = None, offer_tools: bool = True) -> Iterator[str]:
        """See ChatEngine.reply; returns once the first token has come (see the class's docstring). Raises
        ServerUnavailable when the server can't answer; a cancelled reply returns an empty iterator."""
        self._end_previous()
        generation, history = self.chat_history.begin_reply()
        messages = trim_history(self.system_text(language), history, user_text, estimate_message_tokens,
                                self.config.prompt_budget)
        with self._lock:
            self._pending = (generation, user_text)
        self._last_messages = messages
        tools = self.tool_specs() if offer_tools else []
        stream = self._stream(messages, generation, self.config.max_reply_tokens, record=True, tools=tools)
        if tools:
            stream = read_calls(stream, self.tool_names())
        try:
            first = next(stream)
        except StopIteration:  # an empty reply, or a cancelled one (whose canceller already added the message)
            self._commit_user(generation)
            return _prepend(None, iter(()))
        except BaseException as exc:
            if isinstance(exc, ModelError) and not self.chat_history.is_current(generation):
                self._commit_user(generation)  # cancelled as it failed: a cancel, not a failure
                return _prepend(None, iter(()))
            with self._lock:  # the server never answered: the turn is not in the history
                if self._pending is not None and self._pending[0] == generation:
                    self._pending = None
            raise
        self._commit_user(generation)
        return _prepend(first, stream)

    def reply_with_result(self, call: Call, result: str, language: str | None = None) -> Iterator[str]:
        messages = self._last_messages + tool_exchange(call, result)
        return self._stream(messages, self.chat_history.generation, self.config.max_reply_tokens, record=True)

    runs_here = False  # (the API's completions need not give way to the conversation: the server does the work)

    def complete(self, messages: list[dict], max_tokens: int, so_far: str = "") -> Iterator[str]:
        if so_far:  # (OpenAI-style servers such as llama.cpp's go on from a last assistant message)
            messages = messages + [{"role": "assistant", "content": so_far}]
        return (piece for piece in self._stream(messages, None, max_tokens, record=False) if isinstance(piece, str))

    def warm_up(self, language: str | None = None) -> Future:
        """A 1-token reply to a greeting, on a thread of its own: the server loads the model now (and keeps the
        system prompt in its cache) rather than on the first turn. Fails with ServerUnavailable; a reply or
        cancel that comes first ends it quietly."""
        def warm() -> None:
            messages = trim_history(self.system_text(language), [], "Hello.", estimate_message_tokens,
                                    self.config.prompt_budget)
            for _ in self._stream(messages, self.chat_history.generation, 1, record=False):
                pass

        return _in_thread("server-warm-up", warm)

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        """Nothing to do: a server keeps its own prompt cache (llama-server and Ollama the last prompt's KV,
        vLLM its prefix cache), and the OpenAI API has no request that reads a prompt without answering it;
        a 1-token reply instead would hold the server's one slot just when the user may start the turn."""
        done: Future = Future()
        done.set_result(None)
        return done

    def count_tokens(self, text: str) -> int:
        """An estimate (the server has the tokenizer): see `estimate_tokens`."""
        return estimate_tokens(text)

    def cancel(self) -> None:
        """Stop the reply in progress and close its connection now. Thread-safe.

        A reply cancelled before its first token keeps the user's message in the history, as on the local
        engines (the caller then records what was heard of the reply: nothing)."""
        with self._lock:
            self._commit_pending_locked()
        self.chat_history.cancel()
        self._abort(cancellable_only=True)

    def reset(self) -> None:
        with self._lock:
            self._pending = None
        self.chat_history.clear()
        self._abort(cancellable_only=True)

    def close(self, timeout: float | None = None) -> None:
        """Cancel and close every open request, at once (nothing to wait for: no model is held here)."""
        self.chat_history.cancel()
        self._abort(cancellable_only=False)

    # --- the conversation's messages -----------------------------------------------------------------------

    def _end_previous(self) -> None:
        """A new reply ends the one before it: its question stays in the history, its connection closes."""
        with self._lock:
            self._commit_pending_locked()
        self._abort(cancellable_only=True)

    def _commit_user(self, generation: int) -> None:
        with self._lock:
            if self._pending is not None and self._pending[0] == generation:
                self._commit_pending_locked()

    def _commit_pending_locked(self) -> None:
        if self._pending is not None:
            self.chat_history.add_user(self._pending[1])
            self._pending = None


def test_connection(url: str, model: str = "", key: str | None = None,
                    timeouts: ServerTimeouts = ServerTimeouts()) -> str:
    """Check a server for the settings window's "Test connection" and `parley doctor`: list its models and ask
    the model for one token. Returns one line, "http://…/v1: 3 models; llama3.2 answered in 240 ms", or raises
    ServerUnavailable saying what is wrong. `key` None sends no API key (pass `read_server_key()` for the saved one)."""
    engine = ServerChat(url, model, key_reader=lambda: key, timeouts=timeouts)
    try:
        listed = engine.list_models()
        chosen = engine._resolve_model()
        started = time.monotonic()
        for _ in engine._stream([{"role": "user", "content": "Say OK."}], None, 1, record=False):
            pass
        took_ms = 1000 * (time.monotonic() - started)
    finally:
        engine.close()
    count = f"{len(listed)} model{'' if len(listed) == 1 else 's'}"
    return f"{engine.url}: {count}; {_shown_model(chosen)} answered in {took_ms:.0f} ms"


test_connection.__test__ = False  # pytest: a function of the app, not a test



def _shown_model(model: str) -> str:
    """A model's name as shown: llama-server names its model by the GGUF's whole path; its last two parts do."""
    if model.endswith(".gguf") and "/" in model:
        return "/".join(model.rstrip("/").split("/")[-2:])
    return model


def _prepend(first: str | None, rest: Iterator[str]) -> Iterator[str]:
    """`first` (unless None), then `rest`; a generator whose close() closes `rest` (and with it the connection)."""
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


def _in_thread(name: str, fn: Callable, *args) -> Future:
    """Run `fn(*args)` on a daemon thread of its own, its outcome in the returned future."""
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
