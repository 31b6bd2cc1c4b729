"""`parley serve`'s servers (and the app's, beside the conversation) on threads of their own: the OpenAI-shaped HTTP
API (uvicorn) and the Wyoming server (its asyncio loop), sharing one set of engines. Bound to 127.0.0.1 unless told
otherwise; beyond this computer the HTTP API asks for a token (kept like a server key: a file beside settings.toml, or
PARLEY_API_TOKEN)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import threading
import time
from pathlib import Path

from assistant.api.engine_jobs import EngineJobs

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def api_token(host: str) -> tuple[str | None, Path | None]:
    """The token the HTTP API asks for on `host` (None on this computer only), and the file it is kept in; a new
    one is made and kept the first time."""
    from assistant.servers.server_key import API_TOKEN, read_server_key, save_server_key, server_key_path

    if is_loopback(host):
        return None, None
    token = read_server_key(API_TOKEN)
    if token is None:
        token = secrets.token_urlsafe(24)
        save_server_key(token, API_TOKEN)
    return token, server_key_path(API_TOKEN)


class HttpApi:
    """The HTTP API on `host`:`port` (0: a free port), served by uvicorn on the thread "api-http"."""

    def __init__(self, jobs: EngineJobs, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
        import uvicorn

        from assistant.api.openai_routes import build_app

        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP: asyncio turns Nagle off only on such sockets (without it every response waited ~44 ms).
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise OSError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another `parley serve` "
                          f"running? Choose another port") from None
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(build_app(jobs, token), log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="api-http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP API did not start; details are in the log file")
            time.sleep(0.01)

    def stop(self, timeout: float = 2.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()


class WyomingApi:
    """The Wyoming server on `host`:`port`, on the thread "api-wyoming" (its own asyncio loop)."""

    def __init__(self, jobs: EngineJobs, host: str = "127.0.0.1", port: int = 10300) -> None:
        self.jobs, self.host, self.port = jobs, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="api-wyoming", daemon=True)

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise OSError(f"cannot serve Wyoming on {self.uri} ({self._error}); choose another port") from None

    def stop(self, timeout: float = 2.0) -> None:
        if self._loop is not None and self._server is not None and self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(timeout)
            except Exception:  # (a server already gone)
                log.debug("the Wyoming server's stop failed", exc_info=True)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _run(self) -> None:
        from functools import partial

        from wyoming.server import AsyncServer

        from assistant.api.wyoming_service import WyomingHandler, describe

        self._loop = asyncio.new_event_loop()
        try:
            self._server = AsyncServer.from_uri(f"tcp://{self.host}:{self.port}")
            info = describe(self.jobs)
            self._loop.run_until_complete(self._server.start(partial(WyomingHandler, self.jobs, info)))
            sockets = getattr(getattr(self._server, "_server", None), "sockets", None)
            if sockets:
                self.port = sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()


class ApiServers:
    """The HTTP API and, with `wyoming_port`, the Wyoming server, on one set of engines: started and stopped together."""

    def __init__(self, engines, host: str = "127.0.0.1", port: int = 8765, wyoming_port: int | None = None) -> None:
        self.jobs = EngineJobs(engines)
        self.host, self.port, self.wyoming_port = host, port, wyoming_port
        self.token_file: Path | None = None
        self._running: list = []

    def start(self) -> list[str]:
        """Start them; the lines that say where they are. OSError, saying what to change, when one cannot listen
        (then none runs)."""
        token, self.token_file = api_token(self.host)
        try:
            http = HttpApi(self.jobs, self.host, self.port, token)
            http.start()
            self._running.append(http)
            lines = [f"OpenAI-style API at {http.url}" + (f" (token: in {self.token_file})" if token else "")]
            if self.wyoming_port is not None:
                wyoming = WyomingApi(self.jobs, self.host, self.wyoming_port)
                wyoming.start()
                self._running.append(wyoming)
                lines.append(f"Wyoming server at {wyoming.uri}")
        except BaseException:
            self.stop()
            raise
        return lines

    def stop(self) -> None:
        while self._running:
            self._running.pop().stop()
