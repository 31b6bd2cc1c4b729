"""Importing Piper voices and the Silero VAD, recognizing formats, and refusing bad files clearly."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.models import importers
from assistant.models.errors import ModelFormatError
from assistant.models.install import import_path
from assistant.models.importers.onnx_check import open_onnx


def test_piper_voice_imports_and_speaks(empty_store, joe_voice_onnx):
    from piper import PiperVoice

    model = import_path(empty_store, joe_voice_onnx)
    assert (model.id, model.kind, model.format, model.languages) == ("en_us-joe-medium", "tts", "piper", ("en",))
    assert model.details["sample_rate"] == 22050
    voice = PiperVoice.load(model.path / "voice.onnx")
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize("Hello there. How are you today?")])
    seconds = len(audio) / 22050
    assert 1.0 < seconds < 5.0
    assert np.sqrt(np.mean(audio**2)) > 0.02  # speech, not silence


def test_silero_vad_imports_and_tells_speech_from_silence(empty_store, silero_vad_onnx, speech_16k):
    model = import_path(empty_store, silero_vad_onnx, "vad")
    assert (model.kind, model.format) == ("vad", "silero-onnx")
    session = open_onnx(model.path / "silero_vad.onnx")

    def top_probability(audio: np.ndarray) -> float:
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros(64, np.float32)
        best = 0.0
        for start in range(0, len(audio) - 512, 512):
            frame = audio[start : start + 512]
            out, state = session.run(None, {"input": np.concatenate([context, frame])[None], "state": state,
                                            "sr": np.array(16000, np.int64)})
            context = frame[-64:]
            best = max(best, float(out[0, 0]))
        return best

    assert top_probability(speech_16k.audio) > 0.5  # Silero's usual speech threshold
    assert top_probability(np.zeros(16000, np.float32)) < 0.1


def test_detects_each_format(joe_voice_onnx, silero_vad_onnx, whisper_tiny_en_ct2, smollm2_gguf, default_store):
    assert importers.detect_format(joe_voice_onnx) == "piper"
    assert importers.detect_format(silero_vad_onnx) == "silero-onnx"
    assert importers.detect_format(whisper_tiny_en_ct2) == "ct2-whisper"
    assert importers.detect_format(whisper_tiny_en_ct2 / "model.bin") == "ct2-whisper"
    assert importers.detect_format(smollm2_gguf) == "gguf"
    assert importers.detect_format(default_store.get("whisper-tiny.en").path) == "mlx-whisper"
    assert importers.detect_format(default_store.get("smollm2-135m-instruct").path) == "mlx-lm"


def test_voice_without_its_json_names_the_missing_file(tmp_path, joe_voice_onnx, empty_store):
    lone = tmp_path / "lonely.onnx"
    shutil.copyfile(joe_voice_onnx, lone)
    with pytest.raises(ModelFormatError) as caught:
        import_path(empty_store, lone)
    assert "lonely.onnx.json" in str(caught.value)
    assert empty_store.installed() == []


def test_truncated_voice_names_the_file_and_installs_nothing(tmp_path, joe_voice_onnx, empty_store):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(joe_voice_onnx.read_bytes()[:1_000_000])
    shutil.copyfile(joe_voice_onnx.with_name(joe_voice_onnx.name + ".json"), tmp_path / "broken.onnx.json")
    with pytest.raises(ModelFormatError) as caught:
        import_path(empty_store, broken)
    assert "broken.onnx" in str(caught.value) and "download it again" in str(caught.value)
    assert empty_store.installed() == [] and not any(empty_store.root.iterdir())


@pytest.mark.parametrize("name, content", [("notes.txt", b"hello"), ("weights.safetensors", b"\0" * 64)])
def test_unknown_format_says_what_parley_imports(tmp_path, empty_store, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelFormatError) as caught:
        import_path(empty_store, path)
    assert name in str(caught.value) and "faster-whisper" in str(caught.value)


def test_empty_folder_and_missing_path(tmp_path, empty_store):
    with pytest.raises(ModelFormatError, match="no model Parley can import"):
        import_path(empty_store, tmp_path)
    with pytest.raises(ModelFormatError, match="no such file"):
        import_path(empty_store, tmp_path / "missing.gguf")
