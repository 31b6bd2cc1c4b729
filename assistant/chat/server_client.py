"""The chat server's side of `server_engine.ServerChat`: its requests (`ServerClient`) — listing the models,
choosing one, asking for a reply and streaming it back as server-sent events — each on an `Exchange` of its own
that `cancel()` can shut from another thread."""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Iterator

from assistant.chat.prompt import ReplyTimings
from assistant.servers.server_address import ServerUnavailable
from assistant.servers.server_http import Aborted, Exchange
from assistant.chat.server_replies import DONE_EVENT, ServerReplies, os_reason
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)

_AFTER_FINISH_S = 2.0  # after finish_reason, how long to wait for the usage chunk and [DONE] before calling it done
_MAX_LINE_BYTES = 1 << 20  # one event of a chat stream is a few hundred bytes; a megabyte without a newline is not SSE


class ServerClient(ServerReplies):
    """ServerChat's requests to its server. Uses the chat's `address`, `url`, `timeouts`, `requested_model`,
    `model_id`, `config`, `chat_history` and `last_timings`, its `_key_reader`, and `_exchanges` and `_listed` under
    `_lock` (all set by `ServerChat.__init__`)."""

    # --- requests ------------------------------------------------------------------------------------------

    def _key(self) -> str | None:
        try:
            return self._key_reader()
        except ModelError as exc:  # a broken key file: say so, as a server that can't be used
            raise ServerUnavailable(self.url, "can't be sent its API key", str(exc)) from None

    def _open(self, cancellable: bool) -> Exchange:
        exchange = Exchange(self.address, self.timeouts.connect, self._key(), cancellable)
        with self._lock:
            self._exchanges.add(exchange)
        return exchange

    def _done(self, exchange: Exchange) -> None:
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
                    raise Aborted() from None
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

    def _stream(self, messages: list[dict], generation: int | None, max_tokens: int, record: bool,
                tools: list[dict] | None = None) -> Iterator[str | dict]:
        """Request a streamed reply and yield its text deltas (and, with `tools` offered, the entries of its
        `tool_calls` deltas, as dicts). `generation` None: not part of the conversation
        (a connection test): nothing cancels it but `close()`. Ends quietly once cancelled; otherwise every
        failure is a ServerUnavailable."""

        def current() -> bool:
            return generation is None or self.chat_history.is_current(generation)

        try:
            model = self._resolve_model()
        except Aborted:
            return
        if not current():
            return
        exchange = self._open(cancellable=generation is not None)
        body = {"model": model, "messages": messages, "stream": True, "max_tokens": max_tokens,
                "temperature": self.config.temperature}
        if tools:
            body["tools"] = tools
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
                        if event is DONE_EVENT:
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
                            elif isinstance(delta.get("tool_calls"), list) and delta["tool_calls"]:
                                if first_at is None:
                                    first_at = time.monotonic()
                                progressed = True
                                for call in delta["tool_calls"]:
                                    if isinstance(call, dict):
                                        yield call
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
                    raise self._broke(first_at is not None, os_reason(exc)) from exc
                raise self._transport_error(exc) from exc
        finally:
            self._done(exchange)
            if record and first_at is not None and current():
                tokens = reported_tokens or chunks
                span = (last_at or first_at) - first_at
                self.last_timings = ReplyTimings(1000 * (first_at - sent), tokens,
                                                 (tokens - 1) / span if span > 0 and tokens > 1 else 0.0)
