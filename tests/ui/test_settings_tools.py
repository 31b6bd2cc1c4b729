"""The settings window's Tools page, driven as a user would: the remembered facts (from and into memory.json) and
the MCP servers (from and into mcp_servers.toml), with a bad entry refused in words and nothing written."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from assistant.runtime.settings import Settings, load_settings
from assistant.tools.mcp_config import McpServerConfig, load_mcp_servers, save_mcp_servers
from assistant.tools.memory import MemoryBook

from test_settings_window import devices, open_window, store  # noqa: F401 (fixtures)

TOOLS_TAB = 3


@pytest.fixture()
def window(qtbot, store, catalog, devices):  # noqa: F811
    MemoryBook().remember("my car is parked on level 2")
    save_mcp_servers([McpServerConfig("time", "mcp-server-time --local-timezone Asia/Seoul")])
    window = open_window(qtbot, Settings(), store, catalog)
    window.tabs.setCurrentIndex(TOOLS_TAB)
    return window


def test_the_tools_page_shows_and_saves_facts_and_servers(qtbot, window, screenshots):
    page = window.tools_page
    assert [page.facts.item(i).text() for i in range(page.facts.count())] == ["my car is parked on level 2"]
    assert page.servers.item(0, 1).text() == "mcp-server-time --local-timezone Asia/Seoul"
    window.grab().save(str(screenshots / "settings-tools.png"))
    assert not window.save_button.isEnabled()
    page.facts.item(0).setText("my car is parked on level 3")
    page._add_server(McpServerConfig("shop", url="http://127.0.0.1:8765/mcp", allow="always"))
    page.offer_to_model.setChecked(False)
    assert window.save_button.isEnabled()
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert MemoryBook().facts() == ["my car is parked on level 3"]
    assert load_mcp_servers() == [McpServerConfig("time", "mcp-server-time --local-timezone Asia/Seoul"),
                                  McpServerConfig("shop", url="http://127.0.0.1:8765/mcp", allow="always")]
    assert load_settings().tools.offer_to_model is False
    assert not window.save_button.isEnabled()


def test_a_bad_server_is_refused_in_words_and_nothing_is_written(qtbot, window):
    page = window.tools_page
    page.servers.item(0, 1).setText("")
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert "give either command" in window.status.text() and "Nothing was saved" in window.status.text()
    assert load_mcp_servers() == [McpServerConfig("time", "mcp-server-time --local-timezone Asia/Seoul")]
    assert window.tabs.currentIndex() == TOOLS_TAB
