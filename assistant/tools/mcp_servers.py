"""The tools of the user's MCP servers, offered beside the built-in ones.

Each server has one session, kept open by a thread of its own that runs an asyncio loop (the MCP SDK is async;
Parley's turn thread is not): connecting, listing tools and calling them are handed to that loop and waited for
with a time limit, so a server that hangs or dies costs a turn at most CALL_TIMEOUT_S and a clear answer. A
server that died is started (or reached) again on the next turn that needs it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time

from assistant.runtime.paths import log_dir
from assistant.tools import phrases
from assistant.tools.mcp_config import McpServerConfig
from assistant.tools.tool import Tool, ToolError, ToolResult

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0  # start the program (a Python one takes ~0.7 s here) and say hello
CALL_TIMEOUT_S = 20.0  # one tool call; the turn waits no longer
RETRY_AFTER_S = 30.0  # a server that could not be reached is not tried again sooner


class McpConnection:
    """One MCP server's session, on the thread "mcp-<name>". Thread-safe."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scope = None  # anyio.CancelScope that close() cancels
        self._session = None
        self._ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread: threading.Thread | None = None
        self.dead = False

    def start(self, timeout: float = CONNECT_TIMEOUT_S) -> None:
        """Connect (start the program, or reach the URL) and initialize; raises ConnectionError saying why not."""
        self._thread = threading.Thread(target=self._run, name=f"mcp-{self.config.name}", daemon=True)
        self._thread.start()
        try:
            self._ready.result(timeout)
        except concurrent.futures.TimeoutError:
            self.close()
            raise ConnectionError(f"did not answer within {timeout:.0f} s") from None
        except BaseException as exc:
            self.close()
            raise ConnectionError(_reason(exc)) from None

    def list_tools(self, timeout: float = CALL_TIMEOUT_S) -> list:
        async def listing(session):
            import anyio
            from mcp_types import PaginatedRequestParams

            tools, cursor = [], None
            with anyio.fail_after(timeout):
                while True:
                    page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                    tools += page.tools
                    cursor = page.next_cursor
                    if not cursor:
                        return tools

        return self._call(listing, timeout)

    def call_tool(self, name: str, arguments: dict, timeout: float | None = None):
        timeout = CALL_TIMEOUT_S if timeout is None else timeout
        return self._call(lambda session: session.call_tool(name, arguments, read_timeout_seconds=timeout), timeout)

    def close(self, timeout: float = 5.0) -> None:
        """End the session (a program Parley started is stopped: stdin closed, then SIGTERM, then SIGKILL)."""
        loop, scope = self._loop, self._scope
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # (the loop ended meanwhile)
                if scope is not None:
                    loop.call_soon_threadsafe(scope.cancel)
                else:
                    loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- on the connection's thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._hold())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _hold(self) -> None:
        """Open the transport and the session, and keep them until close(): anyio wants both entered and left in
        one task."""
        import anyio
        from mcp import ClientSession

        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with self._transport() as streams:
                    async with ClientSession(streams[0], streams[1]) as session:
                        await session.initialize()
                        self._session = session
                        self._ready.set_result(None)
                        await anyio.sleep_forever()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
        finally:
            self.dead = True
            if not self._ready.done():
                self._ready.set_exception(ConnectionError("closed before it was ready"))

    def _transport(self):
        if self.config.url:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.config.url)
        from mcp import StdioServerParameters, stdio_client

        argv = self.config.argv()
        log_dir().mkdir(parents=True, exist_ok=True)
        # The server's own log lines go to a file of their own, not into Parley's terminal.
        errlog = open(log_dir() / f"mcp-{self.config.name}.log", "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        return stdio_client(StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ)), errlog=errlog)

    def _call(self, work, timeout: float):
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        if self.dead or self._session is None or self._loop is None:
            raise ConnectionError("not connected")
        future = asyncio.run_coroutine_threadsafe(work(self._session), self._loop)
        try:
            return future.result(timeout + 2.0)  # (the SDK's own limit comes first; this is the backstop)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None
        except TimeoutError:
            raise
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise TimeoutError from None
            if exc.code == CONNECTION_CLOSED:
                self.dead = True
                raise ConnectionError("the server closed the connection") from None
            raise


def _reason(exc: BaseException) -> str:
    """The first real cause inside the SDK's exception groups, in a few words."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"its program was not found ({exc.filename or exc})"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class McpServers:
    """The servers of mcp_servers.toml: connected in the background at start, their tools listed once."""

    def __init__(self, configs: list[McpServerConfig], on_problem=lambda message: None) -> None:
        self.configs = {config.name: config for config in configs}
        self._on_problem = on_problem
        self._lock = threading.Lock()
        self._connections: dict[str, McpConnection] = {}
        self._tools: dict[str, list] = {}  # server → its MCP tools
        self._failed_at: dict[str, float] = {}
        self._closed = False

    def start(self) -> threading.Thread:
        """Connect to every server on a thread of its own; returns it (tests wait for it)."""
        thread = threading.Thread(target=self.connect_all, name="mcp-connect", daemon=True)
        thread.start()
        return thread

    def connect_all(self) -> None:
        for name in self.configs:
            self._connection(name)

    def tools(self, taken: set[str]) -> dict[str, Tool]:
        """Every connected server's tools as Parley tools; a name already `taken` gets its server's name first."""
        tools: dict[str, Tool] = {}
        with self._lock:
            listed = dict(self._tools)
        for server, mcp_tools in listed.items():
            for mcp_tool in mcp_tools:
                name = mcp_tool.name if mcp_tool.name not in taken | set(tools) else f"{server}_{mcp_tool.name}"
                tools[name] = self._tool(server, mcp_tool, name)
        return tools

    def listed(self, server: str) -> list:
        """The MCP tools `server` listed (none when it was not reached)."""
        with self._lock:
            return list(self._tools.get(server, []))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections.values())
            self._connections.clear()
        closers = [threading.Thread(target=c.close, daemon=True) for c in connections]  # (in parallel: ~0.2 s each)
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(6)

    def _connection(self, name: str) -> McpConnection | None:
        with self._lock:
            connection = self._connections.get(name)
            if self._closed or (connection is not None and not connection.dead):
                return connection
            if time.monotonic() - self._failed_at.get(name, -RETRY_AFTER_S) < RETRY_AFTER_S:
                return None
        config = self.configs[name]
        connection = McpConnection(config)
        started = time.perf_counter()
        try:
            connection.start()
            tools = connection.list_tools()
        except (ConnectionError, TimeoutError) as exc:
            connection.close()
            with self._lock:
                self._failed_at[name] = time.monotonic()
            where = config.url or config.command
            log.warning("MCP server %s (%s) is not available: %s", name, where, exc)
            self._on_problem(f"the MCP server {name} ({where}) is not available: {exc}")
            return None
        with self._lock:
            if self._closed:
                connection.close()
                return None
            self._connections[name], self._tools[name] = connection, tools
        log.info("MCP server %s connected in %.0f ms: %s", name, 1000 * (time.perf_counter() - started),
                 ", ".join(t.name for t in tools) or "no tools")
        return connection

    def _tool(self, server: str, mcp_tool, name: str) -> Tool:
        config = self.configs[server]
        annotations = getattr(mcp_tool, "annotations", None)
        read_only = bool(getattr(annotations, "read_only_hint", False))

        def handler(arguments: dict, language: str) -> ToolResult:
            connection = self._connection(server)
            if connection is None:
                raise ToolError(phrases.say("tool_failed", language, why=f"the {server} server is not available"))
            started = time.perf_counter()
            try:
                result = connection.call_tool(mcp_tool.name, arguments)
            except TimeoutError:
                log.warning("MCP tool %s of %s did not answer within %.0f s", mcp_tool.name, server, CALL_TIMEOUT_S)
                connection.close(timeout=0.5)  # (a hung server is started afresh next time)
                connection.dead = True
                raise ToolError(phrases.say("tool_timed_out", language, server=server)) from None
            except ConnectionError as exc:
                log.warning("MCP server %s failed during %s: %s", server, mcp_tool.name, exc)
                raise ToolError(phrases.say("tool_failed", language, why=f"the {server} server stopped")) from None
            text = "\n".join(getattr(block, "text", f"[{block.type}]") for block in result.content)
            log.info("MCP tool %s of %s answered in %.0f ms", mcp_tool.name, server,
                     1000 * (time.perf_counter() - started))
            if result.is_error:
                raise ToolError(phrases.say("tool_failed", language, why=text.strip()[:200] or "an error"))
            return ToolResult("", text)  # the chat model says what it means

        return Tool(name, (mcp_tool.description or mcp_tool.name).strip()[:400],
                    mcp_tool.input_schema or {"type": "object", "properties": {}}, handler,
                    changes_outside=config.allow != "always" and not read_only, acts=not read_only)
