"""Which server, and how long to wait for it: the address the user gave (`ServerAddress`), the longest waits
(`ServerTimeouts`), and the error when it can't answer (`ServerUnavailable`). Used by the chat server engine
(`chat/server_engine.py`) and the speech-to-text server (`transcribe/server_speech.py`); the waits are the chat's.

The address is what the user gives, as the API's root: `http://localhost:11434/v1`. Also accepted: the
same without `/v1` (`http://localhost:11434`, `/v1` is added), with a trailing slash, or the whole
`…/v1/chat/completions` endpoint pasted from a server's documentation; `https://` for a remote server. A path
other than `/v1` (`https://host/api/v1`) is kept as it is, so long as it ends in `/v1`. The address must not
hold a user name or password: an API key goes in its own file (see `server_key`), never in settings.toml.

Timeouts (`ServerTimeouts`): 3 s to connect (and to look up the name: getaddrinfo has no timeout of its own,
so it runs on a helper thread). 15 s from the request to the first token: a server may be loading its model
for that request (Ollama loads on demand, and unloads after five idle minutes), but the user is waiting in
silence, and the local model answers sooner than a server that takes longer. 10 s between later chunks:
every server streams a few tokens a second at the very least, so ten seconds of nothing in the middle of a
sentence means it is stuck, and the user has been listening to silence mid-sentence. These are the longest
waits for progress, whatever the server sends meanwhile: keep-alive comments do not count as progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from assistant.servers.server_key import KEY_ENV
from assistant.models.errors import ModelError


class ServerUnavailable(ModelError):
    """A server could not answer. The message names the server (`service`: "chat server") and its address (never
    the API key) and says what to do; `url` is that address and `problem` completes "the server at URL …" (for the
    fallback's note: "is not answering (connection refused)")."""

    def __init__(self, url: str, problem: str, fix: str, service: str = "chat server") -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"the {service} at {url} {problem}; {fix}")


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
    def parse(cls, url: str, service: str = "chat server", key_env: str = KEY_ENV,
              example: str = "http://localhost:11434/v1 (Ollama) or http://localhost:1234/v1 (LM Studio)",
              ) -> ServerAddress:
        """Raises ServerUnavailable, saying how to write it (like `example`), for something that is not a server
        address; `service` and `key_env` name the server and its key's variable in the messages."""
        text = url.strip()
        if text and "://" not in text:
            text = "http://" + text  # "localhost:11434/v1": a host typed without its scheme
        parts = urlsplit(text)
        shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else url.strip()[:80]
        example = f"write it like {example}"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerUnavailable(shown or "(no address)", "is not a server address", example, service)
        if parts.username is not None or parts.password is not None:
            # Never shown: the part before "@" may be a password.
            raise ServerUnavailable(f"{parts.scheme}://{parts.hostname}", "has a user name or password in its "
                                    "address", f"remove it from the address, and save an API key in Settings "
                                    f"(or {key_env}) if the server needs one", service)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ServerUnavailable(shown, "has a port that is not a number from 1 to 65535", example,
                                    service) from None
        path = parts.path.rstrip("/")
        for suffix in ("/chat/completions", "/models", "/audio/transcriptions", "/audio/speech"):  # pasted whole
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
