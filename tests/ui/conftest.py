"""Qt widget tests draw offscreen, without a display, unless the run chose a platform (QT_QPA_PLATFORM=xcb
under Xvfb, say)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offscreen_qt():
    # Session scope, so it runs before pytest-qt's session-wide QApplication is made.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
