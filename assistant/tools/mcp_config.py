"""The user's MCP servers: mcp_servers.toml beside settings.toml, one table per server —

    [servers.time]
    command = "mcp-server-time --local-timezone Europe/Paris"   # started by Parley, spoken to on stdin/stdout
    allow = "ask"                                               # ask before a tool that changes things, or "always"

    [servers.notes]
    url = "http://127.0.0.1:8765/mcp"                           # a server already running (streamable HTTP)

Read into frozen dataclasses, checked with messages that say what is wrong, written atomically.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from assistant.runtime.atomic_file import write_atomically
from assistant.runtime.paths import config_dir
from assistant.runtime.settings import SettingsError, is_web_address

ALLOW = ("ask", "always")


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: started from `command`, or reached at `url`."""

    name: str
    command: str = ""
    url: str = ""
    allow: str = "ask"  # "ask": the person is asked before a tool that may change something; "always": never asked

    def argv(self) -> list[str]:
        return shlex.split(self.command)


def mcp_servers_path() -> Path:
    return config_dir() / "mcp_servers.toml"


def load_mcp_servers(path: Path | None = None) -> list[McpServerConfig]:
    """The servers of `path` (none when it does not exist). Raises SettingsError saying what is wrong."""
    path = path or mcp_servers_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: not a readable TOML file ({exc}); fix it, or delete it to have no MCP "
                            "servers") from exc
    unknown = set(data) - {"servers"}
    if unknown:
        raise SettingsError(f"{path}: unknown section {sorted(unknown)[0]!r}; servers go in [servers.NAME] tables")
    servers = data.get("servers", {})
    if not isinstance(servers, dict):
        raise SettingsError(f"{path}: [servers] must hold one table per server, like [servers.time]")
    return [checked_server(name, entry, str(path)) for name, entry in servers.items()]


def checked_server(name: str, entry: object, source: str = "MCP server") -> McpServerConfig:
    """One server's entry, checked. Raises SettingsError naming the server and what to write."""
    where = f"{source}: [servers.{name}]"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name):
        raise SettingsError(f"{where}: a server's name is 1 to 40 letters, digits, - or _")
    if not isinstance(entry, dict):
        raise SettingsError(f"{where} must be a table with command or url")
    unknown = set(entry) - {"command", "url", "allow"}
    if unknown:
        raise SettingsError(f"{where}: unknown key {sorted(unknown)[0]!r}; keys are command, url and allow")
    command, url, allow = entry.get("command", ""), entry.get("url", ""), entry.get("allow", "ask")
    if not all(isinstance(value, str) for value in (command, url, allow)):
        raise SettingsError(f"{where}: command, url and allow are text in quotes")
    if bool(command.strip()) == bool(url.strip()):
        raise SettingsError(f"{where}: give either command (a program Parley starts, e.g. \"mcp-server-time\") or url "
                            "(a server already running, e.g. \"http://127.0.0.1:8765/mcp\"), not both or neither")
    if url and not is_web_address(url):
        raise SettingsError(f"{where}: url = {url!r} is not a web address; write it like http://127.0.0.1:8765/mcp")
    if command:
        try:
            shlex.split(command)
        except ValueError as exc:
            raise SettingsError(f"{where}: command = {command!r} cannot be read ({exc}); check its quotes") from None
    if allow not in ALLOW:
        raise SettingsError(f"{where}: allow = {allow!r}; use \"ask\" (before a tool that changes things) or "
                            "\"always\"")
    return McpServerConfig(name, command.strip(), url.strip(), allow)


def save_mcp_servers(servers: list[McpServerConfig], path: Path | None = None) -> Path:
    tables = {s.name: {k: v for k, v in (("command", s.command), ("url", s.url), ("allow", s.allow)) if v}
              for s in servers}
    return write_atomically(path or mcp_servers_path(), tomli_w.dumps({"servers": tables}).encode("utf-8"))
