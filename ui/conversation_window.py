"""The conversation window: the exchange as chat bubbles, each turn's latency, where the conversation is
and who answers, and a box to type in instead of speaking.

It only listens: `on_event` takes the `assistant.runtime.events` objects (on the Qt main thread), and what the user
does comes out as two signals. Typed turns are shown when the engine echoes them back as `UserSaid`, so a
message never appears twice. A delta touches only its own bubble, so a long conversation stays responsive.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStackedLayout, QVBoxLayout, QWidget

from assistant.runtime.events import (Answering, Loading, Problem, ReplyFinished, ReplyText, State, StateChanged,
                                     TimerRang, TurnTimings, UserSaid, WordsSoFar)
from ui.conversation_composer import Composer
from ui.conversation_rows import NoticeRow, ReplyRow, UserRow, format_timings
from ui.conversation_theme import DARK, LIGHT, style_sheet
from ui.conversation_transcript import Transcript

# What the status line says, and the colour of its dot, for each state.
STATUS = {
    State.IDLE: ("Idle", "#8E8E93"),
    State.LISTENING: ("Listening…", "#34C759"),
    State.USER_SPEAKING: ("Hearing you…", "#FF9F0A"),
    State.THINKING: ("Thinking…", "#AF52DE"),
    State.SPEAKING: ("Speaking…", "#0A84FF"),
    State.MUTED: ("Muted", "#FF3B30"),
}
LOADING_COLOUR = "#8E8E93"


class ConversationWindow(QWidget):
    """The conversation as a chat: the user's turns on the right, Parley's replies on the left.

    Feed it every `assistant.runtime.events` event with `on_event`, on the Qt main thread. Auto-scrolls to the
    newest message unless the user has scrolled up (a button jumps back down).
    """

    text_submitted = Signal(str)  # the user typed a message and pressed Enter/Send (stripped, non-empty)
    reset_requested = Signal()  # the Reset button

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Parley")
        self.setMinimumSize(340, 420)
        self.resize(440, 640)
        self._user_turns: set[int] = set()
        self._replies: dict[int, ReplyRow] = {}  # of the latest turn with each number
        self._stale: set[int] = set()  # turns cleared away whose last events may still be on their way
        self._state = State.IDLE
        self._loading = ""  # what is loading, while models load
        self._words_row: UserRow | None = None  # the words of the turn being spoken, until its transcript

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_header())
        layout.addLayout(self._build_transcript(), 1)
        layout.addWidget(self._build_composer())

        self._show_status()
        self._apply_theme()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._apply_theme)

    # --- the interface ---------------------------------------------------------------------------

    def on_event(self, event) -> None:
        """Show one conversation event (any `assistant.runtime.events` object; others are ignored)."""
        if isinstance(event, StateChanged):
            self._state = event.state
            self._show_status()
            if self._words_row is not None and event.state in (State.LISTENING, State.IDLE, State.MUTED):
                self.scroll_area.remove(self._words_row)  # the speech came to no turn (too short, no words)
                self._words_row = None
        elif isinstance(event, WordsSoFar):
            if self._words_row is None:
                self._words_row = self._add_row(UserRow.provisional(event.text, self._row_width()))
            else:
                self._words_row.show_words(event.text)
        elif isinstance(event, Loading):
            self._loading = "" if event.done else (event.what.strip() or "loading")
            if not event.done:
                self._show_answering("")  # the models are being replaced: an Answering comes once they are loaded
            self._show_status()
        elif isinstance(event, Answering):
            self._show_answering(event.who)
        elif isinstance(event, UserSaid):
            # A new turn: a restarted conversation numbers its turns from 1 again, so this one's reply is new too.
            self._stale.discard(event.turn)
            self._replies.pop(event.turn, None)
            self._user_turns.add(event.turn)
            if self._words_row is not None:
                self._words_row.settle(event)
                self._words_row = None
            else:
                self._add_row(UserRow(event, self._row_width()))
        elif isinstance(event, ReplyText):
            row = self._reply_row(event.turn)
            if row is not None and not row.finished:  # a late delta of an interrupted reply is not heard
                row.append(event.delta)
        elif isinstance(event, ReplyFinished):
            row = self._reply_row(event.turn)
            if row is not None:
                row.finish(event.text, event.interrupted)
        elif isinstance(event, TurnTimings):
            row = self._reply_row(event.turn)
            if row is not None:
                row.set_caption(format_timings(event.timings_ms))
        elif isinstance(event, Problem):
            self._add_row(NoticeRow(event))
        elif isinstance(event, TimerRang):
            self._add_row(NoticeRow(Problem(event.words), symbol="⏰"))
        # BargeIn needs nothing of its own: the reply it cut short arrives as an interrupted ReplyFinished.

    def clear(self) -> None:
        """Forget the shown exchange (after a reset); the status line stays."""
        self._stale |= self._user_turns | set(self._replies)
        self._user_turns.clear()
        self._replies.clear()
        self.scroll_area.remove_all()
        self._stack.setCurrentIndex(0)

    # --- building ---------------------------------------------------------------------------------

    def _build_header(self) -> QWidget:
        header = QFrame()
        header.setObjectName("header")
        self.status_dot = QLabel()
        self.status_dot.setFixedSize(8, 8)
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)  # a model-loading line can be long
        self.status.setAccessibleName("Status")
        # Who answers, under the status: a quiet second line, as a subtitle under a window's title.
        self.answering = QLabel()
        self.answering.setObjectName("answering")
        self.answering.setTextFormat(Qt.TextFormat.PlainText)
        self.answering.setWordWrap(True)  # a server's address can be long
        self.answering.setAccessibleName("Answering")
        self.answering.hide()
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName("resetButton")
        self.reset_button.setToolTip("Forget this conversation and start again")
        self.reset_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.reset_button.clicked.connect(self.reset_requested)
        status_line = QHBoxLayout()
        status_line.setSpacing(8)
        status_line.addWidget(self.status_dot)
        status_line.addWidget(self.status, 1)
        column = QVBoxLayout()
        column.setSpacing(1)
        column.addLayout(status_line)
        self.answering.setContentsMargins(8 + 8, 0, 0, 0)  # under the status's text, not its dot
        column.addWidget(self.answering)
        row = QHBoxLayout(header)
        row.setContentsMargins(16, 8, 12, 8)
        row.setSpacing(8)
        row.addLayout(column, 1)
        row.addWidget(self.reset_button)
        return header

    def _build_transcript(self) -> QStackedLayout:
        empty = QWidget()
        empty.setObjectName("emptyPage")
        hint = QLabel("Say something, or type a message below.")
        hint.setObjectName("emptyHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        QVBoxLayout(empty).addWidget(hint)

        self.scroll_area = Transcript()
        self.jump_button = self.scroll_area.jump_button

        self._stack = QStackedLayout()
        self._stack.addWidget(empty)
        self._stack.addWidget(self.scroll_area)
        return self._stack

    def _build_composer(self) -> QWidget:
        bar = QFrame()
        bar.setObjectName("composerBar")
        field = QFrame()
        field.setObjectName("field")
        self.input = Composer()
        self.input.submitted.connect(self._submit)
        inside = QHBoxLayout(field)
        inside.setContentsMargins(12, 5, 12, 5)
        inside.addWidget(self.input)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self._submit)
        self.input.textChanged.connect(
            lambda: self.send_button.setEnabled(bool(self.input.toPlainText().strip())))
        row = QHBoxLayout(bar)
        row.setContentsMargins(12, 10, 12, 10)
        row.setSpacing(8)
        row.addWidget(field, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        return bar

    # --- rows -------------------------------------------------------------------------------------

    def _add_row(self, row: QWidget) -> QWidget:
        self._stack.setCurrentIndex(1)
        self.scroll_area.add(row)
        return row

    def _show_status(self) -> None:
        """The state, or while models load (the state changes under way then), what is loading."""
        if self._loading:
            text, colour = self._loading[0].upper() + self._loading[1:] + "…", LOADING_COLOUR
        else:
            text, colour = STATUS.get(self._state, (str(self._state.value).capitalize(), LOADING_COLOUR))
        self.status.setText(text)
        self.status_dot.setStyleSheet(f"background: {colour}; border-radius: 4px;")

    def _show_answering(self, who: str) -> None:
        """'Answered by qwen2.5-coder-0.5b-instruct on llama.cpp' under the status; "" hides the line."""
        who = " ".join(who.split())
        self.answering.setText(f"Answered by {who}" if who else "")
        self.answering.setToolTip(f"Replies come from {who}" if who else "")
        self.answering.setVisible(bool(who))

    def _reply_row(self, turn: int) -> ReplyRow | None:
        """The reply row of `turn`, made on its first event; None for a turn cleared away."""
        if turn in self._stale:
            return None
        if turn not in self._replies:
            self._replies[turn] = self._add_row(ReplyRow(self._row_width()))
        return self._replies[turn]

    def _row_width(self) -> int:
        return self.scroll_area.row_width()

    def _submit(self) -> None:
        text = self.input.toPlainText().strip()
        if not text:
            return
        self.input.clear()
        self.scroll_area.following = True  # the user's own message comes back as UserSaid: show it
        self.text_submitted.emit(text)

    # --- appearance -------------------------------------------------------------------------------

    def _apply_theme(self, *_) -> None:
        scheme = QGuiApplication.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Unknown:
            dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        else:
            dark = scheme == Qt.ColorScheme.Dark
        self.setStyleSheet(style_sheet(DARK if dark else LIGHT))
