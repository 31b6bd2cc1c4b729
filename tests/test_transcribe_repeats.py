"""Whisper's decoder stuck saying a short utterance over and over: caught early, and the utterance kept once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.transcribe.guards import repeated_sentence

# "Tell me about dogs.", as Parley's microphone heard it on the rig (through echo cancellation and noise
# suppression): whisper-tiny.en decodes it as that sentence 25 times over unless stopped.
REPEATS = Path(__file__).parent / "data" / "question-whisper-repeats.wav"


@pytest.mark.parametrize("text, once", [
    ("Tell me about rain. Tell me about rain. Tell me about rain. Tell me abou", "Tell me about rain."),
    ("Tell me about rain. Tell me about rain.", "Tell me about rain."),
    ("Stop! Stop! Stop!", "Stop!"),
    ("Hi. How are you? Hi. How are you? Hi.", "Hi. How are you?"),
    ("何ですか？何ですか？何ですか？", "何ですか？"),
    ("Tell me about dogs? tell me about dogs. Tell me ab", "Tell me about dogs?"),
    ("Tell me about dogs Tell me about dogs Tell", "Tell me about dogs"),
    ("no no no no", "no"),
])
def test_a_sentence_said_over_and_over_is_kept_once(text, once):
    assert repeated_sentence(text) == once


@pytest.mark.parametrize("text", [
    "Tell me about rain.",
    "Tell me about rain. And then tell me about snow.",
    "Tell me about rain. Tell me about snow. Tell me about rain.",
    "Tell me about rain. T",  # not even twice
    "Tell me about dogs? Tell me about cats. Tell me about dogs?",
    "",
])
def test_anything_else_is_not_a_repeat(text):
    assert repeated_sentence(text) is None


def test_a_looping_decoder_is_stopped_and_its_sentence_kept(default_store, caplog):
    from assistant.audio_files import read_audio
    from assistant.runtime.mlx_worker import MlxWorker
    from assistant.transcribe.transcriber import Transcriber

    worker = MlxWorker()
    try:
        model = default_store.get("whisper-tiny.en")
        transcriber = Transcriber(worker, model.path, model.id, model.languages, engine="mlx")  # (ct2: its own test)
        with caplog.at_level(logging.INFO, logger="assistant.transcribe"):
            transcript = transcriber.transcribe(read_audio(REPEATS), "en")
    finally:
        worker.close()
    assert transcript.text == "Tell me about dogs."
    assert "kept it once" in caplog.text and "full window" not in caplog.text
