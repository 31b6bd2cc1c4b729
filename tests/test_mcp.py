"""The user's MCP servers, for real: the reference time server (mcp-server-time, started over stdio) and the rig's
server (tests/rig/mcp_rig_server.py, over stdio and streamable HTTP); their tools offered beside the built-in
ones, a tool that changes something asked about first, and servers that hang, die or are not there, each bounded
in time and said in words."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.runtime.settings import SettingsError
from assistant.tools import mcp_servers
from assistant.tools.mcp_config import McpServerConfig, checked_server, load_mcp_servers, save_mcp_servers
from assistant.tools.memory import MemoryBook
from assistant.tools.timers import TimerBook
from assistant.tools.tool import Call
from assistant.tools.toolbox import Toolbox

RIG_SERVER = Path(__file__).parent / "rig" / "mcp_rig_server.py"
TIME_SERVER = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))


def _rig_command() -> str:
    return f"{sys.executable} {RIG_SERVER}"


@pytest.fixture()
def toolbox(tmp_path, monkeypatch):
    monkeypatch.setenv("RIG_NOTES_FILE", str(tmp_path / "notes.txt"))
    boxes = []

    def make(*configs: McpServerConfig, confirm=None) -> Toolbox:
        box = Toolbox(TimerBook(tmp_path / "timers.json"), MemoryBook(tmp_path / "memory.json"), confirm=confirm)
        box.mcp = mcp_servers.McpServers(list(configs), on_problem=problems.append)
        box.mcp.connect_all()
        boxes.append(box)
        return box

    problems: list[str] = []
    make.problems = problems
    yield make
    for box in boxes:
        box.close()


@pytest.fixture()
def http_rig_server(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(RIG_SERVER), "http", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "RIG_NOTES_FILE": str(tmp_path / "n.txt")})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # (until it accepts connections)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None, "the rig's MCP server did not start"
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(10)


def test_real_servers_tools_are_offered_and_called(toolbox, http_rig_server):
    assert TIME_SERVER, "mcp-server-time is installed with the test extras"
    box = toolbox(McpServerConfig("time", f"{TIME_SERVER} --local-timezone Europe/Paris"),
                  McpServerConfig("shop", url=http_rig_server))
    names = [spec["function"]["name"] for spec in box.specs()]
    assert {"get_current_time", "convert_time", "order_status", "write_note", "get_time"} <= set(names)
    assert names.index("get_time") < names.index("get_current_time")  # the built-in ones first
    tokyo = box.run(Call("get_current_time", {"timezone": "Asia/Tokyo"}), "en")
    assert not tokyo.failed and json.loads(tokyo.data)["timezone"] == "Asia/Tokyo"
    order = box.run(Call("order_status", {"order_number": 1234}), "en")
    assert order.data == "Order 1234 was shipped on Monday and arrives on Thursday."
    bad = box.run(Call("get_current_time", {"timezone": "Nowhere/City"}), "en")
    assert bad.failed and bad.said.startswith("That didn't work:") and "Nowhere/City" in bad.said


def test_a_tool_that_changes_something_asks_first(toolbox, tmp_path):
    asked: list[str] = []
    box = toolbox(McpServerConfig("notes", _rig_command()), confirm=lambda question: asked.append(question) or False)
    declined = box.run(Call("write_note", {"text": "buy milk"}), "en")
    assert declined.failed and declined.said == "All right, I won't." and "write_note" in asked[0]
    assert not (tmp_path / "notes.txt").exists()  # nothing half-done
    assert not box.run(Call("order_status", {"order_number": 7}), "en").failed and len(asked) == 1  # read-only
    trusted = toolbox(McpServerConfig("notes", _rig_command(), allow="always"), confirm=lambda question: False)
    assert not trusted.run(Call("write_note", {"text": "buy milk"}), "en").failed
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "buy milk\n"


def test_a_server_that_hangs_costs_the_turn_a_bounded_wait(toolbox, monkeypatch):
    monkeypatch.setattr(mcp_servers, "CALL_TIMEOUT_S", 1.0)
    box = toolbox(McpServerConfig("shop", _rig_command()))
    started = time.monotonic()
    result = box.run(Call("slow_lookup", {"seconds": 30}), "en")
    assert time.monotonic() - started < 8  # (1 s and the session's end; the server sleeps 30)
    assert result.failed and result.said == "Shop did not answer in time."
    assert not box.run(Call("order_status", {"order_number": 1}), "en").failed  # started afresh


def test_a_server_that_dies_mid_call_is_said_and_started_again(toolbox):
    box = toolbox(McpServerConfig("shop", _rig_command()))
    result = box.run(Call("crash", {}), "en")
    assert result.failed and result.said == "That didn't work: the shop server stopped."
    assert box.run(Call("order_status", {"order_number": 2}), "en").data.startswith("Order 2 ")


def test_a_server_that_is_not_there_is_said_once_and_the_rest_works(toolbox):
    box = toolbox(McpServerConfig("ghost", "no-such-mcp-program --flag"), McpServerConfig("away", url="http://127.0.0.1:9/mcp"))
    assert len(toolbox.problems) == 2 and "ghost" in toolbox.problems[0] and "was not found" in toolbox.problems[0]
    assert box.run(Call("calculate", {"expression": "2+2"}), "en").said == "2 plus 2 is 4."


@pytest.mark.parametrize("entry, says", [
    ({}, "give either command"), ({"command": "a", "url": "http://x/mcp"}, "not both or neither"),
    ({"url": "ftp://x"}, "is not a web address"), ({"command": "a", "allow": "never"}, "use \"ask\""),
    ({"command": "a", "port": 3}, "unknown key 'port'"), ({"command": "say 'unclosed"}, "check its quotes"),
])
def test_bad_server_entries_say_what_to_write(entry, says):
    with pytest.raises(SettingsError, match=says):
        checked_server("x", entry)


def test_the_servers_file_round_trips(tmp_path):
    path = tmp_path / "mcp_servers.toml"
    servers = [McpServerConfig("time", "mcp-server-time --local-timezone Asia/Seoul"),
               McpServerConfig("shop", url="http://127.0.0.1:8765/mcp", allow="always")]
    save_mcp_servers(servers, path)
    assert load_mcp_servers(path) == servers
    path.write_text("[servers.x]\ncommand = 5\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="text in quotes"):
        load_mcp_servers(path)


def test_doctor_names_each_mcp_servers_tools_or_what_is_wrong(default_store):
    config = Path(os.environ["PARLEY_CONFIG_DIR"])
    save_mcp_servers([McpServerConfig("shop", _rig_command()), McpServerConfig("ghost", "no-such-mcp-program")],
                     config / "mcp_servers.toml")
    result = subprocess.run([sys.executable, "-m", "assistant", "doctor"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok  ] MCP server shop: 4 tools: crash, order_status, slow_lookup, write_note" in result.stdout
    assert "[warn] MCP server ghost: the MCP server ghost (no-such-mcp-program) is not available: its program was " \
           "not found" in result.stdout
