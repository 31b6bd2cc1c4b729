"""The conversation window: the exchange as chat bubbles, each turn's latency, where the conversation is
and who answers, and a box to type in instead of speaking.

It only listens: `on_event` takes the `assistant.runtime.events` objects (on the Qt main thread), and what the user
does comes out as two signals. Typed turns are shown when the engine echoes them back as `UserSaid`, so a
message never appears twice. A delta touches only its own bubble, so a long conversation stays responsive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QLocale, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QPalette
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QScrollArea, QSizePolicy,
                               QStackedLayout, QToolButton, QVBoxLayout, QWidget)

from assistant.runtime.events import (Answering, Loading, Problem, ReplyFinished, ReplyText, State, StateChanged, TurnTimings,
                              UserSaid)

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

# The stages of TurnTimings, in the order a turn goes through them, with their names on screen.
TIMING_LABELS = (("transcript", "speech → text"), ("first_token", "first word"), ("first_audio", "first sound"))

BUBBLE_SHARE = 0.78  # of the transcript's width, at most, for one bubble
# Rows are grouped in chunks of this many, so that a streaming reply re-lays out its own chunk and the
# chunks' cached heights, not every row of a long conversation.
CHUNK_ROWS = 24
ROW_SPACING = 4
_LONG_WORD = re.compile(r"\S{28,}")


def format_timings(timings_ms: dict[str, float]) -> str:
    """'speech → text 0.93 s · first word 1.19 s · first sound 1.74 s'; missing or unknown stages are left out."""
    parts = [f"{label} {timings_ms[key] / 1000:.2f} s" for key, label in TIMING_LABELS
             if isinstance(timings_ms.get(key), (int, float))]
    return " · ".join(parts)


def language_label(code: str) -> str:
    """The English name of a turn's language, or '' for English (and for no language or 'auto')."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    if base in ("", "en", "auto"):
        return ""
    language = QLocale(base).language()
    return code if language == QLocale.Language.C else QLocale.languageToString(language)


def _breakable(text: str) -> str:
    """The text with invisible break points inside very long words (hashes, some links), which QLabel can't wrap."""
    return _LONG_WORD.sub(lambda match: "\u200b".join(re.findall(".{1,16}", match.group())), text)


@dataclass(frozen=True)
class _Theme:
    """The window's colours (LIGHT or DARK, following the system appearance)."""

    background: str
    bar: str  # header and composer
    line: str  # separators and field borders
    text: str
    caption: str
    accent: str
    accent_disabled: str
    reply_bubble: str
    notice: str
    notice_line: str
    notice_text: str


LIGHT = _Theme("#FFFFFF", "#F5F5F7", "#DCDCE0", "#1D1D1F", "#8E8E93", "#0A84FF", "#A9CDF7", "#E9E9EB",
               "#FFF4E0", "#F0C979", "#5C3C00")
DARK = _Theme("#1E1E1E", "#2A2A2C", "#3A3A3C", "#F2F2F7", "#98989D", "#0A84FF", "#24466E", "#3A3A3C",
              "#3B2F1B", "#6B5220", "#FFD98A")


def _style_sheet(t: _Theme) -> str:
    return f"""
        ConversationWindow {{ background: {t.background}; }}
        #header, #composerBar {{ background: {t.bar}; }}
        #header {{ border-bottom: 1px solid {t.line}; }}
        #composerBar {{ border-top: 1px solid {t.line}; }}
        #status {{ color: {t.text}; font-size: 12px; }}
        #answering {{ color: {t.caption}; font-size: 11px; }}
        #transcript, #emptyPage, QScrollArea {{ background: {t.background}; }}
        #emptyHint {{ color: {t.caption}; font-size: 14px; }}
        #userBubble {{ background: {t.accent}; border-radius: 16px; }}
        #replyBubble {{ background: {t.reply_bubble}; border-radius: 16px; }}
        #userText {{ color: #FFFFFF; font-size: 14px; }}
        #replyText {{ color: {t.text}; font-size: 14px; }}
        #interruptedTag {{ color: {t.caption}; font-size: 12px; font-style: italic; }}
        #languageTag, #timings {{ color: {t.caption}; font-size: 11px; }}
        #notice {{ background: {t.notice}; border: 1px solid {t.notice_line}; border-radius: 10px; }}
        #noticeMessage {{ color: {t.notice_text}; font-size: 13px; font-weight: 600; }}
        #noticeFix {{ color: {t.notice_text}; font-size: 12px; }}
        #field {{ background: {t.background}; border: 1px solid {t.line}; border-radius: 17px; }}
        #composer {{ background: transparent; border: none; color: {t.text}; font-size: 14px; }}
        QPushButton {{ font-size: 13px; min-height: 18px; border-radius: 13px; padding: 4px 14px; }}
        #sendButton {{ background: {t.accent}; color: #FFFFFF; border: none; font-weight: 600; min-height: 26px;
                       border-radius: 17px; padding: 4px 16px; }}
        #sendButton:disabled {{ background: {t.accent_disabled}; }}
        #resetButton {{ background: transparent; color: {t.accent}; border: 1px solid {t.line}; }}
        #resetButton:pressed, #jumpButton:pressed {{ background: {t.line}; }}
        #jumpButton {{ background: {t.bar}; color: {t.text}; border: 1px solid {t.line}; border-radius: 16px;
                       font-size: 16px; }}
    """


class _TextLabel(QLabel):
    """Word-wrapped plain text whose preferred width is the text's own, up to the label's maximum width:
    a short message gets a snug bubble, a long one wraps at the bubble's limit. (QLabel's own hint
    balances the lines, which wraps medium-length messages far too early.)"""

    def __init__(self, name: str, text: str = "", selectable: bool = False) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setTextFormat(Qt.TextFormat.PlainText)  # the model's words are never markup
        self.setWordWrap(True)
        if selectable:
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(_breakable(text))

    def sizeHint(self) -> QSize:  # noqa: N802
        self.ensurePolished()  # the style sheet sets the font
        metrics = self.fontMetrics()
        natural = max(metrics.horizontalAdvance(line) for line in self.text().split("\n"))
        margins = self.contentsMargins()
        width = min(natural + 2 + margins.left() + margins.right(), self.maximumWidth())
        return QSize(width, self.heightForWidth(width))


class _Row(QWidget):
    """One line of the transcript: a bubble on one side, a caption under it."""

    PADDING = 14 + 14  # the bubble's left and right padding

    def __init__(self, bubble_name: str, caption_name: str, right: bool, width: int) -> None:
        super().__init__()
        self.bubble = QFrame()
        self.bubble.setObjectName(bubble_name)
        self.bubble.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.bubble.setMinimumHeight(34)  # Qt drops a corner radius of more than half the height
        self.bubble_layout = QVBoxLayout(self.bubble)
        self.bubble_layout.setContentsMargins(14, 8, 14, 9)
        self.bubble_layout.setSpacing(2)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        if right:
            line.addStretch(1)
        line.addWidget(self.bubble)
        if not right:
            line.addStretch(1)
        self.caption = _TextLabel(caption_name)
        self.caption.setContentsMargins(6, 0, 6, 0)  # in line with the bubble's rounded corner
        self.caption.setAlignment(Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft)
        self.caption.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 3, 14, 3)
        layout.setSpacing(3)
        layout.addLayout(line)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft)
        self._fit(width)

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)
        self.caption.setVisible(bool(text))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit(event.size().width())

    def _fit(self, width: int) -> None:
        limit = max(160, int((width - 28) * BUBBLE_SHARE))
        for label in self.bubble.findChildren(QLabel):
            label.setMaximumWidth(limit - self.PADDING)
        self.caption.setMaximumWidth(max(160, width - 28 - 8))


class _UserRow(_Row):
    def __init__(self, event: UserSaid, width: int) -> None:
        super().__init__("userBubble", "languageTag", right=True, width=width)
        self.layout().setContentsMargins(14, 10, 14, 3)  # a little air between one turn and the next
        self.text = _TextLabel("userText", event.text, selectable=True)
        self.bubble_layout.addWidget(self.text)
        self._fit(width)
        self.set_caption(language_label(event.language))


class _ReplyRow(_Row):
    """Parley's reply to one turn: filled in as it streams, then finalised (perhaps as interrupted)."""

    def __init__(self, width: int) -> None:
        super().__init__("replyBubble", "timings", right=False, width=width)
        self.text = _TextLabel("replyText", selectable=True)
        self.interrupted_tag = _TextLabel("interruptedTag", "— interrupted")
        self.interrupted_tag.hide()
        self.bubble_layout.addWidget(self.text)
        self.bubble_layout.addWidget(self.interrupted_tag)
        self._fit(width)
        self.bubble.hide()  # until there is something to show
        self.finished = False
        self._streamed: list[str] = []

    def append(self, delta: str) -> None:
        self._streamed.append(delta)
        self._show("".join(self._streamed))

    def finish(self, text: str, interrupted: bool) -> None:
        """`text` is what the history keeps: all of the reply, or only what was heard before the interruption."""
        self.finished = True
        self._streamed = []
        self.interrupted_tag.setVisible(interrupted)
        self._show(text)

    def _show(self, text: str) -> None:
        text = text.strip()
        self.text.setText(text)
        self.text.setVisible(bool(text))
        self.bubble.setVisible(bool(text) or self.interrupted_tag.isVisibleTo(self.bubble))


class _NoticeRow(QWidget):
    """A problem, inline in the transcript: what went wrong and what the user can do."""

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        card = QFrame()
        card.setObjectName("notice")
        inner = QVBoxLayout(card)
        inner.setContentsMargins(12, 8, 12, 8)
        inner.setSpacing(2)
        self.message = _TextLabel("noticeMessage", f"⚠  {problem.message}", selectable=True)
        inner.addWidget(self.message)
        self.fix = _TextLabel("noticeFix", problem.fix, selectable=True)
        self.fix.setVisible(bool(problem.fix))
        inner.addWidget(self.fix)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 6, 28, 6)
        layout.addWidget(card)


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


class _Transcript(QScrollArea):
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


class _Composer(QPlainTextEdit):
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
        self._replies: dict[int, _ReplyRow] = {}  # of the latest turn with each number
        self._stale: set[int] = set()  # turns cleared away whose last events may still be on their way
        self._state = State.IDLE
        self._loading = ""  # what is loading, while models load

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
            self._add_row(_UserRow(event, self._row_width()))
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
            self._add_row(_NoticeRow(event))
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

        self.scroll_area = _Transcript()
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
        self.input = _Composer()
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

    def _reply_row(self, turn: int) -> _ReplyRow | None:
        """The reply row of `turn`, made on its first event; None for a turn cleared away."""
        if turn in self._stale:
            return None
        if turn not in self._replies:
            self._replies[turn] = self._add_row(_ReplyRow(self._row_width()))
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
        self.setStyleSheet(_style_sheet(DARK if dark else LIGHT))
