"""The conversation window's transcript: a scroll area of rows, in chunks, that sizes its columns itself and follows
the newest row."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QToolButton, QVBoxLayout, QWidget

# Rows are grouped in chunks of this many, so that a streaming reply re-lays out its own chunk and the
# chunks' cached heights, not every row of a long conversation.
CHUNK_ROWS = 24
ROW_SPACING = 4


class _Column(QWidget):
    """A column of rows that takes its rows' height before its layout places them.

    Left to Qt, a row that grows first makes the layout squeeze its neighbours into the column's old
    height, and only then is the column resized and everything stretched back: passes over the whole
    conversation for every delta. `fills_view`: the top column, as wide as the view and at least as tall.
    """

    def __init__(self, name: str, fills_view: bool = False) -> None:
        super().__init__()
        self.setObjectName(name)
        self._fills_view = fills_view
        self.rows = QVBoxLayout(self)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setSpacing(ROW_SPACING)
        _keep_size_when_hidden(self)

    def fit(self) -> None:
        view = self.parentWidget() if self._fills_view else None
        width = view.width() if view else self.width()
        height = max(self.rows.totalHeightForWidth(width), view.height() if view else 0)
        if height > self.height() or (view and QSize(width, height) != self.size()):
            self.resize(width, height)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.fit()
        return super().event(event)

    # The scroll area asks the top column for its size hints whenever a row changes; from the layout,
    # those measure every row again (at another width than the cached one). It is sized by fit() instead.
    def sizeHint(self) -> QSize:  # noqa: N802
        return self.size() if self._fills_view else super().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, 0) if self._fills_view else super().minimumSizeHint()


def _keep_size_when_hidden(widget: QWidget) -> None:
    # A row is measured before it is shown, so that showing it finds its column already the right size.
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    widget.setSizePolicy(policy)


class Transcript(QScrollArea):
    """The rows, in chunks; it sizes its column itself (QScrollArea's own sizing measures every row
    again, text layout included, whenever one changes), and keeps the newest row in view unless the
    user has scrolled up, when a button offers to jump back down."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.column = _Column("transcript", fills_view=True)
        self.column.rows.setContentsMargins(0, 12, 0, 12)
        self.column.rows.addStretch(1)
        self.setWidget(self.column)
        self._chunk: _Column | None = None  # where new rows go
        self.following = True
        self.verticalScrollBar().rangeChanged.connect(self._on_range_changed)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.jump_button = QToolButton(self)
        self.jump_button.setObjectName("jumpButton")
        self.jump_button.setText("↓")
        self.jump_button.setToolTip("Jump to the newest message")
        self.jump_button.setFixedSize(32, 32)
        self.jump_button.clicked.connect(self.jump_to_newest)
        self.jump_button.hide()

    def add(self, row: QWidget) -> None:
        if self._chunk is None or self._chunk.rows.count() >= CHUNK_ROWS:
            self._chunk = _Column("chunk")
            self._chunk.resize(self.row_width(), 0)
            self.column.rows.insertWidget(self.column.rows.count() - 1, self._chunk)
        _keep_size_when_hidden(row)
        self._chunk.rows.addWidget(row)
        self._chunk.fit()
        self._chunk.updateGeometry()
        self.column.fit()
        self._chunk.show()
        row.show()  # now, not on the next pass of the event loop

    def remove(self, row: QWidget) -> None:
        """Take one row away (the words of a turn that came to nothing)."""
        chunk = row.parentWidget()
        row.hide()
        row.deleteLater()
        if isinstance(chunk, _Column):
            chunk.rows.removeWidget(row)
            chunk.fit()
            chunk.updateGeometry()
        self.column.fit()

    def remove_all(self) -> None:
        while self.column.rows.count() > 1:  # all but the closing stretch
            chunk = self.column.rows.takeAt(0).widget()
            chunk.hide()
            chunk.deleteLater()
        self._chunk = None
        self.column.fit()
        self.following = True
        self._update_jump_button()

    def row_width(self) -> int:
        return self.viewport().width()

    def jump_to_newest(self) -> None:
        self.following = True
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def resizeEvent(self, event) -> None:  # noqa: N802 (the view's size changed)
        super().resizeEvent(event)
        self.column.fit()
        self.jump_button.move(self.width() - 32 - 18, self.height() - 32 - 12)

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self.following:
            self.verticalScrollBar().setValue(maximum)
        self._update_jump_button()

    def _on_scrolled(self, value: int) -> None:
        self.following = value >= self.verticalScrollBar().maximum() - 8
        self._update_jump_button()

    def _update_jump_button(self) -> None:
        self.jump_button.setVisible(not self.following and self.verticalScrollBar().maximum() > 0)
