"""The system prompt's KV cache kept on disk, so that a fresh llama.cpp process does not read it in again.

Every turn begins with the system prompt, and a new process (`parley reply`, the app's start) would read it
in before the first word of its reply: ~550 ms for the default prompt on the 2-core Linux machine. llama.cpp's
server saves and restores a slot's cache to files (its `/slots` actions); restoring the default prompt's 111 tokens
takes about a millisecond (1.4 MB).

Only a system prompt is ever saved (read in alone, before any words of the user's), never a conversation. A file
is named after everything its cache depends on: the model file (path, size, time), the context size, the llama.cpp
build and the prompt text, so a changed model or prompt gets a file of its own; the newest few are kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

KEEP = 8  # files kept: a few languages' prompts for a model or two, ~1.5 MB each for the default model
SUFFIX = ".kv"


class SavedPrompts:
    """The folder of saved system-prompt caches for one model file and context size."""

    def __init__(self, folder: Path, model_file: Path, context_tokens: int, build: str) -> None:
        self.folder = Path(folder)
        stat = Path(model_file).stat()
        self._identity = f"{Path(model_file).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{context_tokens}|{build}"

    def name_for(self, prompt: str) -> str:
        """The file name (within `folder`) of `prompt`'s cache: a plain name, as llama.cpp's server requires."""
        digest = hashlib.sha256(f"{self._identity}|{prompt}".encode()).hexdigest()[:32]
        return digest + SUFFIX

    def has(self, name: str) -> bool:
        path = self.folder / name
        if not path.is_file():
            return False
        try:
            os.utime(path)  # the newest are kept: a file in use counts as new
        except OSError:
            pass
        return True

    def temporary_name(self, name: str) -> str:
        """Where llama.cpp writes a new cache, to be moved in place by `keep` (a reader never sees half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return f"{name}.{os.getpid()}.part"

    def keep(self, temporary: str, name: str) -> None:
        """Move the file llama.cpp wrote under `temporary` to `name`, and drop all but the newest KEEP files."""
        os.replace(self.folder / temporary, self.folder / name)

        def age(path: Path) -> float:
            try:
                return -path.stat().st_mtime
            except OSError:  # another Parley process pruned it meanwhile
                return 0.0

        for old in sorted(self.folder.glob(f"*{SUFFIX}"), key=age)[KEEP:]:
            old.unlink(missing_ok=True)

    def forget(self, name: str) -> None:
        """Remove a file llama.cpp could not restore (damaged, or from another build): it is saved again."""
        (self.folder / name).unlink(missing_ok=True)
