"""The speaker's stream rests between turns (assistant/playback/speaker.py): closed, so no callback runs, and opened again
when a reply comes; what is written after waking plays. Real PortAudio streams on the virtual audio rig."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from assistant.playback.speaker import Speaker
from assistant.runtime.audio_stream import AudioConfig

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")


def test_a_resting_speaker_runs_no_callbacks_and_plays_when_woken(audio_rig):
    speaker = Speaker(AudioConfig(), 22050)
    speaker.start()
    try:
        assert speaker.wait_for_first_block()
        assert speaker.rest() and speaker.resting and speaker.active and not speaker.stalled
        time.sleep(0.1)  # a callback already under way when it closed has ended by now
        last = speaker.last_block_time
        time.sleep(0.5)
        assert speaker.last_block_time == last  # closed: nothing runs
        with audio_rig.speaker_recorder() as recording:
            speaker.arm()
            assert not speaker.resting and speaker.active
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(11025) / 22050)).astype(np.float32)
            speaker.buffer.write(speaker.resample_for_device(tone, 22050), tag=1)
            deadline = time.monotonic() + 5
            while speaker.buffer.queued and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)
        assert speaker.first_sound_time > 0 and speaker.buffer.queued == 0
        assert np.abs(recording.audio).max() > 0.1  # the tone reached the device
    finally:
        speaker.stop()


def test_a_speaker_with_audio_queued_does_not_rest(audio_rig):
    speaker = Speaker(AudioConfig(), 22050)
    speaker.start()
    try:
        assert speaker.wait_for_first_block()
        speaker.buffer.write(np.zeros(22050 * 5, np.float32), tag=1)
        assert not speaker.rest() and not speaker.resting
    finally:
        speaker.stop()


def test_a_speaker_rests_only_after_playing_silence_since_its_last_sound(audio_rig):
    """The echo canceller learns that nothing plays from the silence it is handed: a stream closed right after a
    chime left it cancelling the chime's echo from the user's question."""
    from assistant.playback.speaker import SILENCE_BEFORE_REST_S

    speaker = Speaker(AudioConfig(), 22050)
    speaker.start()
    try:
        assert speaker.wait_for_first_block()
        chime = (0.3 * np.sin(2 * np.pi * 880 * np.arange(2205) / 22050)).astype(np.float32)
        speaker.buffer.write(speaker.resample_for_device(chime, 22050), tag=1)
        deadline = time.monotonic() + 5
        while (speaker.buffer.queued or not speaker.last_sound_time) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert speaker.last_sound_time and not speaker.buffer.queued
        assert not speaker.rest() and not speaker.resting  # the chime's echo may still come back
        while time.monotonic() - speaker.last_sound_time < SILENCE_BEFORE_REST_S:
            time.sleep(0.05)
        assert speaker.rest() and speaker.resting
    finally:
        speaker.stop()
