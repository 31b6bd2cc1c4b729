"""The conversation window's text box, where the user types instead of speaking."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QPlainTextEdit


class Composer(QPlainTextEdit):
    """The text box: Enter sends, Shift+Enter starts a new line; it grows with its text up to a few lines."""

    submitted = Signal()
    MAX_LINES = 5

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("composer")
        self.setAccessibleName("Message")
        self.setPlaceholderText("Type a message…")
        self.setTabChangesFocus(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if modifiers == Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if modifiers == Qt.KeyboardModifier.NoModifier:
                self.submitted.emit()
                return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_height()

    def _fit_height(self, *_) -> None:
        # The plain-text layout measures its document in lines (wrapped lines included).
        lines = min(max(1, round(self.document().size().height())), self.MAX_LINES)
        margin = 2 * self.document().documentMargin() + 2 * self.frameWidth()
        self.setFixedHeight(int(lines * self.fontMetrics().lineSpacing() + margin + 2))
