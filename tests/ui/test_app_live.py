"""The real app on a virtual screen with a tray host and the virtual audio devices: the tray icon appears and
follows a spoken turn, its menu opens on a click, the push-to-talk key (pressed with xdotool, heard by the
global listener) starts and ends a turn, and a setting changed in the settings window survives a restart.

Screenshots of the tray, its menu, the conversation and the first run go to the `screenshots` folder (a temporary
one; docs/screenshots/, which the README shows, under `make screenshots`)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from desktop import REPO, Desktop, ParleyProcess, color_share, load_png
from test_conversation_live import _words, spoken  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb and trayer need Linux")

GREEN, BLUE, AMBER, VIOLET = "#34c759", "#0a84ff", "#ff9f0a", "#af52de"  # ui/tray_icons.py
TRAY_STATE = r"tray: (?!menu shown)"  # the line the tray logs when its icon changes to another state


@pytest.fixture(scope="module")
def desktop():
    try:
        with Desktop() as desktop:
            yield desktop
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parley-app")


@pytest.fixture(scope="module")
def app_env(audio_rig, default_store, home) -> dict[str, str]:
    return {**audio_rig.env(), "PARLEY_CONFIG_DIR": str(home / "config"), "PARLEY_LOG_DIR": str(home / "logs")}


@pytest.fixture(scope="module")
def app(desktop, app_env, home):
    process = ParleyProcess(desktop, app_env, home / "logs" / "parley.log")
    try:
        process.wait_for_log(r"tray: listening")
        yield process
    finally:
        assert process.quit() == 0


def _icon_pixels(desktop: Desktop, path: Path):
    x, y, width, height = desktop.tray_icon_geometry()
    return load_png(path)[y:y + height, x:x + width] if path.exists() else None, (x, y, width, height)


def _wait_for_icon(desktop: Desktop, app: ParleyProcess, color: str, state: re.Match, tmp_path: Path) -> None:
    """The tray icon shows `color` (a fifth of it at least) while the tray is in the state whose log line `state`
    is: the tray logs a state before its icon is drawn anew, so the screen is looked at until it shows it; a
    screenshot counts only if no other state was logged before it was taken."""

    def shows(pixels) -> bool:
        if re.search(TRAY_STATE, app.log()[state.end():]):
            raise AssertionError(f"the tray left {state.group(0)!r} before its icon showed {color}")
        icon, _ = _icon_pixels(desktop, tmp_path / "screen.png")
        return color_share(icon, color) > 0.2

    desktop.wait_for_screen(tmp_path / "screen.png", shows, f"the tray icon in {color}")


def _open_tray_menu(desktop: Desktop, app: ParleyProcess, path: Path, after: int = 0) -> None:
    """A right click on the icon: the menu opens, and is drawn (the screenshot at `path` shows it)."""
    x, y = desktop.tray_icon_center()
    screen = desktop.screenshot(path)
    before = app.log().count("tray: menu shown")
    desktop.click(x, y, button=3)
    app.wait_for_log(r"tray: menu shown", timeout=20, after=after)
    assert app.log().count("tray: menu shown") == before + 1
    desktop.wait_for_screen(path, lambda pixels: (pixels != screen).any(axis=-1).mean() > 0.01, "the tray menu")


def test_the_tray_icon_appears_listening_and_its_menu_opens_on_a_click(desktop, app, screenshots, tmp_path):
    x, y = desktop.tray_icon_center()
    _wait_for_icon(desktop, app, GREEN, app.wait_for_log(r"tray: listening"), tmp_path)  # the listening badge
    _save_crop(tmp_path / "screen.png", screenshots / "tray.png", x - 30, 0, 48, 34, scale=3)
    _open_tray_menu(desktop, app, tmp_path / "menu.png")
    _save_crop(tmp_path / "menu.png", screenshots / "tray-menu.png", x - 160, 0, 180, 226, scale=1)
    desktop.xdotool("key", "Escape")


def test_a_spoken_turn_moves_the_tray_icon_through_its_states(desktop, app, audio_rig, spoken, tmp_path):
    start = len(app.log())
    # A story: it is read for long enough to see the icon speaking.
    audio_rig.play_into_mic(spoken("Tell me a long story about a brave little dragon."), 22050)
    for state in ("user_speaking", "thinking", "speaking"):
        reached = app.wait_for_log(rf"tray: {state}", after=start)
    _wait_for_icon(desktop, app, VIOLET, reached, tmp_path)
    said = app.wait_for_log(r"event UserSaid\(turn=\d+, text='([^']*)'", after=start)
    assert "dragon" in _words(said.group(1))
    desktop.xdotool("key", "F8")  # the push-to-talk key stops it; the turn it began, with nothing said, ends
    app.wait_for_log(r"event ReplyFinished\(turn=\d+, .*, interrupted=True\)", after=start)
    app.wait_for_log(r"tray: listening", after=reached.end())


def test_the_hotkey_starts_and_ends_a_push_to_talk_turn(desktop, app, audio_rig, spoken, tmp_path):
    start = len(app.log())
    desktop.xdotool("keydown", "F8")
    hearing = app.wait_for_log(r"tray: user_speaking", after=start, timeout=20)
    _wait_for_icon(desktop, app, BLUE, hearing, tmp_path)  # hearing you
    audio_rig.play_into_mic(spoken("What is the largest ocean?"), 22050)
    desktop.xdotool("keyup", "F8")
    said = app.wait_for_log(r"event UserSaid\(turn=\d+, text='([^']*)'", after=start)
    assert "ocean" in _words(said.group(1))
    app.wait_for_log(r"event ReplyFinished", after=start)


def test_the_conversation_window_shows_the_turns_with_their_timings(desktop, app, screenshots, tmp_path):
    x, y = desktop.tray_icon_center()
    desktop.click(x, y, button=1)  # a left click opens the conversation
    window, (left, top, width, height) = desktop.wait_for_window("Parley")
    shot = tmp_path / "screen.png"
    # The user's blue bubbles are drawn there.
    desktop.wait_for_screen(shot, lambda pixels: color_share(pixels[top:top + height, left:left + width],
                                                             "#0a84ff", 30) > 0.005, "the conversation's bubbles")
    _save_crop(shot, screenshots / "conversation.png", left, top, width, height)
    desktop.xdotool("windowfocus", "--sync", window)
    desktop.xdotool("key", "ctrl+w")  # closes it; the app keeps running in the tray
    Desktop._wait(lambda: desktop.window_named("Parley") is None, "the conversation window to close", 20)
    assert app.proc.poll() is None


def test_a_second_launch_brings_the_running_app_forward_instead_of_starting_twice(desktop, app, app_env, home):
    import subprocess

    assert desktop.window_named("Parley") is None  # the conversation window is closed
    second = subprocess.run([sys.executable, "-m", "ui"], env={**desktop.env, **app_env}, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "already running" in second.stderr
    desktop.wait_for_window("Parley", timeout=20)  # the running one showed its window
    assert app.proc.poll() is None


def _open_settings(desktop: Desktop, app: ParleyProcess, after: int, tmp_path: Path) -> str:
    _open_tray_menu(desktop, app, tmp_path / "menu.png", after)
    desktop.xdotool("key", "s")  # Settings… (the menu has closed when the window it opens is shown)
    window, geometry = desktop.wait_for_window("Parley Settings")
    desktop.wait_until_painted(tmp_path / "screen.png", geometry, "the settings window")
    desktop.xdotool("windowfocus", "--sync", window)  # returns once it has the keyboard
    return window


def _keys(desktop: Desktop, *keys: str) -> None:
    """Keys typed in order (the app handles each before the next, in the order the X server delivers them)."""
    desktop.xdotool("key", *keys)


def _change_and_save(desktop: Desktop, app: ParleyProcess, window: str, after: int, *keys: str) -> None:
    """Type `keys` in the settings window, wait until it shows a change, then save (Ctrl+S). (A button chosen by its
    mnemonic is clicked 100 ms after its key, Qt's animateClick: a Ctrl+S typed at once would save the old settings.)"""
    _keys(desktop, *keys)
    desktop.wait_for_title(window, "Parley Settings*")  # unsaved changes
    _keys(desktop, "ctrl+s")
    app.wait_for_log(r"settings saved to ", after=after, timeout=30)
    desktop.wait_for_title(window, "Parley Settings")


def test_a_model_changed_in_the_window_reloads_in_the_background(desktop, app, audio_rig, spoken, tmp_path):
    start = len(app.log())
    window = _open_settings(desktop, app, start, tmp_path)
    # The Models tab, the speech model: the next one.
    _change_and_save(desktop, app, window, start, "alt+m", "alt+r", "Down", "Return")
    app.wait_for_log(r"event Loading\(what='loading whisper-base", after=start, timeout=30)
    app.wait_for_log(r"listening with whisper-base", after=start, timeout=120)
    audio_rig.play_into_mic(spoken("What is the capital of France?"), 22050)
    said = app.wait_for_log(r"event UserSaid\(turn=\d+, text='([^']*)'", after=start)
    assert "capital of france" in _words(said.group(1))
    desktop.xdotool("windowfocus", "--sync", window)
    _keys(desktop, "ctrl+w")


def test_a_setting_changed_in_the_window_is_saved_and_survives_a_restart(desktop, app, app_env, home, tmp_path):
    from assistant.runtime.settings import load_settings

    start = len(app.log())
    window = _open_settings(desktop, app, start, tmp_path)
    _change_and_save(desktop, app, window, start, "alt+g", "alt+p")  # General tab, Push-to-talk
    app.wait_for_log(r"tray: idle", after=start, timeout=30)  # applied live: no longer listening all the time
    saved = load_settings(home / "config" / "settings.toml")
    assert saved.conversation.mode == "push_to_talk"
    assert app.quit() == 0

    again = ParleyProcess(desktop, app_env, home / "logs" / "parley.log")
    try:
        again.wait_for_log(r"push-to-talk key <f8> \(hold\) ready")
        ready = again.wait_for_log(r"event Loading\(what='', done=True\)")
        again.wait_for_log(r"tray: idle", after=ready.start())  # waiting for the key, not listening
        assert "tray: listening" not in again.log()
    finally:
        assert again.quit() == 0


def _own_app(desktop: Desktop, app_env: dict[str, str], folder: Path) -> ParleyProcess:
    """A Parley of its own (fresh settings, its own log), for a test that ends it."""
    env = {**app_env, "PARLEY_CONFIG_DIR": str(folder / "config"), "PARLEY_LOG_DIR": str(folder / "logs")}
    return ParleyProcess(desktop, env, folder / "logs" / "parley.log")


def test_quit_in_the_tray_menu_ends_the_app_within_the_bound(desktop, app, app_env, tmp_path):
    app.quit()  # one Parley at a time: a second launch would only bring the first one forward
    own = _own_app(desktop, app_env, tmp_path)
    try:
        own.wait_for_log(r"tray: listening")
        _open_tray_menu(desktop, own, tmp_path / "menu.png")  # drawn, so it has the keyboard
        clicked = time.monotonic()
        desktop.xdotool("key", "q")  # &Quit Parley
        assert own.wait_for_exit(clicked, "Quit in the tray menu") == 0
    finally:
        own.quit()


def test_sigterm_while_the_models_load_ends_the_app_within_the_bound(desktop, app, app_env, tmp_path):
    app.quit()
    own = _own_app(desktop, app_env, tmp_path)
    try:
        own.wait_for_log(r"event Loading\(what='loading")
        assert "tray: listening" not in own.log()  # still loading
        assert own.quit() == 0
    finally:
        own.quit()


def test_other_programs_use_the_apps_own_models_and_wait_while_a_person_talks(desktop, app, app_env, audio_rig,
                                                                             spoken, tmp_path):
    """The API switched on in the settings: the openai client hears, voices and chats through the app's loaded
    models; a completion streaming when a person starts talking gives way to the conversation, and finishes after."""
    import socket
    import threading

    import tomli_w
    from openai import OpenAI

    from assistant.audio_files import write_wav

    app.quit()
    with socket.socket() as probe:  # a port free now (the app binds it a moment later)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(tomli_w.dumps({"api": {"enabled": True, "port": port}}))
    own = _own_app(desktop, app_env, tmp_path)
    try:
        own.wait_for_log(rf"event Serving\(where=\('OpenAI-style API at http://127.0.0.1:{port}/v1'")
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=120)
        write_wav(tmp_path / "question.wav", spoken("What is the capital of France?"), 22050)
        with open(tmp_path / "question.wav", "rb") as file:
            assert "capital" in client.audio.transcriptions.create(model="whisper-1", file=file).text.lower()
        assert client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.").content[:4] == b"RIFF"

        start = len(own.log())
        pieces: list[str] = []
        first = threading.Event()

        def count() -> None:
            for chunk in client.chat.completions.create(
                    model="parley", stream=True, max_tokens=300,
                    messages=[{"role": "user", "content": "List the numbers one to thirty in words, one per line."}]):
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
                    first.set()

        streaming = threading.Thread(target=count, daemon=True)
        streaming.start()
        assert first.wait(60), "the completion did not start"
        audio_rig.play_into_mic(spoken("What is the largest ocean?"), 22050)
        own.wait_for_log(r"an API completion gives way to the conversation", after=start)
        said = own.wait_for_log(r"event UserSaid\(turn=\d+, text='([^']*)'", after=start)
        assert "ocean" in _words(said.group(1))
        own.wait_for_log(r"event ReplyFinished", after=said.end())
        streaming.join(120)
        assert not streaming.is_alive(), "the paused completion never finished"
        words = "".join(pieces).lower()
        assert 0 <= words.find("one") < words.find("ten") < words.find("twenty"), words
    finally:
        assert own.quit() == 0


def _save_crop(source: Path, target: Path, x: int, y: int, width: int, height: int, scale: int = 1) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    image = QImage(str(source))
    x, y = max(0, x), max(0, y)
    crop = image.copy(x, y, min(width, image.width() - x), min(height, image.height() - y))
    if scale != 1:
        crop = crop.scaled(crop.width() * scale, crop.height() * scale, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
    assert crop.save(str(target))


def test_first_run_sets_up_the_default_models_with_progress_then_listens(desktop, app_env, screenshots, tmp_path):
    from assistant.models.catalog import default_pack, load_catalog
    from assistant.models.store import ModelStore

    store = tmp_path / "empty-store"
    env = {**app_env, "PARLEY_MODELS_DIR": str(store), "PARLEY_CONFIG_DIR": str(tmp_path / "config"),
           "PARLEY_LOG_DIR": str(tmp_path / "logs")}
    first = ParleyProcess(desktop, env, tmp_path / "logs" / "parley.log")
    try:
        window, (left, top, width, height) = desktop.wait_for_window("Setting up Parley", timeout=60)
        desktop.wait_until_painted(tmp_path / "screen.png", (left, top, width, height), "the first run's window")
        _save_crop(tmp_path / "screen.png", screenshots / "first-run.png", left, top, width, height)
        first.wait_for_log(r"tray: listening", timeout=600)
        installed = {model.id for model in ModelStore(store).installed()}
        assert installed == {entry.id for entry in default_pack(load_catalog())}
    finally:
        assert first.quit() == 0
