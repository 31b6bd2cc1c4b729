"""The settings window's Other programs page, driven as a user would: turning the API on, its port, the network and
Wyoming switches saved into settings.toml; two servers on one port refused in words; what runs now shown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from assistant.runtime.settings import ApiSettings, Settings, load_settings

from test_settings_window import devices, open_window, store  # noqa: F401 (fixtures)

API_TAB = 4


@pytest.fixture()
def window(qtbot, store, catalog, devices):  # noqa: F811
    window = open_window(qtbot, Settings(), store, catalog)
    window.tabs.setCurrentIndex(API_TAB)
    return window


def test_the_page_turns_the_api_on_and_saves_its_ports(qtbot, window, screenshots):
    page = window.api_page
    assert window.tabs.tabText(API_TAB).replace("&", "") == "Other programs"
    assert not page.enabled.isChecked() and not page.port.isEnabled() and not page.wyoming_port.isEnabled()
    assert "Not serving" in page.serving.text()
    qtbot.mouseClick(page.enabled, Qt.MouseButton.LeftButton, pos=page.enabled.rect().bottomLeft() / 2)
    assert page.enabled.isChecked() and page.port.isEnabled() and not page.wyoming_port.isEnabled()
    page.port.setValue(9123)
    assert page.address.text() == "http://127.0.0.1:9123/v1"
    page.wyoming.setChecked(True)
    assert page.wyoming_port.isEnabled()
    page.network.setChecked(True)
    assert "0.0.0.0:9123" in page.address.text()
    page.show_serving(("OpenAI-style API at http://0.0.0.0:9123/v1", "Wyoming server at tcp://0.0.0.0:10300"))
    QApplication.processEvents()  # (the page lays itself out again for the two lines)
    assert page.serving.height() >= 2 * page.serving.fontMetrics().lineSpacing()
    window.grab().save(str(screenshots / "settings-other-programs.png"))
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert load_settings().api == ApiSettings(enabled=True, port=9123, network=True, wyoming=True, wyoming_port=10300)
    assert not window.save_button.isEnabled()


def test_two_servers_on_one_port_are_refused_in_words_and_nothing_is_written(qtbot, window):
    page = window.api_page
    page.enabled.setChecked(True)
    page.wyoming.setChecked(True)
    page.wyoming_port.setValue(page.port.value())
    window.tabs.setCurrentIndex(0)
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert "both ask for port 8765" in window.status.text() and "Nothing was saved" in window.status.text()
    assert window.tabs.currentIndex() == API_TAB
    assert load_settings().api == ApiSettings()
