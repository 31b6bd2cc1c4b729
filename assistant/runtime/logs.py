"""Logging to a file in the platform log folder, and to the console when run from a terminal."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from assistant.runtime.paths import log_dir

_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """Send log records to `<log dir>/parley.log` (rotated) and, on a terminal, to stderr.

    The console only shows warnings unless `verbose`: commands print their own results, and the
    file keeps the whole story for bug reports.
    """
    root = logging.getLogger()
    if getattr(root, "_parley_configured", False):
        return
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            folder / "parley.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(file_handler)
    except OSError as exc:  # a read-only home must not stop the app
        print(f"parley: cannot write the log file ({exc}); logging to the console only", file=sys.stderr)
    if sys.stderr.isatty() or verbose:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.DEBUG if verbose else logging.WARNING)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(console)
    # Third-party chatter that says nothing a user can act on.
    for noisy in ("httpx", "urllib3", "filelock", "huggingface_hub.file_download"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._parley_configured = True  # type: ignore[attr-defined]
