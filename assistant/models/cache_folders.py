"""Folders in Parley's download cache that are complete or absent: filled under a temporary name, then moved in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def publish(partial: Path, target: Path, what: str) -> None:
    """Mark the filled folder `partial` complete (its `.complete` file says `what`) and move it to `target`, in place
    of an older one: a reader checks `.complete` and never sees half a folder."""
    (partial / ".complete").write_text(what)
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)
