"""Files written whole or not at all: a temporary file in the same folder, flushed to disk, then renamed over the
old one, so a crash or a full disk mid-write leaves the previous version, never half of each."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, payload: bytes) -> Path:
    """Replace `path`'s content with `payload` in one step (its folder is made if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def set_aside(path: Path) -> Path | None:
    """Move an unreadable `path` out of the way (kept beside it as NAME.broken-DATE.SUFFIX, for the user to look at);
    the new name, or None when it could not be moved."""
    import time

    aside = path.with_name(f"{path.stem}.broken-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    try:
        path.replace(aside)
    except OSError:
        return None
    return aside
