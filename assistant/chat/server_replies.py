"""Reading what the chat server says: the events of its stream, a reply it did not stream, and what went wrong,
in words that name the server and say what to do (`ServerReplies`, a part of `server_engine.ServerChat`)."""

from __future__ import annotations

import errno
import json
import socket
import ssl

from assistant.servers.server_address import ServerUnavailable
from assistant.servers.server_http import ConnectTimeout, NameTimeout, os_reason  # noqa: F401  (os_reason: used from here too)

_SERVER_TEXT_CHARS = 200  # how much of a server's own error message goes into ours

DONE_EVENT = object()  # the stream's end (`data: [DONE]`), as `_event` reads it


class ServerReplies:
    """What ServerChat reads from its server, and its problems in words. Uses the chat's `url`, `address`,
    `timeouts`, and the model list (`_listed`, under `_lock`) for a model the server lacks."""

    # --- reading what the server says ----------------------------------------------------------------------

    def _event(self, line: bytes) -> dict | object | None:
        """One line of the stream: a JSON event (a dict), DONE_EVENT, or None for a line that carries none.

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
            return DONE_EVENT
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
        if isinstance(exc, NameTimeout):
            return ServerUnavailable(self.url, f"could not be found (the name {host} did not resolve within "
                                     f"{self.timeouts.connect:g} s)", "check the address and the network")
        if isinstance(exc, socket.gaierror):
            return ServerUnavailable(self.url, f"could not be found (the name {host} does not resolve)",
                                     "check the address in Settings, and the network")
        if isinstance(exc, ConnectionRefusedError):
            return ServerUnavailable(self.url, "is not answering (connection refused)",
                                     "start the server (for Ollama: `ollama serve`), or check the address and "
                                     "port in Settings")
        if isinstance(exc, ConnectTimeout):
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
            return ServerUnavailable(self.url, f"is unreachable ({os_reason(exc)})",
                                     "check the address and the network")
        return ServerUnavailable(self.url, f"closed the connection without answering ({os_reason(exc)})",
                                 "check that the address is an OpenAI-compatible API, and the server's log")


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
