"""Smart Turn v3.2 from the default pack (assistant/listen/smart_turn.py) on the Piper voice: a finished
question sounds finished, a sentence that stops mid-way does not, and the model's file is checked on import."""

import numpy as np
import pytest

from assistant.listen.smart_turn import SmartTurn
from assistant.models.errors import ModelFormatError
from assistant.models.importers import detect_format
from assistant.models.files import TURN_FILE
from assistant.models.importers.smart_turn import import_smart_turn


@pytest.fixture(scope="module")
def smart_turn_onnx(default_store):
    return default_store.get("smart-turn-v3.2").path / TURN_FILE


@pytest.fixture(scope="module")
def model(smart_turn_onnx):
    return SmartTurn(smart_turn_onnx)


@pytest.fixture(scope="module")
def say(joe_voice_onnx):
    from piper import PiperVoice
    from scipy.signal import resample_poly

    voice = PiperVoice.load(joe_voice_onnx)

    def spoken(text: str, silence_after_ms: int = 250) -> np.ndarray:
        audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text)])
        audio = resample_poly(audio, 320, 441).astype(np.float32)
        voiced = np.nonzero(np.abs(audio) > 0.01)[0]
        return np.concatenate([np.zeros(4800, np.float32), audio[: voiced[-1] + 1],
                               np.zeros(16 * silence_after_ms, np.float32)])
    return spoken


@pytest.mark.parametrize("text", ["What is the capital of France?", "Turn off the lights."])
def test_a_finished_sentence_sounds_finished(model, say, text):
    assert model.probability(say(text)) > 0.8


@pytest.mark.parametrize("text", ["What's the weather like in", "So I was thinking that maybe we could",
                                  "Can you tell me, um,"])
def test_a_sentence_that_stops_mid_way_does_not(model, say, text):
    assert model.probability(say(text)) < 0.2


def test_longer_than_eight_seconds_is_heard_by_its_end(model, say):
    finished = say("What is the capital of France?")
    assert model.probability(np.concatenate([say("So I was thinking that maybe we could"), np.zeros(160000, np.float32),
                                             finished])) > 0.8


def test_the_importer_knows_smart_turn_and_refuses_other_onnx(smart_turn_onnx, silero_vad_onnx, tmp_path):
    assert detect_format(smart_turn_onnx) == "smart-turn-onnx"
    converted = import_smart_turn(smart_turn_onnx, tmp_path)
    assert converted.kind == "turn" and (tmp_path / TURN_FILE).stat().st_size == smart_turn_onnx.stat().st_size
    with pytest.raises(ModelFormatError, match="not a Smart Turn"):
        import_smart_turn(silero_vad_onnx, tmp_path)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(smart_turn_onnx.read_bytes()[:100000])
    with pytest.raises(ModelFormatError, match="corrupt or truncated"):
        import_smart_turn(broken, tmp_path)
