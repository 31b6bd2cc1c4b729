"""Building blocks for the settings pages: label/field rows, hints, sliders, spin boxes over a setting's limits,
icons."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractScrollArea, QFrame, QGridLayout, QHBoxLayout, QLabel, QLayout, QLineEdit, QScrollArea, QSizePolicy,
    QSlider, QSpinBox, QStyle, QVBoxLayout, QWidget,
)


class Form:
    """Rows of "Label:  field" at the top of a page, labels right-aligned to the field's first line.

    A grid rather than QFormLayout: QFormLayout gives wrapped text the height of its preferred width,
    which leaves gaps under the longer lines.
    """

    def __init__(self, page: QWidget) -> None:
        outer = QVBoxLayout(page)
        outer.setContentsMargins(20, 16, 20, 12)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(8)
        outer.addLayout(self.grid)
        outer.addStretch(1)  # spare height goes below the rows, not between them

    def add_row(self, label: str, field: QWidget | QLayout, buddy: QWidget | None = None) -> QLabel | None:
        """A labelled row. An "&" in `label` marks its keyboard mnemonic (Alt+letter on Linux and
        Windows), which focuses `buddy` (default: `field`, when it is a widget). Returns the label (None
        without one), so that a row shown only sometimes can hide its label with its field."""
        row = self.grid.rowCount()
        text = None
        if label:
            text = QLabel(label)
            if buddy is not None or isinstance(field, QWidget):
                text.setBuddy(buddy or field)
            text.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            text.setContentsMargins(0, max(0, (first_line_height(field) - text.sizeHint().height()) // 2), 0, 0)
            self.grid.addWidget(text, row, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        if isinstance(field, QWidget):
            self.grid.addWidget(field, row, 1)
        else:
            self.grid.addLayout(field, row, 1)
        return text

    def add_gap(self, height: int = 6) -> None:
        spacer = QWidget()
        spacer.setFixedHeight(height)
        self.grid.addWidget(spacer, self.grid.rowCount(), 0, 1, 2)

    def label_width(self) -> int:
        """The width the widest label needs (to give every page the same label column)."""
        labels = (self.grid.itemAtPosition(row, 0) for row in range(self.grid.rowCount()))
        return max((item.widget().sizeHint().width() for item in labels
                    if item is not None and isinstance(item.widget(), QLabel)), default=0)


class ScrollingPage(QScrollArea):
    """A settings page in a frameless scroll area: a page taller than its window (rows that appear, long advice)
    scrolls instead of squeezing its wrapped lines into each other. It asks for the page's own size, as the page
    would alone (QScrollArea's hint stops at 36 lines of text wide)."""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(page)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return self.widget().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.widget().minimumSizeHint().width(), 0)

    def overflow(self) -> int:
        """How many pixels taller the page is than the view: what the window would need to show it all."""
        width = self.viewport().width()
        page = self.widget()
        needed = page.heightForWidth(width) if page.hasHeightForWidth() else page.sizeHint().height()
        return max(0, needed - self.viewport().height())


def first_line_height(field: QWidget | QLayout) -> int:
    """The height of the top line of a field: its first widget, looking into layouts."""
    while True:
        if isinstance(field, QAbstractScrollArea):  # a text box: its label goes by its first line of text
            return QLineEdit().sizeHint().height()
        layout = field if isinstance(field, QLayout) else field.layout()
        if layout is None or layout.count() == 0:
            return field.sizeHint().height() if isinstance(field, QWidget) else 0
        item = layout.itemAt(0)
        field = item.widget() or item.layout()
        if field is None:
            return 0


def wrapping_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that wraps its text and takes the width it is given."""
    label = QLabel(text, parent)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    label.setWordWrap(True)  # after the size policy, which would drop word wrap's height-for-width
    return label


def secondary_text(label: QLabel) -> QLabel:
    """Draw `label` as a secondary line: a little smaller, in the dimmer colour the platform uses for hints."""
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.92)
    label.setFont(font)
    return label


def hint(text: str, parent: QWidget | None = None) -> QLabel:
    return secondary_text(wrapping_label(text, parent))


def with_hint(field: QWidget, text: str, parent: QWidget | None = None) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(8)
    row.addWidget(field)
    row.addWidget(hint(text, parent), 1)
    return row


def setting_limits(section: type, name: str) -> dict:
    """The metadata (min, max, choices, doc) settings.py gives a field."""
    return dict(next(f for f in dataclasses.fields(section) if f.name == name).metadata)


def spin_box(limits: dict, suffix: str, step: int, parent: QWidget | None = None) -> QSpinBox:
    """A spin box over a settings field's range (its metadata's min and max)."""
    spin = QSpinBox(parent)
    spin.setRange(int(limits["min"]), int(limits["max"]))
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setToolTip(limits.get("doc", "").capitalize())
    return spin


def slider_row(slider: QSlider, low: str, high: str, value_label: QLabel) -> QHBoxLayout:
    """`low` [slider] `high`  value."""
    row = QHBoxLayout()
    row.setSpacing(6)
    row.addWidget(secondary_text(QLabel(low)))
    row.addWidget(slider, 1)
    row.addWidget(secondary_text(QLabel(high)))
    row.addSpacing(8)
    row.addWidget(value_label)
    return row


def icon_pixmap(widget: QWidget, icon: QStyle.StandardPixmap) -> QPixmap:
    """One of the style's standard icons (warning, information) at the small icon size."""
    size = widget.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
    return widget.style().standardIcon(icon).pixmap(size, size)


def stacked(parts) -> QWidget:
    """Widgets and layouts stacked in one widget, so that a row can be hidden whole."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(4)
    for part in parts:
        if isinstance(part, QWidget):
            column.addWidget(part)
        else:
            column.addLayout(part)
    return holder


def row_of(*widgets: QWidget) -> QHBoxLayout:
    """`widgets` side by side from the left; a label among them takes the room left."""
    row = QHBoxLayout()
    row.setSpacing(8)
    for widget in widgets:
        row.addWidget(widget, 1 if isinstance(widget, QLabel) else 0)
    if not any(isinstance(widget, QLabel) for widget in widgets):
        row.addStretch(1)
    return row


def column_of(*parts) -> QVBoxLayout:
    """`parts` (widgets and rows) one under the other, close together."""
    column = QVBoxLayout()
    column.setSpacing(4)
    for part in parts:
        column.addLayout(part) if isinstance(part, QHBoxLayout) else column.addWidget(part)
    return column
