"""The settings window's Tools page: whether Parley does things (timers, sums, memory, opening things) and lets the
chat model call tools, what it remembers (the facts it was told, editable), and the user's MCP servers. The facts
and the servers are files of their own (memory.json, mcp_servers.toml); they are written when the window saves."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from assistant.runtime.settings import SettingsError, ToolsSettings
from assistant.tools.mcp_config import McpServerConfig, checked_server, load_mcp_servers, save_mcp_servers
from assistant.tools.memory import MemoryBook
from ui.form_layout import Form, column_of, hint, row_of

_ALLOW_LABELS = {"ask": "Ask me first", "always": "Always allow"}


class ToolsPage(QWidget):
    """The page; `changed` whenever the person edits anything on it."""

    changed = Signal()

    def __init__(self, form_list: list[Form], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory = MemoryBook()
        self._saved_facts: list[str] = []
        self._saved_servers: list[McpServerConfig] = []
        form = Form(self)
        form_list.append(form)

        self.enabled = QCheckBox("Let Parley &do things: timers and alarms, the time, sums, conversions, "
                                 "remembering, opening apps", self)
        self.offer_to_model = QCheckBox("Let the &chat model call the tools too (otherwise only the spoken "
                                        "commands Parley knows)", self)
        for box in (self.enabled, self.offer_to_model):
            box.toggled.connect(self.changed)
        self.enabled.toggled.connect(self.offer_to_model.setEnabled)
        form.add_row("Doing things:", column_of(self.enabled, self.offer_to_model))
        form.add_gap()

        self.facts = QListWidget(self)
        self.facts.setAccessibleName("What Parley remembers")
        self.facts.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.facts.itemChanged.connect(self.changed)
        self.facts.setMinimumHeight(110)
        self.facts.setMaximumHeight(180)
        add_fact, remove_fact = QPushButton("&Add", self), QPushButton("&Remove", self)
        add_fact.clicked.connect(self._add_fact)
        remove_fact.clicked.connect(lambda: self._remove_selected(self.facts))
        form.add_row("Remembered:", column_of(
            self.facts, row_of(add_fact, remove_fact),
            hint("Say \"remember that…\" to add a fact; Parley's replies take them into account. Double-click to "
                 "edit.", self)))
        form.add_gap()

        self.servers = QTableWidget(0, 3, self)
        self.servers.setAccessibleName("MCP servers")
        self.servers.setHorizontalHeaderLabels(["Name", "Command or URL", "Before a change"])
        self.servers.horizontalHeaderItem(2).setToolTip("What Parley does before one of the server's tools changes "
                                                        "something outside Parley")
        self.servers.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.servers.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.servers.verticalHeader().hide()
        self.servers.setMinimumHeight(120)
        self.servers.setMaximumHeight(200)
        self.servers.itemChanged.connect(self.changed)
        add_server, remove_server = QPushButton("Add &server", self), QPushButton("Re&move", self)
        add_server.clicked.connect(lambda: self._add_server(McpServerConfig(self._free_name(), "mcp-server-time")))
        remove_server.clicked.connect(lambda: self._remove_selected(self.servers))
        form.add_row("MCP servers:", column_of(
            self.servers, row_of(add_server, remove_server),
            hint("Your own tools, from Model Context Protocol servers: a program Parley starts (e.g. "
                 "mcp-server-time --local-timezone Europe/Paris) or the URL of one already running "
                 "(http://127.0.0.1:8765/mcp). Their tools are offered to the chat model from the next start.", self)))

    # --- the window's interface ----------------------------------------------------------------------------------

    def show_settings(self, tools: ToolsSettings) -> None:
        """Show `tools` and the facts and servers as their files hold them now."""
        self.enabled.setChecked(tools.enabled)
        self.offer_to_model.setChecked(tools.offer_to_model)
        self.offer_to_model.setEnabled(tools.enabled)
        self._saved_facts = self.memory.facts()
        self.facts.clear()
        for fact in self._saved_facts:
            self.facts.addItem(self._fact_item(fact))
        try:
            self._saved_servers = load_mcp_servers()
        except SettingsError:
            self._saved_servers = []  # (the app said what is wrong with the file; saving here writes a good one)
        self.servers.setRowCount(0)
        for server in self._saved_servers:
            self._add_server(server)

    def tools_settings(self) -> ToolsSettings:
        return ToolsSettings(enabled=self.enabled.isChecked(), offer_to_model=self.offer_to_model.isChecked())

    def has_changes(self) -> bool:
        return self._facts() != self._saved_facts or self._servers_as_shown() != self._saved_servers

    def check(self) -> str:
        """What is wrong with the servers as shown ("" when nothing): said instead of saving."""
        try:
            self._servers()
        except SettingsError as exc:
            return str(exc)
        return ""

    def save(self) -> None:
        """Write the facts and the servers (atomically). Raises SettingsError or OSError."""
        servers = self._servers()
        facts = self._facts()
        if facts != self._saved_facts:
            self.memory.replace_all(facts)
        if servers != self._saved_servers:
            save_mcp_servers(servers)
        self._saved_facts, self._saved_servers = self.memory.facts(), servers

    # --- editing -------------------------------------------------------------------------------------------------

    def _fact_item(self, fact: str) -> QListWidgetItem:
        item = QListWidgetItem(fact)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        return item

    def _add_fact(self) -> None:
        item = self._fact_item("")
        self.facts.addItem(item)
        self.facts.editItem(item)

    def _remove_selected(self, view) -> None:
        rows = sorted({index.row() for index in view.selectedIndexes()} or {view.currentRow()}, reverse=True)
        for row in rows:
            if row >= 0:
                view.takeItem(row) if isinstance(view, QListWidget) else view.removeRow(row)
        self.changed.emit()

    def _add_server(self, server: McpServerConfig) -> None:
        row = self.servers.rowCount()
        self.servers.insertRow(row)
        self.servers.setItem(row, 0, QTableWidgetItem(server.name))
        self.servers.setItem(row, 1, QTableWidgetItem(server.command or server.url))
        allow = QComboBox(self.servers)
        for value, label in _ALLOW_LABELS.items():
            allow.addItem(label, value)
        allow.setCurrentIndex(max(0, allow.findData(server.allow)))
        allow.currentIndexChanged.connect(self.changed)
        self.servers.setCellWidget(row, 2, allow)
        self.changed.emit()

    def _free_name(self) -> str:
        taken = {self.servers.item(row, 0).text() for row in range(self.servers.rowCount())}
        return next(name for name in (f"server{n}" if n else "time" for n in range(100)) if name not in taken)

    def _facts(self) -> list[str]:
        return [text for row in range(self.facts.count()) if (text := self.facts.item(row).text().strip())]

    def _rows(self) -> list[tuple[str, str, str]]:
        return [(self.servers.item(row, 0).text().strip(), self.servers.item(row, 1).text().strip(),
                 self.servers.cellWidget(row, 2).currentData()) for row in range(self.servers.rowCount())]

    def _servers_as_shown(self) -> list[McpServerConfig]:
        return [McpServerConfig(name, "" if where.startswith(("http://", "https://")) else where,
                                where if where.startswith(("http://", "https://")) else "", allow)
                for name, where, allow in self._rows()]

    def _servers(self) -> list[McpServerConfig]:
        """The servers as shown, checked like the file's. Raises SettingsError."""
        servers, names = [], set()
        for server in self._servers_as_shown():
            if server.name in names:
                raise SettingsError(f"two MCP servers are called {server.name!r}: give each its own name")
            names.add(server.name)
            entry = {"command": server.command} if server.command else {"url": server.url}
            servers.append(checked_server(server.name, {**entry, "allow": server.allow}, "MCP servers"))
        return servers
