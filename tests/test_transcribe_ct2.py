"""Speech to text on faster-whisper (CTranslate2 int8), behind the same Transcriber as MLX, with the real
default Whisper models; the spoken test sentences come from the real Piper voice."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.audio_files import read_audio
from assistant.runtime.mlx_worker import MlxWorker
from assistant.models.errors import ModelError
from assistant.models.importers.whisper_ct2 import convert_ct2_whisper
from assistant.transcribe.transcriber import ENGINE_ENV, Transcriber, choose_engine, engine_choice

REPEATS = Path(__file__).parent / "data" / "question-whisper-repeats.wav"  # "Tell me about dogs."
SPEECH = Path(__file__).parent / "data" / "speech"  # real recordings, with their references
FOX = "The quick brown fox jumps over the lazy dog."
SENTENCES = [
    FOX,
    "What is the weather like today?",
    "Set a timer for ten minutes.",  # Whisper writes "10": see words()
    "Please remind me to call my sister tomorrow.",
    "How far away is the moon?",
]


def words(text: str) -> list[str]:
    return ["10" if word == "ten" else word for word in re.findall(r"[a-z0-9']+", text.lower())]


@pytest.fixture(scope="module")
def worker():
    worker = MlxWorker()
    yield worker
    worker.close()


def _store_folder(default_store, model_id: str, pack: Path, tmp_path_factory) -> Path:
    """The installed model's folder when it already holds the CTranslate2 copy; else a fresh import of the
    same pack (a store installed before the importer kept `ct2/` is only refreshed by a reinstall)."""
    installed = default_store.get(model_id)
    if (installed.path / "ct2" / "model.bin").is_file():
        return installed.path
    folder = tmp_path_factory.mktemp(model_id) / model_id
    folder.mkdir()
    convert_ct2_whisper(pack, folder)
    return folder


@pytest.fixture(scope="module")
def tiny_en(default_store, whisper_tiny_en_ct2, tmp_path_factory) -> Path:
    return _store_folder(default_store, "whisper-tiny.en", whisper_tiny_en_ct2, tmp_path_factory)


@pytest.fixture(scope="module")
def base(default_store, whisper_base_ct2, tmp_path_factory) -> Path:
    return _store_folder(default_store, "whisper-base", whisper_base_ct2, tmp_path_factory)


@pytest.fixture(scope="module")
def spoken(joe_voice_onnx) -> dict[str, np.ndarray]:
    """Each test sentence said by the Piper voice, 16 kHz float32, the same every time: Piper samples its
    voice at random unless its noise scales are 0, and the two engines differ now and then on a word."""
    from piper import PiperVoice, SynthesisConfig
    from scipy.signal import resample_poly

    voice = PiperVoice.load(joe_voice_onnx)
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    said = {}
    for text in SENTENCES:
        audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=steady)])
        said[text] = resample_poly(audio, 320, 441).astype(np.float32)  # 22050 → 16000 Hz
    return said


@pytest.fixture(scope="module")
def tiny_ct2(worker, tiny_en) -> Transcriber:
    transcriber = Transcriber(worker, tiny_en, "whisper-tiny.en", ("en",), engine="ct2")
    transcriber.load()
    return transcriber


@pytest.fixture(scope="module")
def base_ct2(worker, base) -> Transcriber:
    transcriber = Transcriber(worker, base, "whisper-base", ("multi",), engine="ct2")
    transcriber.load()
    return transcriber


def test_faster_whisper_is_the_default_on_a_cpu_and_says_so(worker, tiny_en, monkeypatch, caplog):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    transcriber = Transcriber(worker, tiny_en, "whisper-tiny.en", ("en",))
    with caplog.at_level(logging.INFO, logger="assistant.transcribe"):
        transcriber.load()
    assert transcriber.engine == "ct2"
    assert "runs on faster-whisper (CTranslate2 int8 on the CPU" in caplog.text


@pytest.mark.parametrize("engine", ["mlx", "ct2"])
def test_a_sentence_is_heard_once_with_silence_after_it(worker, tiny_en, engine, caplog):
    # LJ Speech's LJ001-0006 with a second of silence before and after it, as a turn's audio carries the silence
    # up to the end of the turn: both engines said the whole sentence twice before the guard (28 words in 5.6 s of
    # sound), "… fine typography, and it is worth mention in passing that as an example of fine typography,".
    sentence = read_audio(SPEECH / "en" / "LJ001-0006.flac")
    pause = np.zeros(16000, np.float32)
    transcriber = Transcriber(worker, tiny_en, "whisper-tiny.en", ("en",), engine=engine)
    with caplog.at_level(logging.INFO, logger="assistant.transcribe"):
        transcript = transcriber.transcribe(np.concatenate([pause, sentence, pause]), "en")
    assert words(transcript.text) == words((SPEECH / "en" / "LJ001-0006.txt").read_text())
    if engine == "mlx":  # (faster-whisper no longer says it twice since its packages moved on: right without the guard)
        assert "faster than anyone speaks" in caplog.text  # (the guard's doing, not the decoder's)


def test_the_environment_forces_an_engine(worker, tiny_en, monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "mlx")
    transcriber = Transcriber(worker, tiny_en, "whisper-tiny.en", ("en",))
    transcriber.load()
    assert transcriber.engine == "mlx"


def test_ct2_transcribes_the_test_audio(tiny_ct2, spoken):
    for text, audio in spoken.items():
        transcript = tiny_ct2.transcribe(audio)
        assert words(transcript.text) == words(text)
        assert transcript.language == "en" and transcript.timings_ms["stt"] > 0


def test_ct2_keeps_a_looping_sentence_once(tiny_ct2, caplog):
    # On the short context CTranslate2 says this recording's sentence two or three times, then stops.
    with caplog.at_level(logging.INFO, logger="assistant.transcribe"):
        transcript = tiny_ct2.transcribe(read_audio(REPEATS), "en")
    assert transcript.text == "Tell me about dogs."
    assert "kept it once" in caplog.text and "full window" not in caplog.text


def test_ct2_base_detects_the_language(base_ct2, spoken):
    transcript = base_ct2.transcribe(spoken[FOX])  # no language given: detected
    assert transcript.language == "en"
    assert words(transcript.text) == words(FOX)
    assert base_ct2.transcribe(read_audio(REPEATS)).language == "en"


@pytest.mark.parametrize("name", ["silence", "faint noise", "loud noise"])
def test_ct2_drops_invented_text(tiny_ct2, base_ct2, name):
    rng = np.random.default_rng(7)
    audio = {"silence": np.zeros(3 * 16000), "faint noise": rng.normal(0, 0.002, 3 * 16000),
             "loud noise": rng.normal(0, 0.1, 3 * 16000)}[name].astype(np.float32)
    assert tiny_ct2.transcribe(audio).text == ""
    assert base_ct2.transcribe(audio, "en").text == ""


def test_ct2_long_audio_goes_window_by_window(tiny_ct2, spoken):
    pause = np.zeros(16000, dtype=np.float32)
    audio = np.concatenate([part for text in SENTENCES for part in (spoken[text], pause)] * 3)
    assert len(audio) > 20 * 16000  # past the short pass
    transcript = tiny_ct2.transcribe(audio)
    assert words(transcript.text) == [w for _ in range(3) for text in SENTENCES for w in words(text)]
    assert transcript.language == "en"


@pytest.mark.parametrize("model", ["tiny", "base"])
def test_both_engines_agree(worker, tiny_en, base, spoken, model):
    folder, model_id, languages = {"tiny": (tiny_en, "whisper-tiny.en", ("en",)),
                                   "base": (base, "whisper-base", ("multi",))}[model]
    utterances = [read_audio(REPEATS), *spoken.values()]
    heard = {}
    for engine in ("mlx", "ct2"):
        transcriber = Transcriber(worker, folder, model_id, languages, engine=engine)
        heard[engine] = [transcriber.transcribe(audio) for audio in utterances]
    assert [words(t.text) for t in heard["ct2"]] == [words(t.text) for t in heard["mlx"]]
    assert [t.language for t in heard["ct2"]] == [t.language for t in heard["mlx"]]


@pytest.mark.parametrize("has_copy, on_gpu, forced, chosen", [
    (True, False, "", "ct2"),  # a CPU: faster-whisper
    (True, True, "", "mlx"),  # an Apple GPU: MLX on Metal
    (False, False, "", "mlx"),  # no CTranslate2 copy: MLX, even on a CPU
    (True, False, "mlx", "mlx"),  # PARLEY_STT_ENGINE forces either
    (True, True, "ct2", "ct2"),
])
def test_the_engine_is_chosen_by_the_device_and_the_folder(tmp_path, monkeypatch, has_copy, on_gpu, forced, chosen):
    if has_copy:
        (tmp_path / "ct2").mkdir()
        (tmp_path / "ct2" / "model.bin").write_bytes(b"")
    monkeypatch.setenv(ENGINE_ENV, forced)
    assert choose_engine(tmp_path, on_gpu=on_gpu) == chosen
    said = engine_choice(tmp_path, on_gpu=on_gpu)
    assert said.engine == chosen and said.slow == (chosen == "mlx" and not on_gpu and not forced)
    if forced:
        assert ENGINE_ENV in said.why
    elif chosen == "ct2":
        assert said.why == "faster-whisper int8 on the CPU; MLX on Metal where available"
        assert said.label == "faster-whisper (int8, CPU)"


def test_ct2_needs_the_ctranslate2_copy(worker, tmp_path, monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "ct2")
    with pytest.raises(ModelError, match=r"no CTranslate2 copy.*parley models remove"):
        Transcriber(worker, tmp_path, "whisper-tiny.en", ("en",)).load()
    monkeypatch.setenv(ENGINE_ENV, "cuda")
    with pytest.raises(ModelError, match="mlx, ct2"):
        Transcriber(worker, tmp_path, "whisper-tiny.en", ("en",)).load()


def test_a_folder_without_the_copy_stays_on_mlx(worker, tiny_en, tmp_path, monkeypatch, spoken):
    # A store folder installed before the importer kept ct2/ (or an MLX model from the hub) still works.
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    for name in ("config.json", "weights.safetensors"):
        shutil.copyfile(tiny_en / name, tmp_path / name)
    transcriber = Transcriber(worker, tmp_path, "whisper-tiny.en", ("en",))
    assert words(transcriber.transcribe(spoken[FOX]).text) == words(FOX)
    assert transcriber.engine == "mlx"


def test_doctor_says_which_engine_hears_and_why(default_store, monkeypatch):
    from assistant.cli import doctor
    from assistant.runtime.settings import Settings

    monkeypatch.delenv(ENGINE_ENV, raising=False)
    [finding] = doctor._speech_engine(Settings())
    assert (finding.check, finding.status) == ("speech engine", doctor.OK)
    assert finding.detail == "whisper-tiny.en: faster-whisper int8 on the CPU; MLX on Metal where available"
    monkeypatch.setenv(ENGINE_ENV, "cuda")
    [finding] = doctor._speech_engine(Settings())
    assert finding.status == doctor.FAIL and f"unset {ENGINE_ENV}" in finding.fix
