"""Settings: TOML in, frozen dataclasses out, errors that name the key, atomic saves."""

from __future__ import annotations

import dataclasses
import os

import pytest

from assistant.runtime.settings import (Settings, SettingsError, load_settings, load_settings_or_defaults, save_settings,
                                settings_from_dict, settings_path)


def test_missing_file_gives_defaults(tmp_path):
    assert load_settings(tmp_path / "nope.toml") == Settings()


def test_save_then_load_round_trips_every_section(tmp_path):
    changed = Settings(
        conversation=dataclasses.replace(Settings().conversation, language="ko", system_prompt='Say "hi"\nthen stop.'),
        listening=dataclasses.replace(Settings().listening, vad_threshold=0.7, end_of_turn_silence_ms=800),
        audio=dataclasses.replace(Settings().audio, echo_cancellation=False, input_device="USB Mic"),
    )
    path = save_settings(changed, tmp_path / "settings.toml")
    assert load_settings(path) == changed


def test_default_location_is_the_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(tmp_path))
    save_settings(Settings())
    assert settings_path() == tmp_path / "settings.toml"
    assert load_settings() == Settings()


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().listening.vad_threshold = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    "data, words",
    [
        ({"models": {"speech": "x"}}, ["models.speech", "stt, llm, tts, vad"]),
        ({"bogus": {}}, ["[bogus]", "models, conversation"]),
        ({"conversation": {"language": "klingon"}}, ["conversation.language", "auto, en"]),
        ({"conversation": {"mode": "always"}}, ["conversation.mode", "hands_free, wake_word, push_to_talk"]),
        ({"listening": {"vad_threshold": 2}}, ["listening.vad_threshold", "0.05 to 0.95"]),
        ({"listening": {"end_of_turn_silence_ms": "fast"}}, ["listening.end_of_turn_silence_ms", "int"]),
        ({"audio": {"echo_cancellation": 1}}, ["audio.echo_cancellation", "bool"]),
        ({"hotkey": "f8"}, ["[hotkey]", "table"]),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(data, words):
    with pytest.raises(SettingsError) as caught:
        settings_from_dict(data)
    for word in words:
        assert word in str(caught.value)


def test_integers_are_accepted_for_float_fields():
    assert settings_from_dict({"voice": {"speaking_rate": 1}}).voice.speaking_rate == 1.0


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[models\nstt = ")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert str(path) in str(caught.value) and "TOML" in str(caught.value)


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = save_settings(Settings(), tmp_path / "settings.toml")
    before = path.read_bytes()

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    changed = Settings(conversation=dataclasses.replace(Settings().conversation, language="de"))
    with pytest.raises(OSError):
        save_settings(changed, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]


@pytest.mark.parametrize("nonsense", ["[conversation]\nlanguage = \"klingon\"\n", "this is = not [toml", "\xff\xfe"])
def test_the_app_starts_with_defaults_from_a_broken_file_and_keeps_it(tmp_path, nonsense):
    path = tmp_path / "settings.toml"
    path.write_bytes(nonsense.encode("latin-1"))
    settings, problem = load_settings_or_defaults(path)
    assert settings == Settings()
    backups = list(tmp_path.glob("settings.broken-*.toml"))
    assert len(backups) == 1 and backups[0].read_bytes() == nonsense.encode("latin-1")
    assert not path.exists()  # the next save writes a fresh file; the user's text stays in the backup
    assert str(backups[0]) in problem and "default settings" in problem


def test_a_good_file_loads_with_no_problem(tmp_path):
    path = save_settings(dataclasses.replace(Settings(), voice=dataclasses.replace(Settings().voice, speaking_rate=1.2)),
                         tmp_path / "settings.toml")
    settings, problem = load_settings_or_defaults(path)
    assert settings.voice.speaking_rate == 1.2 and problem == ""
