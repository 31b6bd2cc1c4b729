"""The API key of a server that needs one (vLLM, OpenAI-style `Authorization: Bearer`), kept apart from
settings.toml: in a file of Parley's config folder only this user can read (mode 0600), one per server: `server-key`
for the chat server, `stt-server-key` for the speech-to-text server, `tts-server-key` for the voice server.

`PARLEY_SERVER_KEY` (`PARLEY_STT_SERVER_KEY`, `PARLEY_TTS_SERVER_KEY`) in the environment overrides the file.
Ollama and LM Studio need no key: with none saved, no Authorization header is sent at all. The key is never logged,
never put in an exception, never shown.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant.models.errors import ModelError
from assistant.runtime.paths import config_dir

log = logging.getLogger(__name__)

KEY_ENV = "PARLEY_SERVER_KEY"
KEY_FILE = "server-key"
_MAX_KEY_CHARS = 4096  # real keys are under 200 characters; this only refuses a wrong file pasted in


@dataclass(frozen=True)
class KeyPlace:
    """Where one server's key is kept: a file beside settings.toml, and the environment variable that overrides it."""

    file: str
    env: str
    whose: str  # for messages: "the chat server's"


CHAT_SERVER = KeyPlace(KEY_FILE, KEY_ENV, "the chat server's")
STT_SERVER = KeyPlace("stt-server-key", "PARLEY_STT_SERVER_KEY", "the speech-to-text server's")
TTS_SERVER = KeyPlace("tts-server-key", "PARLEY_TTS_SERVER_KEY", "the voice server's")
API_TOKEN = KeyPlace("api-token", "PARLEY_API_TOKEN", "Parley's own API")  # what `parley serve` asks other programs for


class ServerKeyError(ModelError):
    """The saved key can't be used or saved; the message says why, without the key."""


def server_key_path(place: KeyPlace = CHAT_SERVER) -> Path:
    """Where the key is kept: `server-key` (the chat server's) beside settings.toml."""
    return config_dir() / place.file


def is_valid_key(key: str) -> bool:
    """A key fits in an HTTP header: printable ASCII, no spaces. (http.client refuses anything else, and its
    error would quote the header, key and all, so keys are checked before they get near a request.)"""
    return 0 < len(key) <= _MAX_KEY_CHARS and key.isascii() and key.isprintable() and " " not in key


def read_server_key(place: KeyPlace = CHAT_SERVER) -> str | None:
    """The key to send, or None when there is none (no Authorization header then).

    `PARLEY_SERVER_KEY` wins over the file. Raises ServerKeyError when the file can't be read or holds
    something that is not a key. A file others may read is narrowed to 0600 first, with a warning.
    """
    env = os.environ.get(place.env, "").strip()
    if env:
        if not is_valid_key(env):
            raise ServerKeyError(f"{place.env} holds something that is not an API key (spaces or characters a key "
                                 f"can't have); set it to the key alone, or unset it to use the saved key")
        return env
    path = server_key_path(place)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Another user could read it: close that now (the key may still need changing, say so).
            os.chmod(path, 0o600)
            log.warning("%s could be read by other users (mode %o); it is now readable by you alone. "
                        "If others share this computer, consider a new key.", path, stat.S_IMODE(mode))
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ServerKeyError(f"cannot read {place.whose} API key from {path} ({type(exc).__name__}); "
                             f"save the key again in Settings, or delete the file") from None
    if not key:
        return None
    if not is_valid_key(key):
        raise ServerKeyError(f"{path} holds something that is not an API key (spaces or characters a key can't "
                             f"have); save the key again in Settings, or delete the file")
    return key


def save_server_key(key: str | None, place: KeyPlace = CHAT_SERVER) -> Path | None:
    """Keep `key` for the server of `place` (None or "" forgets it: the file is deleted). Returns the file's path.

    Atomic: the key is written to a new file created with mode 0600, flushed to disk, then renamed over the
    old one, so the file is at no moment readable by others or half-written. Raises ServerKeyError for a
    key that is not one (spaces, control characters) or a folder that can't be written.
    """
    path = server_key_path(place)
    key = (key or "").strip()
    if not key:
        try:
            path.unlink()
            log.info("forgot %s API key (%s deleted)", place.whose, path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ServerKeyError(f"cannot delete {path} ({exc.strerror}); delete it yourself") from None
        return None
    if not is_valid_key(key):
        raise ServerKeyError("that is not an API key: a key is one word of letters, digits and symbols, "
                             "without spaces; paste the key alone")
    tmp: Path | None = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp: a new file (O_EXCL, never one someone else put there), mode 0600 from the first byte.
        fd, name = tempfile.mkstemp(prefix=f".{place.file}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        try:
            os.write(fd, (key + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise ServerKeyError(f"cannot save the API key in {path.parent} ({exc.strerror}); check that the folder "
                             f"is yours and writable") from None
    log.info("saved %s API key in %s", place.whose, path)
    return path


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
