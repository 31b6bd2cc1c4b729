"""Bad input to every `parley` command: one line on stderr that says what is wrong and what to do, exit status 2.

Each case is refused before any model loads, so each run takes about as long as Python takes to start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.models.errors import ModelError
from assistant.transcribe.transcriber import Transcriber


def _parley(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=120)


def _refused(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 2 and one line on stderr, from `parley`, holding every one of `words`."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parley"), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture()
def audio_file(tmp_path) -> Path:
    """Something to name as an input file (these runs stop before reading it)."""
    path = tmp_path / "question.wav"
    path.write_bytes(b"RIFF")
    return path


@pytest.fixture()
def settings_file(tmp_path, monkeypatch) -> Path:
    """settings.toml in a config folder of this test's own, which the `parley` subprocesses read."""
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(config))
    return config / "settings.toml"


# --- languages ------------------------------------------------------------------------------------


def test_unknown_language_lists_the_codes(audio_file):
    _refused(_parley("transcribe", str(audio_file), "--language", "xx"),
             "--language", "'xx' is not a language Whisper knows", "auto", "en, es", "ko")


def test_a_language_name_is_taken_as_its_code(default_store, audio_file):
    """`--language German` means de: the run gets past the option (and fails on the fake audio, exit 1)."""
    result = _parley("transcribe", str(audio_file), "--language", "German")
    assert result.returncode == 1 and "not a readable audio file" in result.stderr


def test_language_the_chosen_model_cant_do(default_store, audio_file):
    _refused(_parley("transcribe", str(audio_file), "--model", "whisper-tiny.en", "--language", "ko"),
             "whisper-tiny.en only understands en, not 'ko'", "leave out --model")


def test_transcriber_refuses_an_unknown_language_before_decoding():
    """The library's own check: Whisper's decoder would raise a bare ValueError instead."""
    transcriber = Transcriber(None, Path("unused"), "whisper-base", ("multi",))
    with pytest.raises(ModelError, match="'xx' is not a language Whisper knows; use one of: af, am"):
        transcriber._check_language("xx")


# --- model ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["--model", "whisper-huge-9"], ["--model", "no model 'whisper-huge-9'", "parley models list"]),
    (["--model", "piper-en_US-joe-medium"], ["piper-en_US-joe-medium is a voice model, not a speech-to-text model",
                                            "whisper-tiny.en"]),
    (["--model", "../../etc"], ["not a model id"]),
])
def test_transcribe_with_a_bad_model(default_store, audio_file, args, words):
    _refused(_parley("transcribe", str(audio_file), *args), *words)


@pytest.mark.parametrize("voice, words", [
    ("whisper-tiny.en", ["whisper-tiny.en is a speech-to-text model, not a voice model", "piper-en_US-joe-medium"]),
    ("smollm2-135m-instruct", ["is a chat model, not a voice model"]),
    ("no-such-voice", ["no model 'no-such-voice'", "parley models list"]),
])
def test_say_with_a_bad_voice(default_store, tmp_path, voice, words):
    _refused(_parley("say", "hello", "--voice", voice, "-o", str(tmp_path / "x.wav")), "--voice", *words)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("args, words", [
    (["models", "pull", "nope"], ["nope is not in the catalog", "parley models list"]),
    (["models", "pull", "whisper-small", "--from", "pack"], ["whisper-small has no offline pack", "--from hub"]),
    (["models", "remove", "nope"], ["nope is not installed", "parley models list"]),
    (["models", "remove", ".."], ["not a model id"]),
    (["models", "import", "/no/such/model.gguf"], ["/no/such/model.gguf: no such file or folder"]),
])
def test_models_commands(empty_store, args, words):
    _refused(_parley(*args), *words)


def test_models_import_with_a_bad_id(empty_store, joe_voice_onnx):
    _refused(_parley("models", "import", str(joe_voice_onnx), "--id", "a/b"), "--id", "'a/b' is not a model id")
    assert empty_store.installed() == []


# --- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("trials, words", [
    ("-3", ["-3 is out of range", "use 2 to 1000"]),
    ("0", ["0 is out of range"]),
    ("1", ["1 is out of range"]),
    ("100000000", ["100000000 is out of range", "use 2 to 1000"]),
    ("ten", ["'ten' is not a whole number"]),
])
def test_bench_trials(trials, words):
    _refused(_parley("bench", "realtime", "--trials", trials), "--trials", *words)


# --- files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["transcribe", "reply"])
def test_missing_input_file(tmp_path, command):
    out = ["-o", str(tmp_path / "out.wav")] if command == "reply" else []
    _refused(_parley(command, str(tmp_path / "nope.wav"), *out), "nope.wav: no such file")


def test_a_folder_as_input_file(tmp_path):
    _refused(_parley("transcribe", str(tmp_path)), "not a file")


@pytest.mark.parametrize("command", ["say", "reply"])
def test_output_in_a_folder_that_does_not_exist(audio_file, command):
    first = "hello" if command == "say" else str(audio_file)
    _refused(_parley(command, first, "-o", "/nonexistent/x.wav"), "-o/--output", "the folder /nonexistent does not exist")
    assert not Path("/nonexistent").exists()


def test_output_that_is_a_folder(tmp_path):
    _refused(_parley("say", "hello", "-o", str(tmp_path)), "is a folder", "out.wav")


# --- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command, text", [("say", ""), ("say", "   "), ("ask", ""), ("ask", "\n\t")])
def test_empty_text(command, text):
    _refused(_parley(command, text), f"parley {command}: argument text: the text is empty", f"parley {command} '")


# --- usage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["reply", "AUDIO"], ["required: -o/--output", "parley reply --help"]),
    (["chat", "--text", "--ptt"], ["not allowed with argument --text"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
])
def test_usage_errors_are_one_line_too(audio_file, args, words):
    _refused(_parley(*[str(audio_file) if a == "AUDIO" else a for a in args]), *words)


# --- settings.toml --------------------------------------------------------------------------------


@pytest.mark.parametrize("content, words", [
    ("[models\nstt = ", ["settings.toml: not valid TOML", "fix or delete it"]),
    ('[listening]\nvad_threshold = "loud"\n', ["listening.vad_threshold must be a number", "not 'loud'"]),
    ("[listening]\nend_of_turn_silence_ms = 500.5\n", ["end_of_turn_silence_ms must be a whole number"]),
    ("[voice]\nspeaking_rate = nan\n", ["voice.speaking_rate = nan is out of range; use 0.5 to 2.0"]),
    ('[conversation]\nlanguage = "xx"\n', ["conversation.language = 'xx' is not allowed", "auto, en"]),
    ('[models]\ntts = "whisper-tiny.en"\n', ["models.tts: whisper-tiny.en is a speech-to-text model, not a voice"]),
    ('[models]\ntts = "nobody"\n', ["models.tts: there is no model 'nobody'", "parley models list"]),
])
def test_broken_settings_file(default_store, settings_file, tmp_path, content, words):
    settings_file.write_text(content)
    _refused(_parley("say", "hello", "-o", str(tmp_path / "x.wav")), str(settings_file), *words)


def test_settings_file_that_is_not_text(default_store, settings_file):
    settings_file.write_bytes(b"\xff\xfe[models]")
    _refused(_parley("ask", "hi"), "cannot read the settings file", "fix or delete it")


@pytest.mark.parametrize("args", [["transcribe", "AUDIO"], ["reply", "AUDIO", "-o", "OUT"], ["chat", "--text"]])
def test_settings_that_name_a_model_for_another_job(default_store, settings_file, audio_file, tmp_path, args):
    settings_file.write_text('[models]\nstt = "piper-en_US-joe-medium"\n')
    args = [str(audio_file) if a == "AUDIO" else str(tmp_path / "out.wav") if a == "OUT" else a for a in args]
    _refused(_parley(*args), "models.stt: piper-en_US-joe-medium is a voice model, not a speech-to-text model")
