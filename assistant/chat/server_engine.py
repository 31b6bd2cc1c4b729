"""The chat model on a server of the user's choosing: any OpenAI-compatible `/v1/chat/completions` endpoint
(Ollama, LM Studio, llama.cpp's llama-server, vLLM, mlx_lm.server), replies streamed as server-sent events.

The address is what the user gives, as the API's root: `http://localhost:11434/v1`. Also accepted: the
same without `/v1` (`http://localhost:11434`, `/v1` is added), with a trailing slash, or the whole
`…/v1/chat/completions` endpoint pasted from a server's documentation; `https://` for a remote server. A path
other than `/v1` (`https://host/api/v1`) is kept as it is, so long as it ends in `/v1`. The address must not
hold a user name or password: an API key goes in its own file (see `server_key`), never in settings.toml.

HTTP is spoken with the standard library's http.client, not `requests`, for three reasons: the socket stays
in our hands, so `cancel()` from another thread shuts it at once (the server sees the client go and stops
generating); the read timeout can change during one response (long for the first token, short between
chunks); and nothing from the environment joins the request: no proxy variables, no ~/.netrc credentials
(requests reads both), so the only computer Parley talks to is the one the user named (for https, OpenSSL's
SSL_CERT_FILE still says which certificates to trust, as everywhere). Each request has a
connection of its own, closed after it: nothing goes stale between turns (a server restarted meanwhile), and
a cancel closes exactly the one reply's; the cost, a TLS handshake per turn, matters only for remote https.

Timeouts (`ServerTimeouts`): 3 s to connect (and to look up the name: getaddrinfo has no timeout of its own,
so it runs on a helper thread). 15 s from the request to the first token: a server may be loading its model
for that request (Ollama loads on demand, and unloads after five idle minutes), but the user is waiting in
silence, and the local model answers sooner than a server that takes longer. 10 s between later chunks:
every server streams a few tokens a second at the very least, so ten seconds of nothing in the middle of a
sentence means it is stuck, and the user has been listening to silence mid-sentence. These are the longest
waits for progress, whatever the server sends meanwhile: keep-alive comments do not count as progress.

The server counts tokens itself, so the history is trimmed against `ChatConfig.prompt_budget` by an
estimate (`estimate_tokens`: UTF-8 bytes / 3, which overestimates English — about 4 bytes a token — and
comes close for Korean, Chinese or Japanese, 3 bytes a character and about a token each).
"""

from __future__ import annotations

import errno
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from urllib.parse import urlsplit

from assistant.chat.engine import ChatEngine
from assistant.chat.history import ChatHistory
from assistant.chat.prompt import ChatConfig, ReplyTimings, system_prompt, trim_history
from assistant.chat.server_key import KEY_ENV, read_server_key
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)

_AFTER_FINISH_S = 2.0  # after finish_reason, how long to wait for the usage chunk and [DONE] before calling it done
_MAX_LINE_BYTES = 1 << 20  # one event of a chat stream is a few hundred bytes; a megabyte without a newline is not SSE
_MAX_BODY_BYTES = 8 << 20  # a model list or an error page; more is not an answer to those requests
_SERVER_TEXT_CHARS = 200  # how much of a server's own error message goes into ours


class ServerUnavailable(ModelError):
    """The chat server could not answer. The message names the server's address (never the API key) and says
    what to do; `url` is that address and `problem` completes "the server at URL …" (for the fallback's note:
    "is not answering (connection refused)")."""

    def __init__(self, url: str, problem: str, fix: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"the chat server at {url} {problem}; {fix}")


@dataclass(frozen=True)
class ServerTimeouts:
    """The longest waits, in seconds (why these values: the module's docstring)."""

    connect: float = 3.0  # name lookup and TCP (and TLS) connection
    first_token: float = 15.0  # from the request to the first token (a server may load its model first)
    between_chunks: float = 10.0  # between later chunks of the stream: longer and the server is stuck


@dataclass(frozen=True)
class ServerAddress:
    """A server's API root, parsed from what the user typed (see the module's docstring for the forms)."""

    scheme: str  # "http" or "https"
    host: str
    port: int
    path: str  # the API root's path, ending in "/v1"

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        """Raises ServerUnavailable, saying how to write it, for something that is not a server address."""
        text = url.strip()
        if text and "://" not in text:
            text = "http://" + text  # "localhost:11434/v1": a host typed without its scheme
        parts = urlsplit(text)
        shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else url.strip()[:80]
        example = "write it like http://localhost:11434/v1 (Ollama) or http://localhost:1234/v1 (LM Studio)"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerUnavailable(shown or "(no address)", "is not a server address", example)
        if parts.username is not None or parts.password is not None:
            # Never shown: the part before "@" may be a password.
            raise ServerUnavailable(f"{parts.scheme}://{parts.hostname}", "has a user name or password in its "
                                    "address", f"remove it from the address, and save an API key in Settings "
                                    f"(or {KEY_ENV}) if the server needs one")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ServerUnavailable(shown, "has a port that is not a number from 1 to 65535", example) from None
        path = parts.path.rstrip("/")
        for suffix in ("/chat/completions", "/models"):  # an endpoint pasted whole
            if path.endswith("/v1" + suffix):
                path = path[: -len(suffix)]
        if not path.endswith("/v1"):
            path += "/v1"
        return cls(parts.scheme, parts.hostname, port, path)

    @property
    def display(self) -> str:
        """The address as shown in messages: scheme, host, port, path (no query, nothing secret)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


def estimate_tokens(text: str) -> int:
    """Tokens `text` takes, estimated without the server's tokenizer: UTF-8 bytes / 3, rounded up."""
    return (len(text.encode("utf-8")) + 2) // 3


def estimate_message_tokens(messages: list[dict]) -> int:
    """The prompt of `messages`: their text, and about 4 tokens of chat-template markers around each."""
    return sum(estimate_tokens(m["content"]) + 4 for m in messages) + 2


class ServerChat(ChatEngine):
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
        self._exchanges: set[_Exchange] = set()  # open requests: what cancel() and close() shut
        self._pending: tuple[int, str] | None = None  # (generation, text): a user message waiting for its reply
        self._listed: list[str] | None = None  # the server's model ids, once listed

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
            except _Aborted:
                return None  # closed meanwhile

        return _in_thread("server-models", probe)

    def reply(self, user_text: str, language: str | None = None) -> Iterator[str]:
        """See ChatEngine.reply; returns once the first token has come (see the class's docstring). Raises
        ServerUnavailable when the server can't answer; a cancelled reply returns an empty iterator."""
        self._end_previous()
        generation, history = self.chat_history.begin_reply()
        messages = trim_history(system_prompt(self.config, language), history, user_text, estimate_message_tokens,
                                self.config.prompt_budget)
        with self._lock:
            self._pending = (generation, user_text)
        stream = self._stream(messages, generation, self.config.max_reply_tokens, record=True)
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

    def warm_up(self, language: str | None = None) -> Future:
        """A 1-token reply to a greeting, on a thread of its own: the server loads the model now (and keeps the
        system prompt in its cache) rather than on the first turn. Fails with ServerUnavailable; a reply or
        cancel that comes first ends it quietly."""
        def warm() -> None:
            messages = trim_history(system_prompt(self.config, language), [], "Hello.", estimate_message_tokens,
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

    # --- requests ------------------------------------------------------------------------------------------

    def _key(self) -> str | None:
        try:
            return self._key_reader()
        except ModelError as exc:  # a broken key file: say so, as a server that can't be used
            raise ServerUnavailable(self.url, "can't be sent its API key", str(exc)) from None

    def _open(self, cancellable: bool) -> _Exchange:
        exchange = _Exchange(self.address, self.timeouts.connect, self._key(), cancellable)
        with self._lock:
            self._exchanges.add(exchange)
        return exchange

    def _done(self, exchange: _Exchange) -> None:
        with self._lock:
            self._exchanges.discard(exchange)
        exchange.close()

    def _abort(self, cancellable_only: bool) -> None:
        with self._lock:
            exchanges = [e for e in self._exchanges if e.cancellable or not cancellable_only]
        for exchange in exchanges:
            exchange.abort()

    def list_models(self, cancellable: bool = False) -> list[str]:
        """The ids of the models the server offers (GET /v1/models). Raises ServerUnavailable."""
        exchange = self._open(cancellable)
        try:
            deadline = time.monotonic() + self.timeouts.first_token
            try:
                response = exchange.request("GET", "/models", None, deadline)
                if response.status != 200:
                    raise self._http_error(response.status, exchange.error_body(deadline), exchange.key, "/models")
                body = exchange.read_all(deadline)
            except (OSError, http.client.HTTPException) as exc:
                if exchange.aborted:
                    raise _Aborted() from None
                if isinstance(exc, TimeoutError):
                    raise self._no_reply() from None
                raise self._transport_error(exc) from exc
            try:
                data = json.loads(body)
                ids = [str(entry["id"]) for entry in data["data"]]
            except (ValueError, KeyError, TypeError):
                raise self._malformed("its model list is not the OpenAI format ({\"data\": [{\"id\": …}]})") from None
        finally:
            self._done(exchange)
        with self._lock:
            self._listed = ids
        return ids

    def _resolve_model(self, probe: bool = False) -> str:
        """The model to ask for: the one named in the settings, else the first the server lists.

        `probe` (start_loading): list the models even when one is named, to find out whether the server is up."""
        if self.requested_model and not probe:
            return self.requested_model
        with self._lock:
            listed = self._listed
        if listed is None or probe:
            listed = self.list_models(cancellable=not probe)
        if self.requested_model:
            if listed and self.requested_model not in listed:
                # Only a warning: servers answer to aliases they don't list (Ollama's "llama3.2" for "llama3.2:latest").
                log.warning("the chat server at %s does not list the model %r (it lists %s)", self.url,
                            self.requested_model, ", ".join(listed[:5]))
            return self.requested_model
        if not listed:
            raise ServerUnavailable(self.url, "offers no models", "load or pull a model in the server (for Ollama: "
                                    "`ollama pull llama3.2`), or name one in Settings ([chat] server_model)")
        if self.model_id != listed[0]:
            log.info("the chat server at %s answers with %s, the first model it lists", self.url, listed[0])
        self.model_id = listed[0]
        return listed[0]

    def _stream(self, messages: list[dict], generation: int | None, max_tokens: int, record: bool) -> Iterator[str]:
        """Request a streamed reply and yield its text deltas. `generation` None: not part of the conversation
        (a connection test): nothing cancels it but `close()`. Ends quietly once cancelled; otherwise every
        failure is a ServerUnavailable."""

        def current() -> bool:
            return generation is None or self.chat_history.is_current(generation)

        try:
            model = self._resolve_model()
        except _Aborted:
            return
        if not current():
            return
        exchange = self._open(cancellable=generation is not None)
        body = {"model": model, "messages": messages, "stream": True, "max_tokens": max_tokens,
                "temperature": self.config.temperature}
        # Not sent: a repetition penalty (no standard field; strict servers refuse unknown ones) and
        # stream_options (older servers refuse it); a server's model is its own, with its own defaults.
        log.debug("asking %s (%s) for a reply: %d messages, at most %d tokens", self.url, model, len(messages),
                  max_tokens)
        sent = time.monotonic()
        deadline = sent + self.timeouts.first_token
        first_at = last_at = None
        chunks, reported_tokens, finished = 0, None, False
        try:
            try:
                response = exchange.request("POST", "/chat/completions", body, deadline)
                if response.status != 200:
                    raise self._http_error(response.status, exchange.error_body(deadline), exchange.key,
                                           "/chat/completions", model)
                if "json" in (response.getheader("Content-Type") or ""):  # a server that does not stream
                    text = self._whole_reply(exchange.read_all(deadline), exchange.key)
                    if text and current():
                        first_at = last_at = time.monotonic()
                        chunks = 1
                        yield text
                    return
                rest = b""  # a line not yet ended
                while True:
                    try:
                        data = exchange.read1(deadline)
                    except TimeoutError:
                        if exchange.aborted or not current():
                            return
                        if finished:
                            return  # a whole reply, whose server kept the line open without [DONE]
                        raise (self._no_reply() if first_at is None else self._stalled()) from None
                    if not data:
                        if exchange.aborted or not current():
                            return
                        if finished:
                            return
                        raise self._broke(first_at is not None, "it closed the connection before the reply's end")
                    progressed = False
                    lines = (rest + data).split(b"\n")
                    rest = lines.pop()
                    if len(rest) > _MAX_LINE_BYTES:
                        raise self._malformed("a line over a megabyte long")
                    for line in lines:
                        line = line.rstrip(b"\r")
                        event = self._event(line)
                        if event is None:
                            continue
                        if event is _DONE_EVENT:
                            return
                        if event.get("error"):
                            raise self._error_event(event["error"], exchange.key)
                        usage = event.get("usage")
                        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                            reported_tokens = usage["completion_tokens"]
                        for choice in event.get("choices") or []:
                            if not isinstance(choice, dict):
                                raise self._malformed("a choice of the stream is not an object")
                            delta = choice.get("delta") or {}
                            if choice.get("finish_reason"):
                                finished = True
                            if not isinstance(delta, dict):
                                raise self._malformed("a delta of the stream is not an object")
                            text = delta.get("content")
                            if isinstance(text, str) and text:
                                if not current():
                                    return
                                last_at = time.monotonic()
                                if first_at is None:
                                    first_at = last_at
                                chunks += 1
                                progressed = True
                                yield text
                                if not current():
                                    return
                            elif delta.get("reasoning_content") or delta.get("reasoning"):
                                progressed = True  # a thinking model thinking: progress, but nothing to say
                    if progressed:
                        deadline = time.monotonic() + self.timeouts.between_chunks
                    if finished:
                        deadline = min(deadline, time.monotonic() + _AFTER_FINISH_S)
            except (OSError, http.client.HTTPException) as exc:
                if exchange.aborted or not current() or finished:
                    return  # cancelled, or a whole reply whose connection then broke
                if isinstance(exc, TimeoutError):  # waiting for the response's headers
                    raise self._no_reply() from None
                if first_at is not None or isinstance(exc, http.client.IncompleteRead):
                    raise self._broke(first_at is not None, _os_reason(exc)) from exc
                raise self._transport_error(exc) from exc
        finally:
            self._done(exchange)
            if record and first_at is not None and current():
                tokens = reported_tokens or chunks
                span = (last_at or first_at) - first_at
                self.last_timings = ReplyTimings(1000 * (first_at - sent), tokens,
                                                 (tokens - 1) / span if span > 0 and tokens > 1 else 0.0)

    # --- reading what the server says ----------------------------------------------------------------------

    def _event(self, line: bytes) -> dict | object | None:
        """One line of the stream: a JSON event (a dict), _DONE_EVENT, or None for a line that carries none.

        Each `data:` line is taken as one event: OpenAI-style streams put every chunk on one line, and
        servers differ in the blank lines between them."""
        if not line or line.startswith(b":"):
            return None  # the blank line ending an event, or a comment (a keep-alive)
        field, _, value = line.partition(b":")
        if field in (b"event", b"id", b"retry"):
            return None
        if field != b"data":
            raise self._malformed(f"a line that is not a server-sent event: {_quote(line)}")
        value = value.strip()
        if value == b"[DONE]":
            return _DONE_EVENT
        try:
            event = json.loads(value)
        except ValueError:
            raise self._malformed(f"an event that is not JSON: {_quote(value)}") from None
        if not isinstance(event, dict):
            raise self._malformed(f"an event that is not a JSON object: {_quote(value)}")
        return event

    def _whole_reply(self, body: bytes, key: str | None) -> str:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and "error" in data:
                raise self._error_event(data["error"], key)
            return data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise self._malformed("its reply is neither an event stream nor a chat completion") from None

    # --- what went wrong, in words -------------------------------------------------------------------------

    def _malformed(self, detail: str) -> ServerUnavailable:
        return ServerUnavailable(self.url, f"sent something Parley can't read ({detail})",
                                 "check that the address is an OpenAI-compatible API's root, ending in /v1")

    def _broke(self, mid_reply: bool, reason: str) -> ServerUnavailable:
        if mid_reply:
            return ServerUnavailable(self.url, f"stopped in the middle of the reply ({reason})",
                                     "check the server and its log; the next turn tries it again")
        return ServerUnavailable(self.url, f"closed the connection without answering ({reason})",
                                 "check that the address is an OpenAI-compatible API, and the server's log")

    def _error_event(self, error: object, key: str | None) -> ServerUnavailable:
        message = error.get("message", error) if isinstance(error, dict) else error
        return ServerUnavailable(self.url, f"reported an error ({_server_text(message, key)})",
                                 "check the server's log; the next turn tries it again")

    def _http_error(self, status: int, body: bytes, key: str | None, path: str, model: str = "") -> ServerUnavailable:
        said = _server_text(_error_message(body), key)
        said = f": {said}" if said else ""
        if status in (401, 403):
            if key:
                return ServerUnavailable(self.url, f"refused the API key (HTTP {status}{said})",
                                         "save the right key in Settings (or set PARLEY_SERVER_KEY)")
            return ServerUnavailable(self.url, f"needs an API key (HTTP {status}{said})",
                                     "save the server's key in Settings (or set PARLEY_SERVER_KEY)")
        if status == 404 and path == "/models":
            return ServerUnavailable(self.url, f"has no model list there (HTTP 404{said})",
                                     "check the address: it should be the API's root, ending in /v1, like "
                                     "http://localhost:11434/v1")
        if status == 404:
            with self._lock:
                listed = self._listed
            offers = f" (it offers: {', '.join(listed[:6])})" if listed else ""
            return ServerUnavailable(self.url, f"has no model {model!r} or no chat endpoint there (HTTP 404{said})",
                                     f"check the model's name in Settings{offers}, or pull or load it in the "
                                     f"server, and that the address ends in /v1")
        if status == 429:
            return ServerUnavailable(self.url, f"is busy or over its rate limit (HTTP 429{said})",
                                     "wait a moment, or check the server's limits")
        if status in (400, 413, 422):
            return ServerUnavailable(self.url, f"refused the request (HTTP {status}{said})",
                                     "the conversation may be too long for the server's context, or the model "
                                     "name wrong; check Settings and the server's log")
        if status >= 500:
            return ServerUnavailable(self.url, f"failed (HTTP {status}{said})",
                                     "check the server's log (it may have run out of memory loading the model)")
        return ServerUnavailable(self.url, f"answered HTTP {status}{said}",
                                 "check that the address is an OpenAI-compatible API's root, ending in /v1")

    def _no_reply(self) -> ServerUnavailable:
        return ServerUnavailable(self.url, f"is not answering (no reply within {self.timeouts.first_token:g} s)",
                                 "it may be busy, or still loading its model; check it, or try again in a moment")

    def _stalled(self) -> ServerUnavailable:
        return ServerUnavailable(self.url, f"stopped in the middle of the reply (nothing for "
                                 f"{self.timeouts.between_chunks:g} s)", "check the server and its log; the next "
                                 "turn tries it again")

    def _transport_error(self, exc: BaseException) -> ServerUnavailable:
        host = self.address.host
        if isinstance(exc, _NameTimeout):
            return ServerUnavailable(self.url, f"could not be found (the name {host} did not resolve within "
                                     f"{self.timeouts.connect:g} s)", "check the address and the network")
        if isinstance(exc, socket.gaierror):
            return ServerUnavailable(self.url, f"could not be found (the name {host} does not resolve)",
                                     "check the address in Settings, and the network")
        if isinstance(exc, ConnectionRefusedError):
            return ServerUnavailable(self.url, "is not answering (connection refused)",
                                     "start the server (for Ollama: `ollama serve`), or check the address and "
                                     "port in Settings")
        if isinstance(exc, _ConnectTimeout):
            return ServerUnavailable(self.url, f"is not answering (no connection within {self.timeouts.connect:g} s)",
                                     "check that it is running and reachable from this computer (address, "
                                     "network, firewall)")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ServerUnavailable(self.url, f"has a certificate this computer does not trust "
                                     f"({exc.verify_message})", "check the address (http:// or https://?)")
        if isinstance(exc, ssl.SSLError):
            return ServerUnavailable(self.url, f"failed to set up an encrypted connection ({exc.reason})",
                                     "check whether the server speaks https:// or plain http://")
        if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN,
                                                      errno.EADDRNOTAVAIL):
            return ServerUnavailable(self.url, f"is unreachable ({_os_reason(exc)})",
                                     "check the address and the network")
        return ServerUnavailable(self.url, f"closed the connection without answering ({_os_reason(exc)})",
                                 "check that the address is an OpenAI-compatible API, and the server's log")


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


# --- the HTTP exchange --------------------------------------------------------------------------------------

class _Aborted(Exception):
    """A request closed on purpose (cancel, reset, close): not the server's fault."""


class _NameTimeout(OSError):
    """The server's name did not resolve in time."""


class _ConnectTimeout(OSError):
    """No connection in time (the name resolved)."""


_DONE_EVENT = object()


class _Exchange:
    """One HTTP request and its response, on a connection of its own (closed after it). `abort()`, from any
    thread, shuts the socket: a read blocked on it returns at once, and the server sees the client go."""

    def __init__(self, address: ServerAddress, connect_timeout: float, key: str | None, cancellable: bool) -> None:
        self.address = address
        self.key = key
        self.cancellable = cancellable
        self.aborted = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._response: http.client.HTTPResponse | None = None
        if address.scheme == "https":
            self._conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                address.host, address.port, timeout=connect_timeout, context=ssl.create_default_context())
        else:
            self._conn = http.client.HTTPConnection(address.host, address.port, timeout=connect_timeout)
        # http.client's hook for opening the socket (an attribute since Python 3.2): ours bounds the name
        # lookup too, which socket.create_connection leaves unbounded.
        self._conn._create_connection = _open_socket

    def request(self, method: str, path: str, body: dict | None, deadline: float) -> http.client.HTTPResponse:
        """Connect, send, and read the status and headers by `deadline`. Raises OSError or HTTPException."""
        try:
            self._conn.connect()
        except TimeoutError:  # the TLS handshake; the TCP connection's own timeout is _ConnectTimeout already
            raise _ConnectTimeout("no connection in time") from None
        with self._lock:
            # Kept here: http.client drops conn.sock when a response says "Connection: close".
            self._sock = self._conn.sock
            if self.aborted:
                self._shutdown()
        headers = {"Accept": "text/event-stream, application/json", "User-Agent": "Parley"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        self._until(deadline)
        self._conn.request(method, self.address.path + path, body=data, headers=headers)
        self._response = self._conn.getresponse()
        return self._response

    def read1(self, deadline: float) -> bytes:
        """What has come of the body (b"" at its end), waiting at most until `deadline`."""
        self._until(deadline)
        return self._response.read1(65536)

    def read_all(self, deadline: float) -> bytes:
        """The whole body (at most _MAX_BODY_BYTES), by `deadline`."""
        parts, size = [], 0
        while size <= _MAX_BODY_BYTES:
            data = self.read1(deadline)
            if not data:
                break
            parts.append(data)
            size += len(data)
        return b"".join(parts)

    def error_body(self, deadline: float) -> bytes:
        """The body of an error response, or b"" if it does not come: the status alone says enough."""
        try:
            return self.read_all(min(deadline, time.monotonic() + 2.0))
        except (OSError, http.client.HTTPException):
            return b""

    def _until(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(remaining)

    def abort(self) -> None:
        """Thread-safe; the reader then sees the end of the stream (or an error) and finds `aborted` set."""
        with self._lock:
            self.aborted = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:
                # socket.socket's own shutdown, also for TLS: SSLSocket.shutdown would drop its SSL object under
                # a reader that may be inside it on another thread.
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def close(self) -> None:
        try:
            if self._response is not None:
                self._response.close()
            self._conn.close()
            if self._sock is not None:
                self._sock.close()
        except OSError:
            pass


def _open_socket(address: tuple[str, int], timeout: float, source_address=None, **_) -> socket.socket:
    """socket.create_connection, with the name lookup bounded by `timeout` too (getaddrinfo has no timeout:
    a resolver that does not answer holds it for 10 s or more)."""
    host, port = address
    deadline = time.monotonic() + timeout
    try:
        ipaddress.ip_address(host)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)  # a literal address: no lookup
    except ValueError:
        infos = _resolve(host, port, timeout)
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining)
            sock.connect(sockaddr)
            sock.settimeout(timeout)
            return sock
        except TimeoutError:
            sock.close()
            last = _ConnectTimeout("connection timed out")
        except OSError as exc:
            sock.close()
            last = exc
    raise last or _ConnectTimeout("connection timed out")


def _resolve(host: str, port: int, timeout: float) -> list:
    result: dict = {}

    def lookup() -> None:
        try:
            result["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=lookup, name="server-name-lookup", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _NameTimeout(f"{host} did not resolve in time")  # the thread ends when the resolver gives up
    if "error" in result:
        raise result["error"]
    return result["infos"]


def _error_message(body: bytes) -> str:
    """The message in an error body: OpenAI's {"error": {"message": …}}, {"error": "…"}, {"detail": …}, or text."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return "" if text.lstrip().startswith("<") else text  # an HTML error page says nothing useful in one line
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message", "")))
        if isinstance(error, dict):
            error = error.get("message", "")
        return str(error)
    return str(data)


def _server_text(text: object, key: str | None) -> str:
    """A server's words, fit for a message: one line, short, and without the key should it echo it."""
    text = " ".join(str(text).split())
    if key:
        text = text.replace(key, "[key]")
    return text[:_SERVER_TEXT_CHARS] + ("…" if len(text) > _SERVER_TEXT_CHARS else "")


def _quote(data: bytes) -> str:
    return repr(data[:60].decode("utf-8", "replace")) + ("…" if len(data) > 60 else "")


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed mid-stream"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the connection closed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


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
