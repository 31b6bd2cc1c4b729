"""Qt widget tests draw offscreen, without a display, unless the run chose a platform (QT_QPA_PLATFORM=xcb
under Xvfb, say); their screenshots go to a temporary folder unless `make screenshots` asks for docs/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offscreen_qt():
    # Session scope, so it runs before pytest-qt's session-wide QApplication is made.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where tests save their screenshots: $PARLEY_SCREENSHOTS_DIR (`make screenshots` sets it to docs/screenshots/,
    which the README shows), else a temporary folder, so that a test run writes nothing into the source tree."""
    chosen = os.environ.get("PARLEY_SCREENSHOTS_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
