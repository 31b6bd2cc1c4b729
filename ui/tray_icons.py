"""The menu-bar icon for each state, drawn in code so it stays sharp at any size and needs no image files.

A microphone in a round badge: the badge colour says the state at a glance (grey idle, green
listening, blue hearing you, amber thinking, violet speaking, red error), muted adds a slash, and
loading draws three dots instead of the microphone.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap


class TrayState(Enum):
    """What the icon shows: the conversation's state, plus the app's own (loading, muted, error)."""

    IDLE = "idle"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"
    LOADING = "loading"
    ERROR = "error"


LABELS = {
    TrayState.IDLE: "Ready: press the hotkey or Talk",
    TrayState.LISTENING: "Listening",
    TrayState.USER_SPEAKING: "Hearing you",
    TrayState.THINKING: "Thinking",
    TrayState.SPEAKING: "Speaking",
    TrayState.MUTED: "Microphone muted",
    TrayState.LOADING: "Loading models",
    TrayState.ERROR: "Needs attention",
}

_COLORS = {
    TrayState.IDLE: "#8e8e93",
    TrayState.LISTENING: "#34c759",
    TrayState.USER_SPEAKING: "#0a84ff",
    TrayState.THINKING: "#ff9f0a",
    TrayState.SPEAKING: "#af52de",
    TrayState.MUTED: "#636366",
    TrayState.LOADING: "#8e8e93",
    TrayState.ERROR: "#ff3b30",
}


def state_icon(state: TrayState, size: int = 64) -> QIcon:
    """The icon for `state`, drawn at `size` pixels (and at 2x for high-density screens)."""
    icon = QIcon()
    for scale in (1, 2):
        icon.addPixmap(_draw(state, size * scale))
    return icon


def state_color(state: TrayState) -> QColor:
    return QColor(_COLORS[state])


def _draw(state: TrayState, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 64
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(_COLORS[state]))
    painter.drawEllipse(QRectF(2 * unit, 2 * unit, 60 * unit, 60 * unit))
    white = QColor("white")
    if state is TrayState.LOADING:
        painter.setBrush(white)
        for x in (18, 32, 46):
            painter.drawEllipse(QPointF(x * unit, 32 * unit), 4.5 * unit, 4.5 * unit)
    elif state is TrayState.ERROR:
        painter.setBrush(white)
        painter.drawRoundedRect(QRectF(28 * unit, 13 * unit, 8 * unit, 26 * unit), 4 * unit, 4 * unit)
        painter.drawEllipse(QPointF(32 * unit, 48 * unit), 4.5 * unit, 4.5 * unit)
    else:
        _microphone(painter, unit, white)
        if state is TrayState.MUTED:
            pen = QPen(white, 5 * unit, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawLine(QPointF(15 * unit, 15 * unit), QPointF(49 * unit, 49 * unit))
    painter.end()
    return pixmap


def _microphone(painter: QPainter, unit: float, color: QColor) -> None:
    painter.setBrush(color)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRectF(25 * unit, 12 * unit, 14 * unit, 24 * unit), 7 * unit, 7 * unit)
    pen = QPen(color, 4 * unit, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    cradle = QPainterPath()
    cradle.moveTo(19 * unit, 29 * unit)
    cradle.cubicTo(19 * unit, 45 * unit, 45 * unit, 45 * unit, 45 * unit, 29 * unit)
    painter.drawPath(cradle)
    painter.drawLine(QPointF(32 * unit, 41 * unit), QPointF(32 * unit, 50 * unit))
    painter.drawLine(QPointF(25 * unit, 51 * unit), QPointF(39 * unit, 51 * unit))
