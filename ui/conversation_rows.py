"""The rows of the conversation window's transcript: the user's turn and Parley's reply as chat bubbles, with the
turn's language or latency line under them, and a problem as a notice card."""

from __future__ import annotations

import re

from PySide6.QtCore import QLocale, QSize, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from assistant.runtime.events import Problem, UserSaid

# The stages of TurnTimings, in the order a turn goes through them, with their names on screen.
TIMING_LABELS = (("transcript", "speech → text"), ("first_token", "first word"), ("first_audio", "first sound"))

BUBBLE_SHARE = 0.78  # of the transcript's width, at most, for one bubble
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


class UserRow(_Row):
    """One of the user's turns, on the right, with its language under it when that is not English."""

    def __init__(self, event: UserSaid, width: int) -> None:
        super().__init__("userBubble", "languageTag", right=True, width=width)
        self.layout().setContentsMargins(14, 10, 14, 3)  # a little air between one turn and the next
        self.text = _TextLabel("userText", event.text, selectable=True)
        self.bubble_layout.addWidget(self.text)
        self._fit(width)
        self.set_caption(language_label(event.language))

    @classmethod
    def provisional(cls, text: str, width: int) -> UserRow:
        """The words of a turn still being spoken, as heard so far: dimmed, to be replaced (`show_words`,
        `settle`)."""
        row = cls(UserSaid(0, "", ""), width)
        row.text.setProperty("provisional", True)
        row.show_words(text)
        return row

    def show_words(self, text: str) -> None:
        self.text.setText(text + " …")
        self.set_caption("hearing you…")

    def settle(self, event: UserSaid) -> None:
        """The turn's transcript in place of the words heard so far."""
        self.text.setProperty("provisional", False)
        self.text.style().unpolish(self.text)
        self.text.style().polish(self.text)
        self.text.setText(event.text)
        self.set_caption(language_label(event.language))


class ReplyRow(_Row):
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


class NoticeRow(QWidget):
    """A problem, inline in the transcript: what went wrong and what the user can do (or, with ⏰, a timer that
    rang)."""

    def __init__(self, problem: Problem, symbol: str = "⚠") -> None:
        super().__init__()
        card = QFrame()
        card.setObjectName("notice")
        inner = QVBoxLayout(card)
        inner.setContentsMargins(12, 8, 12, 8)
        inner.setSpacing(2)
        self.message = _TextLabel("noticeMessage", f"{symbol}  {problem.message}", selectable=True)
        inner.addWidget(self.message)
        self.fix = _TextLabel("noticeFix", problem.fix, selectable=True)
        self.fix.setVisible(bool(problem.fix))
        inner.addWidget(self.fix)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 6, 28, 6)
        layout.addWidget(card)
