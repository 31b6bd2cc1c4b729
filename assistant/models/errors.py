"""Errors raised while reading, converting or installing models."""

from __future__ import annotations

from pathlib import Path


class ModelError(Exception):
    """A model could not be used; the message says what is wrong and what to do."""


class ModelFormatError(ModelError):
    """A model file is corrupt, truncated, missing or of a format Parley does not read.

    The message always names the offending file, so the user knows which one to replace.
    """

    def __init__(self, path: Path | str, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        text = f"{self.path}: {problem}"
        if fix:
            text += f". {fix}"
        super().__init__(text)
