"""Shared fixtures: the real default model pack, its original (pre-conversion) sources, and a clean config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import pytest

from rig import audio_rig  # noqa: F401  (one virtual audio rig for every test module that asks for it)

from assistant.models.catalog import load_catalog
from assistant.models.install import setup_default_pack
from assistant.models.packs import pack_source_path
from assistant.models.store import ModelStore


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's settings, log files, timers or memory."""
    home = tmp_path_factory.mktemp("parley-home")
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("PARLEY_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("PARLEY_DATA_DIR", str(home / "data"))


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def default_store(catalog) -> ModelStore:
    """The real model store with the default pack installed (`make test` installs it first; idempotent)."""
    store = ModelStore()
    setup_default_pack(store, catalog)
    return store


@pytest.fixture()
def empty_store(tmp_path, monkeypatch) -> ModelStore:
    """A fresh, empty store that the `parley` command in subprocesses uses too."""
    monkeypatch.setenv("PARLEY_MODELS_DIR", str(tmp_path / "store"))
    return ModelStore(tmp_path / "store")


def _pack(catalog, model_id: str) -> Path:
    return pack_source_path(catalog[model_id])


@pytest.fixture(scope="session")
def whisper_tiny_en_ct2(catalog) -> Path:
    """Folder of the faster-whisper (CTranslate2) Whisper tiny.en: model.bin, config.json, tokenizer.json."""
    return _pack(catalog, "whisper-tiny.en")


@pytest.fixture(scope="session")
def whisper_base_ct2(catalog) -> Path:
    """Folder of the faster-whisper (CTranslate2) Whisper base, multilingual."""
    return _pack(catalog, "whisper-base")


@pytest.fixture(scope="session")
def smollm2_gguf(catalog) -> Path:
    """SmolLM2-135M-Instruct as a llama.cpp GGUF file (Q4_1)."""
    return _pack(catalog, "smollm2-135m-instruct")


@pytest.fixture(scope="session")
def joe_voice_onnx(catalog) -> Path:
    """Piper voice en_US-joe-medium (.onnx with its .onnx.json beside it)."""
    return _pack(catalog, "piper-en_US-joe-medium")


@pytest.fixture(scope="session")
def silero_vad_onnx(catalog) -> Path:
    return _pack(catalog, "silero-vad")


@dataclass(frozen=True)
class SpokenSentence:
    """A sentence and the real Piper voice saying it, as 16 kHz mono float32."""

    text: str
    audio: np.ndarray


@pytest.fixture(scope="session")
def speech_16k(joe_voice_onnx) -> SpokenSentence:
    from piper import PiperVoice, SynthesisConfig
    from scipy.signal import resample_poly

    text = "The quick brown fox jumps over the lazy dog."
    voice = PiperVoice.load(joe_voice_onnx)
    # Without noise the voice says it the same way every time: with Piper's usual noise one reading in many came out
    # as "jumped" to Whisper base (CI saw it), and a test of a model conversion must not depend on the draw.
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=steady)])
    return SpokenSentence(text, resample_poly(audio, 320, 441).astype(np.float32))  # 22050 → 16000 Hz


@pytest.fixture(scope="module")
def loaded_engines(default_store):
    """The default models loaded once for a module (the API tests share them, as `parley serve` does)."""
    from assistant.conversation.engines import Engines
    from assistant.runtime.settings import load_settings

    engines = Engines(load_settings())
    engines.preload("en")
    yield engines
    engines.close()


@pytest.fixture(scope="module")
def spoken_question(tmp_path_factory, loaded_engines) -> str:
    """"What is the capital of France?" in Parley's own voice, as a WAV file."""
    from assistant.audio_files import write_wav

    chunks = list(loaded_engines.synthesizer().synthesize("What is the capital of France?"))
    path = tmp_path_factory.mktemp("audio") / "question.wav"
    write_wav(path, np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate)
    return str(path)


# --- why a test was run again ----------------------------------------------------------------------------------------
# `make test` retries a failed test (--reruns); a test that passes only on a retry is still a bug to find, and
# pytest-rerunfailures keeps no word of the first failure. Its tail is printed at the end of the run instead.

_RERUN_REASONS: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.outcome == "rerun":
        _RERUN_REASONS.append((report.nodeid, report.longreprtext))


def pytest_terminal_summary(terminalreporter):
    for nodeid, reason in _RERUN_REASONS:
        terminalreporter.write_sep("-", f"run again: {nodeid}")
        terminalreporter.write_line(reason[-4000:])
