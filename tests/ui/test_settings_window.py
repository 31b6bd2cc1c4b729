"""The settings window, driven as a user would (pytest-qt, offscreen), on real files: the real default models
(linked into a store of each test's own), settings.toml in a private config folder, and a Hugging Face hub
that can't be reached (offline mode with a hub cache of the test's own)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from assistant.models.install import import_path
from assistant.models.store import ModelStore
from assistant.runtime.settings import (
    AudioSettings, ConversationSettings, HotkeySettings, ListeningSettings, ModelSettings, Settings, VoiceSettings,
    load_settings, settings_path,
)
from ui import audio_devices
from ui.audio_devices import AudioDevices, list_audio_devices
from ui.hotkey_edit import HotkeyRefused, describe_hotkey, hotkey_from_keys
from ui.model_choices import ModelChoices, language_advice
from ui.settings_window import SettingsWindow

K = Qt.Key
M = Qt.KeyboardModifier
THORSTEN = "piper-de_DE-thorsten-medium"
CTRL = "cmd" if sys.platform == "darwin" else "ctrl"  # what Qt's ControlModifier is on this platform


# ------------------------------------------------------------------------------------------- fixtures

@pytest.fixture()
def store(tmp_path, default_store, monkeypatch) -> ModelStore:
    """A store of the test's own (downloads land here, never in the user's) holding the default pack, linked."""
    root = tmp_path / "models"
    root.mkdir()
    for model in default_store.installed():
        (root / model.id).symlink_to(model.path, target_is_directory=True)
    monkeypatch.setenv("PARLEY_MODELS_DIR", str(root))
    return ModelStore(root)


@pytest.fixture()
def devices(monkeypatch) -> dict:
    """The devices the window finds; a test changes devices["now"] to plug or unplug one."""
    found = {"now": AudioDevices(inputs=("Built-in Microphone", "USB Headset"),
                                 outputs=("Built-in Output", "USB Headset"))}
    monkeypatch.setattr(audio_devices, "list_audio_devices_now", lambda: found["now"])
    return found


@pytest.fixture()
def offline_hub(tmp_path, monkeypatch) -> Path:
    """The Hugging Face hub can't be reached (offline mode); the hub cache is an empty folder of the test's own."""
    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # huggingface_hub read both when it was imported
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.fixture(scope="session")
def german_voice(tmp_path_factory, joe_voice_onnx) -> Path:
    """A stand-in for the Thorsten voice that needs no network: Joe's weights with a config that says German."""
    folder = tmp_path_factory.mktemp("german-voice")
    onnx = folder / "de_DE-thorsten-medium.onnx"
    shutil.copyfile(joe_voice_onnx, onnx)
    config = json.loads(joe_voice_onnx.with_name(joe_voice_onnx.name + ".json").read_text(encoding="utf-8"))
    config["language"] = {"code": "de_DE", "family": "de", "region": "DE"}
    config["espeak"] = {"voice": "de"}
    onnx.with_name(onnx.name + ".json").write_text(json.dumps(config), encoding="utf-8")
    return onnx


def cache_in_hub(cache: Path, repo: str, files: dict[str, Path]) -> None:
    """Lay `files` out as huggingface_hub caches a repo (refs/main → snapshot links → blobs)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = cache / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "blobs").mkdir()
    for number, (name, source) in enumerate(files.items()):
        blob = folder / "blobs" / f"{number:064x}"
        shutil.copyfile(source, blob)
        link = folder / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))


def open_window(qtbot, settings: Settings, store: ModelStore, catalog) -> SettingsWindow:
    window = SettingsWindow(settings, store, catalog)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.devices_listed)
    return window


def choose_language(window: SettingsWindow, code: str) -> None:
    window.language.setCurrentIndex(window.language.findData(code))


def advice_row(window: SettingsWindow, model_id: str):
    return next(row for row in window.advice_rows if row.advice.model_id == model_id)


def save_with_button(qtbot, window: SettingsWindow) -> Settings:
    with qtbot.waitSignal(window.settings_saved, timeout=5000) as saved:
        qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    return saved.args[0]


def screenshot(window: SettingsWindow, path: Path) -> Path:
    """The window as drawn, saved at `path` (in the `screenshots` folder)."""
    assert window.grab().save(str(path)), f"could not write {path}"
    return path


# ------------------------------------------------------------------------------------- what it shows

CUSTOM = Settings(
    models=ModelSettings(stt="whisper-base"),
    conversation=ConversationSettings(language="fr", mode="push_to_talk", system_prompt="Call me Sam."),
    audio=AudioSettings(input_device="USB Headset", output_device="Built-in Output", echo_cancellation=False),
    listening=ListeningSettings(vad_threshold=0.3, end_of_turn_silence_ms=800, max_utterance_s=45),
    voice=VoiceSettings(speaking_rate=1.25),
    hotkey=HotkeySettings(key="<ctrl>+<alt>+<space>", style="toggle"),
)


def test_the_window_shows_the_current_settings(qtbot, store, catalog, devices):
    window = open_window(qtbot, CUSTOM, store, catalog)

    assert window.language.currentText() == "French"
    assert window.mode_buttons["push_to_talk"].isChecked() and not window.mode_buttons["hands_free"].isChecked()
    assert window.hotkey.field.text() == describe_hotkey("<ctrl>+<alt>+<space>")
    assert window.hotkey_style.currentData() == "toggle"
    assert window.system_prompt.toPlainText() == "Call me Sam."
    assert window.pickers["stt"].menu.currentText() == "Whisper base (multilingual)"
    assert window.pickers["llm"].model_id() == ModelSettings().llm  # the default chat model, whichever it is
    assert window.pickers["tts"].menu.currentText() == "Joe (US English, Piper)"
    assert window.speaking_rate_label.text() == "1.25×"
    assert window.input_device.currentText() == "USB Headset"
    assert window.output_device.currentText() == "Built-in Output"
    assert not window.echo_cancellation.isChecked()
    assert window.sensitivity_label.text() == "72%"  # threshold 0.3 of 0.05..0.95, higher sensitivity = lower
    assert window.end_of_turn.value() == 800 and window.max_utterance.value() == 45
    assert window.current_settings() == CUSTOM
    assert not window.save_button.isEnabled() and not window.isWindowModified()


def test_the_end_of_turn_choice_enables_its_own_timing_and_is_saved(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    assert window.end_of_turn_mode.currentData() == "smart" and window.patience.value() == 2500
    assert window.patience.isEnabled() and not window.end_of_turn.isEnabled()
    window.end_of_turn_mode.setCurrentIndex(window.end_of_turn_mode.findData("fixed"))
    assert not window.patience.isEnabled() and window.end_of_turn.isEnabled()
    window.end_of_turn.setValue(700)
    saved = save_with_button(qtbot, window)
    assert (saved.listening.end_of_turn, saved.listening.end_of_turn_silence_ms) == ("fixed", 700)
    assert load_settings().listening == saved.listening


def test_the_chinese_script_is_chosen_and_saved(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(conversation=ConversationSettings(chinese_script="simplified")), store, catalog)
    assert window.chinese_script.currentData() == "simplified"
    window.chinese_script.setCurrentIndex(window.chinese_script.findData("traditional"))
    assert save_with_button(qtbot, window).conversation.chinese_script == "traditional"
    assert load_settings().conversation.chinese_script == "traditional"


def test_speech_and_voice_servers_are_set_saved_and_a_bad_address_refused(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    assert window.stt_server.text() == window.tts_server.text() == window.tts_server_voice.text() == ""
    window.stt_server.setText(" http://gpu-box:8000/v1 ")
    window.tts_server.setText("http://gpu-box:8880/v1")
    window.tts_server_voice.setText("alloy")
    saved = save_with_button(qtbot, window)
    assert saved.speech_to_text.server_url == "http://gpu-box:8000/v1"
    assert (saved.voice.server_url, saved.voice.server_voice) == ("http://gpu-box:8880/v1", "alloy")
    assert load_settings().voice == saved.voice and load_settings().speech_to_text == saved.speech_to_text
    window.stt_server.setText("gpu-box 8000")
    assert not window.save() and "speech_to_text.server_url" in window.status.text()
    assert load_settings().speech_to_text.server_url == "http://gpu-box:8000/v1"  # nothing lost


def test_a_chinese_voice_is_chosen_from_kokoros_mandarin_styles_and_saved(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    menu = window.mandarin_voice
    offered = [menu.itemText(i) for i in range(menu.count())]
    assert offered[0] == "Xiaoxiao (female), the clearest" and menu.currentData() == ""
    assert "Yunxi (male)" in offered and len(offered) == 8 and not any("Kumo" in o for o in offered)  # Mandarin only
    menu.setCurrentIndex(menu.findData("zm_yunxi"))
    assert save_with_button(qtbot, window).voice.mandarin_style == "zm_yunxi"
    assert load_settings().voice.mandarin_style == "zm_yunxi"
    # A style the installed voice no longer has stays what it was, listed as such: opening changes nothing.
    window = open_window(qtbot, Settings(voice=VoiceSettings(mandarin_style="zf_gone")), store, catalog)
    assert window.mandarin_voice.currentText() == "zf_gone (not installed)" and not window.has_unsaved_changes()


def test_values_between_the_sliders_steps_are_kept(qtbot, store, catalog, devices):
    odd = Settings(conversation=ConversationSettings(system_prompt="Be brief.\n"),
                   listening=ListeningSettings(vad_threshold=0.333), voice=VoiceSettings(speaking_rate=1.234))
    window = open_window(qtbot, odd, store, catalog)
    assert window.current_settings() == odd and not window.has_unsaved_changes()
    window.speaking_rate.setValue(window.speaking_rate.value() + 5)  # moved: now the slider's own value
    assert window.current_settings().voice.speaking_rate == 1.28


def test_sliders_at_their_first_position_show_their_value(qtbot, store, catalog, devices):
    lowest = Settings(voice=VoiceSettings(speaking_rate=0.5), listening=ListeningSettings(vad_threshold=0.95))
    window = open_window(qtbot, lowest, store, catalog)
    assert window.speaking_rate_label.text() == "0.50×" and window.sensitivity_label.text() == "0%"


def test_saving_writes_settings_that_load_back_equal(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    window.mode_buttons["push_to_talk"].click()
    window.hotkey_style.setCurrentIndex(window.hotkey_style.findData("toggle"))
    window.system_prompt.setPlainText('Call me "Sam".\nKeep it short.')
    window.pickers["stt"].menu.setCurrentIndex(window.pickers["stt"].menu.findData("whisper-base"))
    window.output_device.setCurrentIndex(window.output_device.findData("USB Headset"))
    window.echo_cancellation.setChecked(False)
    window.sensitivity.setValue(window.sensitivity.maximum())  # the most sensitive: the lowest threshold allowed
    window.end_of_turn.setValue(10_000)  # typed past the end of the range
    window.speaking_rate.setValue(window.speaking_rate.minimum())
    assert window.isWindowModified() and window.save_button.isEnabled()

    emitted = save_with_button(qtbot, window)

    on_disk = load_settings()
    assert on_disk == emitted == window.current_settings()
    assert on_disk.conversation == ConversationSettings(mode="push_to_talk", system_prompt='Call me "Sam".\nKeep it short.')
    assert on_disk.models.stt == "whisper-base" and on_disk.hotkey.style == "toggle"
    assert on_disk.audio == AudioSettings(output_device="USB Headset", echo_cancellation=False)
    assert on_disk.listening.vad_threshold == 0.05 and on_disk.listening.end_of_turn_silence_ms == 3000
    assert on_disk.voice.speaking_rate == 0.5
    assert not window.isWindowModified() and not window.save_button.isEnabled()
    assert window.status.text() == "Saved."


def test_saving_twice_gives_the_same_file(qtbot, store, catalog, devices):
    window = open_window(qtbot, CUSTOM, store, catalog)
    assert window.save()
    first = settings_path().read_bytes()
    window.set_settings(load_settings())
    assert window.current_settings() == CUSTOM
    assert window.save()
    assert settings_path().read_bytes() == first


# --------------------------------------------------------------------------------------- language

def test_german_offers_the_german_voice_and_saves_the_language(qtbot, store, catalog, devices, screenshots):
    window = open_window(qtbot, Settings(), store, catalog)
    choose_language(window, "de")

    voice = advice_row(window, THORSTEN)
    assert voice.advice.action == "download" and voice.advice.warning
    assert voice.text.text() == ("No voice of Parley's speaks German; replies will be read by the system's voice, "
                                 "German (espeak-ng). Thorsten (German, Piper) speaks German.")
    assert voice.button.isVisible() and voice.button.text() == "Download Thorsten (63 MB)"
    speech = advice_row(window, "whisper-base")  # whisper-tiny.en can't understand German
    assert speech.advice.action == "use" and "understands only English" in speech.text.text()
    assert window.pickers["tts"].model_id() == "piper-en_US-joe-medium"  # not a voice that isn't there yet
    screenshot(window, screenshots / "settings.png")

    qtbot.mouseClick(speech.button, Qt.MouseButton.LeftButton)
    assert window.pickers["stt"].model_id() == "whisper-base"
    assert "whisper-base" not in [row.advice.model_id for row in window.advice_rows]

    saved = save_with_button(qtbot, window)
    assert saved.conversation.language == "de" and saved.models.stt == "whisper-base"
    assert load_settings() == saved


def test_german_picks_an_installed_german_voice(qtbot, store, catalog, devices, german_voice):
    import_path(store, german_voice, THORSTEN)
    window = open_window(qtbot, Settings(), store, catalog)
    choose_language(window, "de")

    assert window.pickers["tts"].model_id() == THORSTEN
    assert window.advice_rows[0].text.text() == "Replies will be read by Thorsten (German, Piper)."
    saved = save_with_button(qtbot, window)
    assert (saved.conversation.language, saved.models.tts) == ("de", THORSTEN)
    assert load_settings().models.tts == THORSTEN

    choose_language(window, "en")  # back to English: Joe again, as Thorsten doesn't speak it
    assert window.pickers["tts"].model_id() == "piper-en_US-joe-medium"


def test_downloading_the_offered_voice_installs_and_selects_it(qtbot, store, catalog, devices, offline_hub,
                                                                german_voice):
    cache_in_hub(offline_hub, "rhasspy/piper-voices", {
        "de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx": german_voice,
        "de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx.json": german_voice.with_name(german_voice.name + ".json"),
    })
    window = open_window(qtbot, Settings(), store, catalog)
    choose_language(window, "de")
    stages = []
    window.downloads.changed.connect(lambda model_id: stages.append(window.downloads.running(model_id)))

    with qtbot.waitSignal(window.downloads.finished, timeout=120_000) as finished:
        qtbot.mouseClick(advice_row(window, THORSTEN).button, Qt.MouseButton.LeftButton)

    assert finished.args[0] == THORSTEN
    seen = [progress.stage for progress in stages if progress]
    assert seen[0] == "download" and seen[-1] == "convert"  # the window was told each stage as it ran
    assert store.get(THORSTEN).source == "hub:rhasspy/piper-voices"
    assert window.pickers["tts"].model_id() == THORSTEN
    assert window.advice_rows[0].text.text() == "Replies will be read by Thorsten (German, Piper)."
    assert save_with_button(qtbot, window).models.tts == THORSTEN


def test_a_language_no_voice_of_parley_speaks_is_read_by_the_system_voice(store, catalog):
    choices = ModelChoices(store, catalog)
    advice = language_advice(choices, "ja", "whisper-base", "smollm2-135m-instruct", "piper-en_US-joe-medium")
    assert advice[0].text == ("No voice of Parley's speaks Japanese; replies will be read by the system's voice, "
                              "Japanese (espeak-ng).")
    assert advice[0].warning and not advice[0].action  # (espeak-ng's formant voices are hard to understand)


def test_no_voice_for_the_language_is_said_plainly(store, catalog, monkeypatch):
    from assistant.speak import system_voice

    monkeypatch.setattr(system_voice, "system_voices", lambda: ())  # a system without espeak-ng
    choices = ModelChoices(store, catalog)
    advice = language_advice(choices, "ja", "whisper-base", "smollm2-135m-instruct", "piper-en_US-joe-medium")
    assert advice[0].text == "No voice speaks Japanese yet; replies will be read by Joe (US English, Piper)."
    assert advice[0].warning and not advice[0].action


def test_an_english_only_speech_model_is_flagged(tmp_path, default_store, catalog):
    choices = ModelChoices(default_store, catalog)
    french = language_advice(choices, "fr", "whisper-tiny.en", "smollm2-135m-instruct", "piper-en_US-joe-medium")
    speech = next(a for a in french if a.kind == "stt")
    assert (speech.action, speech.model_id) == ("use", "whisper-base")
    assert speech.text == ("Whisper tiny (English) understands only English, so Parley will use "
                           "Whisper base (multilingual) to understand French.")
    detect = language_advice(choices, "auto", "whisper-tiny.en", "smollm2-135m-instruct", "piper-en_US-joe-medium")
    assert any(a.kind == "stt" and "detect the language" in a.text for a in detect)
    chat = next(a for a in french if a.kind == "llm")  # SmolLM2 speaks English: an installed model that speaks French
    assert chat.action == "use" and default_store.get(chat.model_id).speaks("fr")

    # Without whisper-base installed, the fix is to download it.
    only_tiny = tmp_path / "models"
    only_tiny.mkdir()
    (only_tiny / "whisper-tiny.en").symlink_to(default_store.get("whisper-tiny.en").path)
    speech = next(a for a in language_advice(ModelChoices(ModelStore(only_tiny), catalog), "fr", "whisper-tiny.en",
                                             "smollm2-135m-instruct", "piper-en_US-joe-medium") if a.kind == "stt")
    assert (speech.action, speech.model_id) == ("download", "whisper-base")
    assert "no installed speech model understands French" in speech.text


# -------------------------------------------------------------------------------------- downloads

def test_a_download_that_fails_says_why_and_installs_nothing(qtbot, store, catalog, devices, offline_hub, screenshots):
    window = open_window(qtbot, Settings(), store, catalog)
    window.tabs.setCurrentIndex(1)
    picker = window.pickers["stt"]
    before = sorted(p.name for p in store.root.iterdir())
    picker.menu.setCurrentIndex(picker.menu.findData("whisper-small"))
    assert picker.details.text().startswith("Not installed · 480 MB to download")
    assert picker.download_button.isVisible()

    qtbot.mouseClick(picker.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(picker.status.error.isVisible, timeout=60_000)

    message = picker.status.error.text()
    assert message.startswith("Download failed. Cannot download mlx-community/whisper-small-mlx")
    assert "can't be reached" in message and "Connect to the internet and try again" in message
    assert picker.download_button.text() == "Try Again" and picker.download_button.isEnabled()
    assert store.get("whisper-small") is None
    assert sorted(p.name for p in store.root.iterdir()) == before  # no staging folder, nothing half-written
    screenshot(window, screenshots / "settings-download-failed.png")

    assert not window.save()  # a speech model that isn't there can't be saved
    assert "isn't installed yet" in window.status.text() and "Nothing was saved" in window.status.text()
    assert not settings_path().exists()


def test_a_corrupt_download_leaves_nothing_in_the_store(qtbot, store, catalog, devices, offline_hub, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07not an onnx model" * 100)
    cache_in_hub(offline_hub, "rhasspy/piper-voices", {
        "fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx": broken,
        "fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx.json": broken,
    })
    window = open_window(qtbot, Settings(), store, catalog)
    before = sorted(p.name for p in store.root.iterdir())
    picker = window.pickers["tts"]
    picker.menu.setCurrentIndex(picker.menu.findData("piper-fr_FR-siwis-medium"))
    qtbot.mouseClick(picker.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(window.downloads.error("piper-fr_FR-siwis-medium")), timeout=60_000)

    assert picker.status.error.text().startswith("Download failed.")
    assert "fr_FR-siwis-medium.onnx" in picker.status.error.text()  # names the bad file
    assert store.get("piper-fr_FR-siwis-medium") is None
    assert sorted(p.name for p in store.root.iterdir()) == before


# ---------------------------------------------------------------------------------------- devices

def test_a_saved_device_that_is_gone_stays_selected_as_not_connected(qtbot, store, catalog, devices, screenshots):
    settings = Settings(audio=AudioSettings(input_device="Studio Mic", output_device="USB Headset"))
    window = open_window(qtbot, settings, store, catalog)
    window.tabs.setCurrentIndex(2)

    menu = window.input_device
    assert [menu.itemText(i) for i in range(menu.count())] == [
        "System default", "Built-in Microphone", "USB Headset", "Studio Mic (not connected)"]
    assert menu.currentText() == "Studio Mic (not connected)" and menu.device() == "Studio Mic"
    assert window.output_device.currentText() == "USB Headset"
    assert not window.has_unsaved_changes()
    screenshot(window, screenshots / "settings-audio.png")

    devices["now"] = AudioDevices(inputs=("Built-in Microphone", "Studio Mic"), outputs=("Built-in Output",))
    qtbot.mouseClick(window.refresh_devices_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: menu.currentText() == "Studio Mic")
    assert window.output_device.currentText() == "USB Headset (not connected)"
    assert window.current_settings().audio == settings.audio  # nothing silently changed


def test_no_audio_devices_at_all(qtbot, store, catalog, monkeypatch):
    empty = SimpleNamespace(query_devices=lambda: [])
    monkeypatch.setitem(sys.modules, "sounddevice", empty)
    assert list_audio_devices() == AudioDevices()

    def failing():
        raise OSError("PortAudio library not found")

    monkeypatch.setitem(sys.modules, "sounddevice", SimpleNamespace(query_devices=failing))
    assert "PortAudio library not found" in list_audio_devices().problem

    monkeypatch.setitem(sys.modules, "sounddevice", empty)
    monkeypatch.setattr(audio_devices, "list_audio_devices_now", audio_devices.list_audio_devices)
    window = open_window(qtbot, Settings(), store, catalog)
    assert [window.input_device.itemText(i) for i in range(window.input_device.count())] == ["System default"]
    assert window.output_device.count() == 1
    assert window.devices_note.text() == "No microphone or speaker found; connect one and refresh."


def test_the_device_list_comes_from_a_fresh_process(monkeypatch):
    table = [["Mic", 2, 0], ["Speakers", 0, 2], ["Headset", 1, 2], ["Mic", 2, 0]]
    monkeypatch.setattr(audio_devices, "_LIST_SCRIPT", f"print({json.dumps(table)!r})")
    assert audio_devices.list_audio_devices_now() == AudioDevices(inputs=("Mic", "Headset"),
                                                                   outputs=("Speakers", "Headset"))


# ----------------------------------------------------------------------------------------- hotkey

def test_recording_ctrl_alt_space(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    edit = window.hotkey
    qtbot.mouseClick(edit.record_button, Qt.MouseButton.LeftButton)
    assert edit.is_recording() and edit.record_button.text() == "Cancel"

    qtbot.keyClick(edit.field, K.Key_Space, M.ControlModifier | M.AltModifier)

    assert edit.hotkey() == f"<{CTRL}>+<alt>+<space>"
    assert not edit.is_recording() and edit.field.text() == describe_hotkey(edit.hotkey())
    assert window.current_settings().hotkey.key == f"<{CTRL}>+<alt>+<space>" and window.save_button.isEnabled()


def test_a_bare_letter_is_refused_with_a_message(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    edit = window.hotkey
    qtbot.mouseClick(edit.record_button, Qt.MouseButton.LeftButton)

    qtbot.keyClick(edit.field, K.Key_A)

    assert edit.hotkey() == "<f8>" and edit.is_recording()
    assert edit.message.isVisible() and "A would go off while you type" in edit.message.text()
    assert not window.has_unsaved_changes()

    qtbot.keyClick(edit.field, K.Key_Escape)  # Esc gives up, keeping the old key
    assert not edit.is_recording() and edit.hotkey() == "<f8>" and edit.field.text() == "F8"

    edit.start_recording()
    qtbot.keyClick(edit.field, K.Key_K, M.ControlModifier | M.ShiftModifier)
    assert edit.hotkey() == f"<{CTRL}>+<shift>+k" and not edit.message.isVisible()


@pytest.mark.parametrize("key, modifiers, platform, expected", [
    (K.Key_F8, M.NoModifier, "linux", "<f8>"),
    (K.Key_Space, M.ControlModifier | M.AltModifier, "linux", "<ctrl>+<alt>+<space>"),
    (K.Key_K, M.ControlModifier | M.ShiftModifier, "darwin", "<cmd>+<shift>+k"),  # Qt's Control is ⌘ there
    (K.Key_Space, M.MetaModifier | M.ShiftModifier, "darwin", "<ctrl>+<shift>+<space>"),  # ...and Meta is ⌃
    (K.Key_K, M.MetaModifier | M.AltModifier, "linux", "<alt>+<cmd>+k"),
    (K.Key_Pause, M.NoModifier, "linux", "<pause>"),
    (K.Key_Comma, M.ControlModifier, "linux", "<ctrl>+,"),
])
def test_keys_become_pynput_shortcuts(key, modifiers, platform, expected):
    assert hotkey_from_keys(key, modifiers, platform) == expected


@pytest.mark.parametrize("key, modifiers, platform, message", [
    (K.Key_A, M.NoModifier, "linux", "A would go off while you type. Hold Ctrl or Alt with it"),
    (K.Key_7, M.ShiftModifier, "linux", "Shift+7 would go off while you type"),
    (K.Key_Space, M.NoModifier, "linux", "Space would go off while you type"),
    (K.Key_K, M.AltModifier, "darwin", "⌥K would go off while you type. Hold ⌃ or ⌘ with it"),
    (K.Key_Insert, M.NoModifier, "darwin", "Parley can't watch that key"),
])
def test_keys_that_cant_be_the_shortcut_are_refused(key, modifiers, platform, message):
    with pytest.raises(HotkeyRefused, match=re.escape(message)):
        hotkey_from_keys(key, modifiers, platform)


def test_pynput_reads_every_shortcut_the_recorder_makes():
    from xdisplay import missing_tools, virtual_display

    if missing_tools(("Xvfb",)):
        pytest.skip("needs Xvfb for pynput's X11 backend")
    made = [hotkey_from_keys(K(K.Key_F1 + n), M.NoModifier, "linux") for n in range(20)] + [
        hotkey_from_keys(key, modifiers, "linux") for key, modifiers in (
            (K.Key_Space, M.ControlModifier | M.AltModifier), (K.Key_K, M.MetaModifier | M.ShiftModifier),
            (K.Key_Return, M.ControlModifier), (K.Key_PageDown, M.AltModifier), (K.Key_Slash, M.ControlModifier),
            (K.Key_MediaTogglePlayPause, M.NoModifier), (K.Key_ScrollLock, M.NoModifier), (K.Key_9, M.AltModifier))]
    check = "import sys; from pynput.keyboard import HotKey; [HotKey.parse(k) for k in sys.argv[1:]]; print('ok')"
    with virtual_display() as display:
        result = subprocess.run([sys.executable, "-c", check, *made], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "DISPLAY": display})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ----------------------------------------------------------------------------------------- window

def test_closing_with_unsaved_changes_asks_and_never_quits(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    assert not window.testAttribute(Qt.WidgetAttribute.WA_QuitOnClose)
    window.system_prompt.setPlainText("Call me Sam.")

    window.close()
    assert window.isVisible()  # kept open until the user answers
    box = window.findChild(QMessageBox)
    box.button(QMessageBox.StandardButton.Discard).click()
    assert not window.isVisible() and window.system_prompt.toPlainText() == ""
    assert not settings_path().exists()

    window.show()
    window.echo_cancellation.setChecked(False)
    window.close()
    window.findChild(QMessageBox).button(QMessageBox.StandardButton.Save).click()
    assert not window.isVisible() and load_settings().audio.echo_cancellation is False

    window.show()
    window.close()  # nothing to save: closes at once
    assert not window.isVisible()


def test_status_line_and_revert(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    window.set_status("Loading whisper-base…")
    assert window.status.text() == "Loading whisper-base…"
    window.speaking_rate.setValue(150)
    assert window.revert_button.isEnabled()
    qtbot.mouseClick(window.revert_button, Qt.MouseButton.LeftButton)
    assert window.current_settings() == Settings() and not window.revert_button.isEnabled()
    window.set_settings(replace(Settings(), voice=VoiceSettings(speaking_rate=1.5)))
    assert window.speaking_rate_label.text() == "1.50×" and not window.has_unsaved_changes()
