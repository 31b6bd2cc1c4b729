"""The system's voices (assistant/speak/system_voice.py: espeak-ng here) and which voice reads which language
(assistant/conversation/engines.py's choose_voice)."""

from __future__ import annotations

import dataclasses
import shutil
import threading

import numpy as np
import pytest

from assistant.speak import system_voice
from assistant.conversation.engines import choose_voice
from assistant.models.errors import ModelError
from assistant.speak.voice import SpeechChunk, SpeechWorker
from assistant.speak.system_voice import SystemVoice, system_voice_for, system_voices

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test installs it)")


@needs_espeak
def test_espeak_ng_gives_a_voice_to_korean_and_chinese():
    korean, chinese = system_voice_for("ko"), system_voice_for("zh")
    assert korean.id == "system:espeak-ng:ko" and korean.name == "Korean (espeak-ng)"
    assert chinese.id == "system:espeak-ng:cmn" and chinese.language == "zh"
    assert {voice.language for voice in system_voices()} >= {"en", "de", "fr", "ko", "zh", "ja"}


@needs_espeak
@pytest.mark.parametrize("language, text", [("ko", "안녕하세요. 오늘 날씨가 좋네요."), ("zh", "你好，今天天气很好。"),
                                            ("en", "-5 degrees at 9 a.m., said the forecast.")])
def test_a_system_voice_speaks_a_sentence_as_one_chunk(language, text):
    voice = SystemVoice(system_voice_for(language))
    chunks = list(voice.synthesize(text))
    assert len(chunks) == 1 and chunks[0].sample_rate == 22050
    seconds = len(chunks[0].audio) / chunks[0].sample_rate
    assert 0.8 < seconds < 10, seconds
    assert chunks[0].audio.dtype == np.float32 and 0.05 < float(np.abs(chunks[0].audio).max()) <= 1.0


@needs_espeak
def test_faster_speech_is_shorter():
    from assistant.speak.voice import VoiceConfig

    info = system_voice_for("en")
    text = "The quick brown fox jumps over the lazy dog."
    normal = next(SystemVoice(info).synthesize(text)).audio
    faster = next(SystemVoice(info, VoiceConfig(speaking_rate=1.5)).synthesize(text)).audio
    assert len(faster) < 0.8 * len(normal)


def test_unspeakable_text_gives_nothing():
    voice = SystemVoice(system_voice.SystemVoiceInfo("system:espeak-ng:en-us", "English (espeak-ng)", "en", "espeak-ng"))
    voice._loaded = True
    assert list(voice.synthesize("**  **")) == []


def test_without_espeak_ng_the_voice_says_what_to_install(monkeypatch):
    monkeypatch.setattr(system_voice.shutil, "which", lambda name: None)
    voice = SystemVoice(system_voice.SystemVoiceInfo("system:espeak-ng:ko", "Korean (espeak-ng)", "ko", "espeak-ng"))
    with pytest.raises(ModelError, match="apt-get install espeak-ng"):
        voice.load()


def test_audio_that_is_not_a_wav_is_refused():
    with pytest.raises(ModelError, match="no WAV"):
        system_voice._wav_from_stream(b"not audio at all")
    header = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00" + bytes(8)
    audio, rate = system_voice._wav_from_stream(header + b"data\xff\xff\xff\xff" + np.array([16384, -16384], "<i2").tobytes())
    assert rate == 22050 and audio.tolist() == [0.5, -0.5]  # (a piped WAV's sizes are placeholders)


@needs_espeak
def test_each_language_gets_the_voice_that_speaks_it(default_store):
    joe = "piper-en_US-joe-medium"
    assert choose_voice(default_store, joe, "en") == choose_voice(default_store, joe, None)
    assert choose_voice(default_store, joe, "en").voice_id == joe
    for language in ("ko", "zh"):  # an installed voice before the system's (espeak-ng's, here)
        chosen = choose_voice(default_store, joe, language)
        assert not chosen.system and chosen.fits and chosen.voice_id == "kokoro", language
        assert chosen.name == "Kokoro (Mandarin, Korean, English)"


def test_without_any_voice_for_the_language_the_chosen_voice_reads_it(default_store, monkeypatch):
    monkeypatch.setattr(system_voice, "system_voices", lambda: ())
    choice = choose_voice(default_store, "piper-en_US-joe-medium", "ja")
    assert choice.voice_id == "piper-en_US-joe-medium" and not choice.fits and not choice.system


def test_the_speech_thread_voices_each_text_with_the_voice_it_came_with():
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def synthesize(self, text: str):
            yield SpeechChunk(f"{self.name}: {text}", np.zeros(10, np.float32), 22050)

    heard: list[str] = []
    done = threading.Event()

    def on_audio(chunk: SpeechChunk, turn: int) -> None:
        heard.append(chunk.text)
        if len(heard) == 3:
            done.set()

    worker = SpeechWorker(Named("piper"), on_audio)
    try:
        worker.follow(1)
        worker.say("Hello.", 1)
        worker.say("안녕하세요.", 1, voice=Named("espeak-ng"))
        worker.say("Bye.", 1)
        assert done.wait(5)
    finally:
        worker.close()
    assert heard == ["piper: Hello.", "espeak-ng: 안녕하세요.", "piper: Bye."]


def test_macos_own_chinese_voice_comes_before_an_accented_one(default_store, monkeypatch):
    tingting = system_voice.SystemVoiceInfo("system:macos:com.apple.voice.compact.zh-CN.Tingting", "Tingting (macOS)",
                                            "zh", "macOS")
    monkeypatch.setattr(system_voice, "system_voices", lambda: (tingting,))
    # The pack's Kokoro reads with a native Mandarin style: it stays; with an accented (Japanese) one, macOS's reads,
    # as macOS's Korean voice reads Korean before Kokoro's (a Japanese style).
    assert choose_voice(default_store, "piper-en_US-joe-medium", "zh").voice_id == "kokoro"
    yuna = dataclasses.replace(tingting, id="system:macos:com.apple.voice.compact.ko-KR.Yuna", name="Yuna (macOS)",
                               language="ko")
    monkeypatch.setattr(system_voice, "system_voices", lambda: (tingting, yuna))
    assert choose_voice(default_store, "piper-en_US-joe-medium", "ko").voice_id == yuna.id
    kokoro = default_store.get("kokoro")
    accented = dataclasses.replace(kokoro, details={**kokoro.details, "language_styles": {"zh": "jm_kumo"}})
    monkeypatch.setattr(default_store, "installed", lambda: [accented])
    assert choose_voice(default_store, "piper-en_US-joe-medium", "zh").voice_id == tingting.id
    espeak = dataclasses.replace(tingting, id="system:espeak-ng:cmn", name="Chinese (espeak-ng)", engine="espeak-ng")
    monkeypatch.setattr(system_voice, "system_voices", lambda: (espeak,))
    assert choose_voice(default_store, "piper-en_US-joe-medium", "zh").voice_id == "kokoro"  # better than espeak-ng
