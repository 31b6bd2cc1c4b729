"""The case that kept faster-whisper from being the default on CPUs: in the live conversation with the echo path on,
a spoken question after a few replies was not heard at all. The real `parley chat` on the virtual audio rig, on the
engine Parley now chooses here (faster-whisper int8), asked question after question, some the moment a reply has
ended (its echo still dying away) and some after a pause: every one is heard and answered."""

from __future__ import annotations

import dataclasses
import sys
import time

import pytest

from assistant.transcribe.transcriber import ENGINE_ENV
from test_conversation_live import ChatProcess, _heard_as, _is, _stop_cleanly, spoken  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")

# Each question with a word its transcript must hold (Whisper may word the rest a little differently).
QUESTIONS = [("What is the capital of France?", "france"), ("What is the color of the sky?", "sky"),
             ("How many legs does a cat have?", "legs"), ("What is the largest ocean?", "ocean"),
             ("What do bees make?", "bees"), ("What is the tallest mountain in the world?", "mountain"),
             ("What is the boiling point of water?", "water"), ("How many days are in a week?", "week")]
PAUSE_S = 0.8  # every other question, as a person who waits to hear the answer out


def test_every_question_after_replies_is_heard_with_an_echo_path(audio_rig, default_store, spoken, monkeypatch):
    from assistant.runtime.settings import Settings, save_settings

    monkeypatch.delenv(ENGINE_ENV, raising=False)  # the engine Parley chooses, not one forced
    short = Settings()
    short = dataclasses.replace(short, conversation=dataclasses.replace(
        short.conversation, system_prompt="Answer in one short sentence."))
    save_settings(short)  # short replies keep the test within a couple of minutes
    audio_rig.enable_echo(latency_ms=40, volume_db=-10)  # the speaker heard by the microphone, as on a laptop
    chat = ChatProcess(audio_rig)
    try:
        chat.wait_for(_is("StateChanged", state="listening"))
        for n, (question, keyword) in enumerate(QUESTIONS):
            chat.seen.clear()
            audio_rig.play_into_mic(spoken(question), 22050)
            said = chat.wait_for(_is("UserSaid"), timeout=60)
            assert _heard_as(question, keyword, said["text"]), (n, said, chat.diagnosis())
            if n == 0:  # (the model has loaded by now)
                log = (chat.log_dir / "parley.log").read_text(errors="replace")
                assert "speech to text runs on faster-whisper" in log, chat.diagnosis()
            finished = chat.wait_for(_is("ReplyFinished", turn=said["turn"]), timeout=90)
            assert finished["text"].strip() and not finished["interrupted"], (n, finished, chat.diagnosis())
            if n % 2:
                time.sleep(PAUSE_S)
        _stop_cleanly(chat)
    finally:
        chat.stop()
        audio_rig.disable_echo()
