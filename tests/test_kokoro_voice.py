"""The Kokoro voice (assistant/speak/kokoro_voice.py) on the real model of the default pack: what it says in Mandarin
and Korean is heard back as the sentence; and its importer refuses what is not a Kokoro voice."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.speak.kokoro_voice import _pieces
from assistant.models.errors import ModelFormatError


def test_mandarin_is_spoken_understandably(default_store):
    from assistant.audio_files import resample
    from assistant.conversation.engines import Engines
    from assistant.runtime.settings import Settings
    from benchmarks.languages import error_rate

    engines = Engines(Settings(), default_store)
    try:
        voice = engines.voice_for("zh")
        assert voice.voice_id == "kokoro" and voice.style_name == "zf_xiaoxiao"  # a native Mandarin voice
        sentence = "今天北京的天气很好。"
        chunks = list(voice.synthesize(sentence))
        assert len(chunks) == 1 and chunks[0].sample_rate == 24000
        audio = resample(chunks[0].audio, 24000, 16000)
        assert 1.0 < len(audio) / 16000 < 6.0
        heard = engines.transcriber("zh").transcribe(audio, "zh").text
        assert error_rate([(sentence, heard)]) <= 0.2, heard  # (espeak-ng's Mandarin: 1.44 on such sentences)
    finally:
        engines.close()


def test_the_pack_keeps_kokoros_styles_with_their_licence_one_per_language_and_a_setting_picks_mandarins(default_store):
    from assistant.conversation.engines import Engines
    from assistant.runtime.settings import Settings, VoiceSettings

    model = default_store.get("kokoro")
    assert model.languages == ("zh", "ko", "en")
    assert model.details["language_styles"] == {"zh": "zf_xiaoxiao", "ko": "jf_nezumi", "en": "af_heart"}
    mandarin = [s for s in model.details["styles"] if s.startswith("z")]
    assert len(mandarin) == 8 and "Apache License" in (model.path / "LICENSE").read_text()
    with np.load(model.path / "voices.npz") as styles:
        assert all(styles[s].shape == (510, 1, 256) and styles[s].dtype == np.float32 for s in model.details["styles"])
    for wanted, reads in (("zm_yunxi", "zm_yunxi"), ("zf_gone", "zf_xiaoxiao")):
        engines = Engines(Settings(voice=VoiceSettings(mandarin_style=wanted)), default_store)
        assert engines.voice_for("zh").style_name == reads
        assert engines.voice_for("ko").style_name == "jf_nezumi"  # the setting is Mandarin's alone
        assert engines.voice_for("en").voice_id == "piper-en_US-joe-medium"  # Piper stays English's default


def test_korean_is_spoken_understandably_numbers_and_latin_words_too(default_store):
    from assistant.audio_files import resample
    from assistant.conversation.engines import Engines
    from assistant.runtime.settings import Settings
    from benchmarks.languages import error_rate

    engines = Engines(Settings(), default_store)
    try:
        voice = engines.voice_for("ko")
        assert (voice.voice_id, voice.language) == ("kokoro", "ko")
        sentence = "내일 아침 일곱 시에 깨워 주세요."
        audio = resample(np.concatenate([c.audio for c in voice.synthesize(sentence)]), 24000, 16000)
        heard = engines.transcriber("ko").transcribe(audio, "ko").text
        assert error_rate([(sentence, heard)]) <= 0.25, heard  # (espeak-ng's Korean: 1.3 on such sentences)
        with_digits = np.concatenate([c.audio for c in voice.synthesize("오후 3시에 만나요.")])
        assert len(with_digits) / 24000 > 1.2  # the digit is said ("세 시"), not dropped
    finally:
        engines.close()


def test_long_text_is_cut_after_its_marks():
    text = "第一句话很长，" * 30 + "最后一句。"
    pieces = _pieces(text, longest=40)
    assert "".join(pieces) == text and all(len(piece) <= 40 for piece in pieces)
    assert all(piece.endswith(("，", "。")) for piece in pieces)
    assert _pieces("  ") == []


def test_a_folder_that_is_not_a_kokoro_voice_is_refused(tmp_path):
    from assistant.models.importers.kokoro import import_kokoro

    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    (tmp_path / "vocab.json").write_text('{"vocab": {"a": 1}}')
    np.savez(tmp_path / "voices.npz", x=np.zeros((510, 1, 256), np.float32))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ModelFormatError):
        import_kokoro(tmp_path, out)
    assert not any(out.iterdir())
