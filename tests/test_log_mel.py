"""Parley's Whisper-style log-mel features (assistant/listen/log_mel.py) against transformers'
WhisperFeatureExtractor, configured as Smart Turn's training was (8 s, waveform normalised)."""

import numpy as np
import pytest
from transformers import WhisperFeatureExtractor

from assistant.listen.log_mel import log_mel


@pytest.fixture(scope="module")
def reference():
    extractor = WhisperFeatureExtractor(chunk_length=8)

    def features(audio: np.ndarray) -> np.ndarray:
        return extractor(audio, sampling_rate=16000, return_tensors="np", padding="max_length", max_length=128000,
                         truncation=True, do_normalize=True).input_features[0]
    return features


def _speech_with_silence_before(speech: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(128000 - len(speech), np.float32), speech])


def test_real_speech_matches_transformers(reference, speech_16k):
    audio = _speech_with_silence_before(speech_16k.audio[:128000])
    ours, theirs = log_mel(audio, 800), reference(audio)
    assert ours.shape == theirs.shape == (80, 800) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-4


def test_noise_and_a_loud_tone_match_transformers(reference):
    rng = np.random.default_rng(7)
    t = np.arange(128000) / 16000
    for audio in ((0.01 * rng.standard_normal(128000)).astype(np.float32),
                  (0.9 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)):
        assert np.abs(log_mel(audio, 800) - reference(audio)).max() < 1e-4


def test_the_wrong_length_is_refused():
    with pytest.raises(ValueError):
        log_mel(np.zeros(1000, np.float32), 800)
