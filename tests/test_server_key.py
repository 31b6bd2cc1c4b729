"""The chat server's API key: kept in a file only the user can read, written atomically, overridden by
PARLEY_SERVER_KEY, and never in a log line, an exception or a repr."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from fake_chat_server import FakeServer, status

from assistant.servers.server_address import ServerTimeouts, ServerUnavailable
from assistant.chat.server_engine import ServerChat
from assistant.servers.server_key import (
    KEY_ENV,
    ServerKeyError,
    read_server_key,
    save_server_key,
    server_key_path,
)
from assistant.runtime.paths import config_dir

pytestmark = pytest.mark.timeout(30)

KEY = "sk-proj-Zx81_secret-KEY.value"


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def test_saved_key_is_readable_by_the_user_alone_and_read_back():
    path = save_server_key(KEY)
    assert path == server_key_path() and path.parent == config_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_server_key() == KEY


def test_no_key_saved_means_none():
    assert read_server_key() is None
    save_server_key(KEY)
    assert save_server_key("") is None and not server_key_path().exists()
    assert read_server_key() is None


def test_saving_replaces_the_file_in_one_rename_and_leaves_nothing_behind():
    save_server_key("first-key")
    before = server_key_path().stat().st_ino
    save_server_key(KEY)
    assert server_key_path().stat().st_ino != before  # a new file renamed over the old, never rewritten in place
    assert sorted(p.name for p in config_dir().iterdir()) == ["server-key"]


def test_a_failed_save_keeps_the_old_key_and_leaves_no_temporary_file(monkeypatch):
    save_server_key("old-key")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched, pytest.raises(ServerKeyError, match="cannot save the API key") as caught:
        patched.setattr(os, "fsync", disk_full)
        save_server_key(KEY)
    assert KEY not in str(caught.value)
    assert read_server_key() == "old-key"
    assert sorted(p.name for p in config_dir().iterdir()) == ["server-key"]


def test_the_environment_overrides_the_file(monkeypatch):
    save_server_key("file-key")
    monkeypatch.setenv(KEY_ENV, KEY)
    assert read_server_key() == KEY


@pytest.mark.parametrize("bad", ["two words", "line\nbreak", "tab\there", "ключ"])
def test_something_that_is_not_a_key_is_refused_without_repeating_it(bad, monkeypatch):
    with pytest.raises(ServerKeyError) as caught:
        save_server_key(bad)
    assert bad.strip() not in str(caught.value)
    server_key_path().parent.mkdir(parents=True, exist_ok=True)
    server_key_path().write_text(bad)
    with pytest.raises(ServerKeyError, match="not an API key") as caught:
        read_server_key()
    assert bad.strip() not in str(caught.value)


def test_a_key_file_others_could_read_is_narrowed_with_a_warning(caplog):
    path = save_server_key(KEY)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert read_server_key() == KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "could be read by other users" in caplog.text and KEY not in caplog.text


def test_the_key_never_reaches_logs_errors_or_reprs(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeServer()
    try:
        save_server_key(KEY)
        engine = ServerChat(fake.url, timeouts=ServerTimeouts(1, 1, 1))  # the saved key, read per request
        assert "".join(engine.reply("Hi")) == "Hello there."
        assert fake.requests[-1][2]["Authorization"] == f"Bearer {KEY}"
        fake.chat = status(401, f"Invalid API key {KEY}")  # a server that echoes the key back
        with pytest.raises(ServerUnavailable) as caught:
            engine.reply("Hi again")
        seen = [str(caught.value), repr(caught.value), repr(engine), engine.describe(), caplog.text]
        assert all(KEY not in text for text in seen)
        assert "[key]" in str(caught.value)
    finally:
        fake.close()


def test_a_key_saved_later_counts_from_the_next_request():
    fake = FakeServer()
    try:
        engine = ServerChat(fake.url, timeouts=ServerTimeouts(1, 1, 1))
        "".join(engine.reply("Hi"))
        assert "Authorization" not in fake.requests[-1][2]
        save_server_key(KEY)
        "".join(engine.reply("Hi"))
        assert fake.requests[-1][2]["Authorization"] == f"Bearer {KEY}"
    finally:
        fake.close()


def test_a_broken_key_file_makes_the_server_unavailable_with_the_fix():
    server_key_path().parent.mkdir(parents=True, exist_ok=True)
    server_key_path().write_text("not a key at all")
    engine = ServerChat("http://127.0.0.1:9/v1", timeouts=ServerTimeouts(1, 1, 1))
    with pytest.raises(ServerUnavailable, match="can't be sent its API key.*save the key again") as caught:
        engine.reply("Hi")
    assert "not a key at all" not in str(caught.value)
