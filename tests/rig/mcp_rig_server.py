"""A small MCP server for the tests, on the MCP SDK's own server (`python -m rig.mcp_rig_server [stdio | http
PORT]`): a shop's order lookup (read-only), a note writer that changes a file (so the person is asked first), a tool
that hangs and one that kills the server mid-call."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("parley-rig")
NOTES = Path(os.environ.get("RIG_NOTES_FILE", "notes.txt"))


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def order_status(order_number: int) -> str:
    """Look up the delivery status of an order in the shop, by its order number."""
    return f"Order {order_number} was shipped on Monday and arrives on Thursday."


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def write_note(text: str) -> str:
    """Add a line to the user's notes file."""
    with NOTES.open("a", encoding="utf-8") as notes:
        notes.write(text + "\n")
    return "The note was written."


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def slow_lookup(seconds: float) -> str:
    """A lookup that takes `seconds`."""
    time.sleep(seconds)
    return "done"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def crash() -> str:
    """Ends the server in the middle of the call."""
    os._exit(3)


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
