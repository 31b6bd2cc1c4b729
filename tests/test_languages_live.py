"""A whole Korean turn and a whole Chinese turn, from real recordings (tests/data/speech, see SOURCES.md there): heard
in the language spoken, answered in it, and read aloud by a voice that speaks it (Kokoro, with its Mandarin style for
Chinese and a Japanese one for Korean: which voice and style read each is checked). With language "auto", as each
turn's language picks the reply's language and voice."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.audio_files import read_audio
from test_speech_commands import _parley

SPEECH = Path(__file__).resolve().parent / "data" / "speech"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
HANZI = re.compile(r"[\u4e00-\u9fff]")
# (recording, language, the script its reply is written in, the notes `parley reply` prints of its voice, the id of
# the voice that reads it)
# One sentence each: a recording of two sentences with a pause between ("괜찮을 거예요. 긴장 푸세요.", 768 ms) is two
# turns to the end-of-turn model, the second interrupting the reply to the first, once transcription is quick.
TURNS = [(SPEECH / "ko" / "kih00003.wav", "ko", HANGUL, [], "kokoro (jf_nezumi)"),  # installed voices: no notes
         (SPEECH / "zh" / "BAC009S0724W0121.wav", "zh", HANZI, [], "kokoro (zf_xiaoxiao)")]


@pytest.mark.parametrize("recording, language, script, notes, voice_id", TURNS, ids=["korean", "chinese"])
def test_reply_answers_in_the_language_spoken_and_reads_it_in_that_language(recording, language, script, notes,
                                                                               voice_id, default_store, tmp_path):
    out = tmp_path / "answer.wav"
    result = _parley("reply", str(recording), "-o", str(out), "--language", "auto", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["language"] == language and script.search(data["transcript"]), data
    assert script.search(data["reply"]), data["reply"]
    assert [line for line in result.stderr.splitlines() if line.startswith("note: ")] == notes, result.stderr
    log = (Path(os.environ["PARLEY_LOG_DIR"]) / "parley.log").read_text()  # (tests/conftest.py's private folder)
    assert f"replies in {language} are read by {voice_id}" in log, log[-3000:]
    answer = read_audio(out)
    assert len(answer) > 16000 * 0.5 and float(np.abs(answer).max()) > 0.05  # (16 kHz as read back)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")
def test_a_korean_turn_then_a_chinese_turn_hands_free(audio_rig, default_store):
    from test_conversation_live import _is, listening_chat

    with listening_chat(audio_rig, "--language", "auto") as chat, audio_rig.speaker_recorder() as speaker:
        for recording, language, script, _, _ in TURNS:
            audio = read_audio(recording, rate=22050)
            heard_before = len(speaker.snapshot())
            audio_rig.play_into_mic(audio, 22050)
            said = chat.wait_for(_is("UserSaid"))
            assert said["language"] == language and script.search(said["text"]), said
            finished = chat.wait_for(_is("ReplyFinished"))
            assert script.search(finished["text"]) and not finished["interrupted"], f"{finished}{chat.diagnosis()}"
            played = speaker.snapshot()[heard_before:]
            assert float(np.abs(played).max()) > 0.05, "nothing was heard of the reply"
    log = (chat.log_dir / "parley.log").read_text()
    for _, language, _, _, voice_id in TURNS:
        assert f"({language}) is read by {voice_id}" in log, chat.diagnosis()
