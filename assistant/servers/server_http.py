"""One HTTP request to the chat server and its response (`Exchange`), on a connection of its own.

HTTP is spoken with the standard library's http.client, not `requests`, for three reasons: the socket stays
in our hands, so `cancel()` from another thread shuts it at once (the server sees the client go and stops
generating); the read timeout can change during one response (long for the first token, short between
chunks); and nothing from the environment joins the request: no proxy variables, no ~/.netrc credentials
(requests reads both), so the only computer Parley talks to is the one the user named (for https, OpenSSL's
SSL_CERT_FILE still says which certificates to trust, as everywhere). Each request has a
connection of its own, closed after it: nothing goes stale between turns (a server restarted meanwhile), and
a cancel closes exactly the one reply's; the cost, a TLS handshake per turn, matters only for remote https.

The name lookup is bounded too: getaddrinfo has no timeout of its own, so it runs on a helper thread.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from assistant.servers.server_address import ServerAddress

_MAX_BODY_BYTES = 8 << 20  # a model list or an error page; more is not an answer to those requests


class Aborted(Exception):
    """A request closed on purpose (cancel, reset, close): not the server's fault."""


class NameTimeout(OSError):
    """The server's name did not resolve in time."""


class ConnectTimeout(OSError):
    """No connection in time (the name resolved)."""



class Exchange:
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

    def request(self, method: str, path: str, body: dict | bytes | None, deadline: float,
                content_type: str = "application/json") -> http.client.HTTPResponse:
        """Connect, send `body` (a dict as JSON, or bytes of `content_type`), and read the status and headers by
        `deadline`. Raises OSError or HTTPException."""
        try:
            self._conn.connect()
        except TimeoutError:  # the TLS handshake; the TCP connection's own timeout is ConnectTimeout already
            raise ConnectTimeout("no connection in time") from None
        with self._lock:
            # Kept here: http.client drops conn.sock when a response says "Connection: close".
            self._sock = self._conn.sock
            if self.aborted:
                self._shutdown()
        headers = {"Accept": "text/event-stream, application/json", "User-Agent": "Parley"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
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
            last = ConnectTimeout("connection timed out")
        except OSError as exc:
            sock.close()
            last = exc
    raise last or ConnectTimeout("connection timed out")


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
        raise NameTimeout(f"{host} did not resolve in time")  # the thread ends when the resolver gives up
    if "error" in result:
        raise result["error"]
    return result["infos"]


def os_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused")."""
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed mid-stream"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the connection closed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


@dataclass(frozen=True)
class RequestTimeouts:
    """The longest waits for one request, in seconds: to connect, and for the whole answer (a server may load its
    model first)."""

    connect: float = 3.0
    total: float = 30.0


def post_for_body(address: ServerAddress, path: str, body: dict | bytes, *, key_reader, timeouts: RequestTimeouts,
                  service: str, action: str, fix: str, content_type: str = "application/json",
                  key_fix: str = "save the right key in Settings") -> bytes:
    """POST `body` to the server at `address` and return the body of its 200 answer, all within `timeouts`.
    Anything else raises ServerUnavailable naming the `service` and saying what went wrong ("could not `action`")
    and what to do (`fix`; `key_fix` for a refused key): a key that can't be read, no answer, a refused key, another
    status."""
    from assistant.models.errors import ModelError
    from assistant.servers.server_address import ServerUnavailable

    url = address.display
    try:
        key = key_reader()
    except ModelError as exc:  # a broken key file: said as a server that can't be used
        raise ServerUnavailable(url, "can't be sent its API key", str(exc), service) from None
    exchange = Exchange(address, timeouts.connect, key, cancellable=False)
    try:
        deadline = time.monotonic() + timeouts.total
        response = exchange.request("POST", path, body, deadline, content_type)
        data = exchange.read_all(deadline)
    except (OSError, http.client.HTTPException) as exc:
        raise ServerUnavailable(url, f"is not answering ({os_reason(exc)})", fix, service) from None
    finally:
        exchange.close()
    if response.status in (401, 403):
        raise ServerUnavailable(url, f"refused Parley's API key (HTTP {response.status})",
                                key_fix, service)
    if response.status != 200:
        said = data.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ServerUnavailable(url, f"could not {action} (HTTP {response.status}"
                                f"{': ' + said[0][:200] if said else ''})", fix, service)
    return data
