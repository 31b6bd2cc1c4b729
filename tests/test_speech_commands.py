"""The speech commands with the real default models: transcribe, say, ask and a whole spoken turn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.audio_files import read_audio, write_wav


def _parley(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=timeout)


def _words(text: str) -> list[str]:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace()).split()


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory, default_store) -> str:
    """A real spoken question, made by `parley say`, at the voice's 22.05 kHz."""
    path = tmp_path_factory.mktemp("audio") / "question.wav"
    result = _parley("say", "What is the capital of France?", "-o", str(path))
    assert result.returncode == 0, result.stderr
    return str(path)


def test_transcribe_json_word_for_word(question_wav):
    result = _parley("transcribe", question_wav, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert _words(data["text"]) == ["what", "is", "the", "capital", "of", "france"]
    assert data["language"] == "en" and data["timings_ms"]["stt"] > 0


def test_transcribe_stereo_flac_at_48k(question_wav, tmp_path):
    import soundfile

    mono = read_audio(question_wav, 48000)
    soundfile.write(tmp_path / "q.flac", np.stack([mono, mono * 0.5], axis=1), 48000)
    result = _parley("transcribe", str(tmp_path / "q.flac"))
    assert result.returncode == 0, result.stderr
    assert "capital of france" in result.stdout.lower()


def test_transcribe_detects_language_with_the_multilingual_model(question_wav):
    result = _parley("transcribe", question_wav, "--language", "auto", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # (Piper voices the question a little differently each run: whisper base once heard "capital of friends")
    assert data["language"] == "en" and "capital of" in data["text"].lower()


def test_a_language_the_model_cant_do_picks_one_that_can(question_wav):
    """whisper-tiny.en is English-only; asking for Korean switches to whisper-base."""
    result = _parley("transcribe", question_wav, "--language", "ko", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["language"] == "ko"


def test_silence_and_noise_give_no_transcript(tmp_path):
    write_wav(tmp_path / "silence.wav", np.zeros(16000 * 3, np.float32), 16000)
    noise = np.random.default_rng(0).normal(0, 0.05, 16000 * 3).astype(np.float32)
    write_wav(tmp_path / "noise.wav", noise, 16000)
    for name in ("silence.wav", "noise.wav"):
        result = _parley("transcribe", str(tmp_path / name), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["text"] == "", name


def test_reply_answers_a_spoken_question_with_speech(question_wav, tmp_path):
    out = tmp_path / "answer.wav"
    result = _parley("reply", question_wav, "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert _words(data["transcript"]) == ["what", "is", "the", "capital", "of", "france"]
    assert "paris" in data["reply"].lower()
    timings = data["timings_ms"]
    assert 0 < timings["stt"] <= timings["llm_first_token"] <= timings["first_audio"] <= timings["total"]
    heard = _parley("transcribe", str(out), "--json")
    assert "paris" in json.loads(heard.stdout)["text"].lower()


def test_reply_to_silence_says_there_was_no_speech(tmp_path):
    write_wav(tmp_path / "silence.wav", np.zeros(16000 * 2, np.float32), 16000)
    result = _parley("reply", str(tmp_path / "silence.wav"), "-o", str(tmp_path / "out.wav"))
    assert result.returncode == 1
    assert "no speech" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_ask_answers_a_factual_question():
    result = _parley("ask", "What is the capital of France?")
    assert result.returncode == 0, result.stderr
    assert "paris" in result.stdout.lower()


def test_ask_with_a_prompt_longer_than_the_context_window():
    result = _parley("ask", "word " * 5000)
    assert result.returncode == 1
    assert "too long" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("text", ["🎉🎉🎉", "**  ** ---", "```\ncode only\n```"])
def test_say_with_nothing_speakable(text, tmp_path):
    result = _parley("say", text, "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 1 and "nothing to say" in result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_say_writes_speech(tmp_path):
    result = _parley("say", "Good morning! **Today** is sunny 🌞.", "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 0, result.stderr
    audio = read_audio(tmp_path / "x.wav")
    assert len(audio) > 16000 and np.abs(audio).max() > 0.1


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage", b"\xff" * 4000])
def test_unreadable_audio_is_a_message(tmp_path, content):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    result = _parley("transcribe", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "bad.wav: not a readable audio file" in result.stderr and "use WAV, FLAC, OGG or MP3" in result.stderr


@pytest.mark.parametrize("text, language, voice, rate", [
    ("今天北京的天气很好。", "zh", "kokoro (zf_xiaoxiao)", 24000),
    ("오늘 서울의 날씨는 맑습니다.", "ko", "kokoro (jf_nezumi)", 24000),
    ("The weather is fine today.", "en", "piper-en_US-joe-medium", 22050),
])
def test_say_reads_text_with_the_voice_a_conversation_would_choose_for_its_language(
        default_store, tmp_path, text, language, voice, rate):
    import os

    result = _parley("say", text, "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 0, result.stderr
    assert f", {rate} Hz)" in result.stdout
    log = (Path(os.environ["PARLEY_LOG_DIR"]) / "parley.log").read_text()  # this test's own (conftest)
    assert f"replies in {language} are read by {voice}" in log, log[-2000:]  # (English: the setting's language)


@pytest.mark.parametrize("voice, rate", [("system:espeak-ng:ko", 22050), ("kokoro:zm_yunxi", 24000)])
def test_say_speaks_a_system_voice_or_a_kokoro_style(default_store, tmp_path, voice, rate):
    result = _parley("say", "안녕하세요" if voice.endswith(":ko") else "你好", "--voice", voice, "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 0, result.stderr
    audio = read_audio(tmp_path / "x.wav")
    assert f", {rate} Hz)" in result.stdout and len(audio) > 8000 and np.abs(audio).max() > 0.05


@pytest.mark.parametrize("voice, words", [
    ("system:espeak-ng:nowhere", ["no system voice 'system:espeak-ng:nowhere'", "parley doctor"]),
    ("kokoro:zf_nobody", ["kokoro has no style 'zf_nobody'", "zf_xiaoxiao"]),
    ("piper-en_US-joe-medium:loud", ["has no style 'loud'", "no voice styles"]),
])
def test_say_with_a_voice_that_is_not_there_says_what_is(default_store, tmp_path, voice, words):
    result = _parley("say", "hello", "--voice", voice, "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert all(word in result.stderr for word in words), result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_missing_voice_is_a_message(tmp_path):
    result = _parley("say", "hello", "--voice", "piper-de_DE-thorsten-medium", "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 1
    assert "not installed" in result.stderr and "parley models pull piper-de_DE-thorsten-medium" in result.stderr


def test_missing_file_is_a_message(tmp_path):
    result = _parley("transcribe", str(tmp_path / "nope.wav"))
    assert result.returncode == 2 and "no such file" in result.stderr  # bad input, refused before any model loads


def test_long_recording_is_transcribed_whole(question_wav, tmp_path):
    """Over a minute: Whisper's 30 s windows, not just the first one."""
    question = read_audio(question_wav)
    gap = np.zeros(16000 * 25, np.float32)
    write_wav(tmp_path / "long.wav", np.concatenate([question, gap, question, gap, question, gap]), 16000)
    result = _parley("transcribe", str(tmp_path / "long.wav"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.lower().count("capital of france") == 3


def test_reply_caps_a_question_minutes_long(question_wav, tmp_path):
    question = read_audio(question_wav)
    write_wav(tmp_path / "ramble.wav", np.concatenate([question, np.zeros(16000 * 180, np.float32)]), 16000)
    result = _parley("reply", str(tmp_path / "ramble.wav"), "-o", str(tmp_path / "out.wav"), "--json")
    assert result.returncode == 0, result.stderr
    assert "only the first 30 s were used" in result.stderr
    assert "france" in json.loads(result.stdout)["transcript"].lower()
