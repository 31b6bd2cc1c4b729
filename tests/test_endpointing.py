"""Endpointer: opening, hysteresis, false starts, clicks, max length, push-to-talk, pre-roll, reset.

Frame i carries the value i in all its samples, so the frames an utterance holds can be read back
from its audio. With the default config: 32 ms frames, 10 pre-roll frames, 2 opening frames,
16 silent frames end a turn (512 ms), 6 trailing frames are kept (192 ms), 7 voiced frames (224 ms)
are the shortest accepted speech.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.listen.endpointing import EndpointConfig, EndpointEvent, Endpointer, Event, Utterance

START, END, SHORT, MAX = (
    EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END, EndpointEvent.TOO_SHORT, EndpointEvent.MAX_LENGTH,
)
S, V = 0.05, 0.9  # silent and voiced probabilities
FRAME = 512


def frame(index: int) -> np.ndarray:
    return np.full(FRAME, index, dtype=np.float32)


def feed(endpointer: Endpointer, probabilities: list[float], first: int = 0) -> list[Event]:
    events: list[Event] = []
    for offset, p in enumerate(probabilities):
        events += endpointer.push(frame(first + offset), p)
    return events


def frames_in(utterance: Utterance) -> list[int]:
    """Which frames the utterance's audio holds, in order (checks each frame is whole)."""
    blocks = utterance.audio.reshape(-1, FRAME)
    assert (blocks == blocks[:, :1]).all()
    return blocks[:, 0].astype(int).tolist()


@pytest.mark.parametrize(
    "probabilities, expected",
    [
        # Clean utterance: speech 20..49, opens at the 2nd voiced frame, ends at the 16th silent one.
        pytest.param([S] * 20 + [V] * 30 + [S] * 30, [(START, 21), (END, 65)], id="clean"),
        # Hysteresis: dips to 0.4 (above stop_threshold) for longer than end_silence_ms don't end it.
        pytest.param([V] * 10 + [0.4] * 20 + [V] * 10 + [S] * 20, [(START, 1), (END, 55)], id="hysteresis"),
        # A pause shorter than end_silence_ms (15 frames = 480 ms) doesn't end it either.
        pytest.param([V] * 10 + [S] * 15 + [V] * 10 + [S] * 20, [(START, 1), (END, 50)], id="short-pause"),
        # A 100 ms blip (3 frames) opens speech, then is dropped as a false start: no SPEECH_END.
        pytest.param([S] * 5 + [V] * 3 + [S] * 20, [(START, 6), (SHORT, 23)], id="blip"),
        # min_speech_ms boundary: 6 voiced frames (192 ms) are too short, 7 (224 ms) are speech.
        pytest.param([V] * 6 + [S] * 20, [(START, 1), (SHORT, 21)], id="192ms"),
        pytest.param([V] * 7 + [S] * 20, [(START, 1), (END, 22)], id="224ms"),
        # Single-frame clicks never open speech, even one right after another.
        pytest.param([S] * 5 + [V] + [S] * 20, [], id="click"),
        pytest.param([V, S] * 20, [], id="clicks"),
        # Between the thresholds while listening: not loud enough to open.
        pytest.param([0.45] * 40, [], id="below-start"),
        # Two turns: the second opens again after the first ended.
        pytest.param([V] * 10 + [S] * 20 + [V] * 10 + [S] * 20, [(START, 1), (END, 25), (START, 31), (END, 55)],
                     id="two-turns"),
    ],
)
def test_events(probabilities, expected):
    endpointer = Endpointer()
    events = feed(endpointer, probabilities)
    assert [(event.kind, event.frame) for event in events] == expected
    assert all((event.utterance is not None) == (event.kind is END) for event in events)
    assert not endpointer.speaking


def test_clean_utterance_audio_is_pre_roll_speech_and_a_little_trailing_silence():
    endpointer = Endpointer()
    (start,) = feed(endpointer, [S] * 20 + [V] * 2)
    assert start.kind is START and endpointer.speaking
    (end,) = feed(endpointer, [V] * 28 + [S] * 30, first=22)
    utterance = end.utterance
    assert utterance.reason == "silence"
    assert utterance.audio.dtype == np.float32
    assert utterance.last_voiced_frame == 49
    # 10 pre-roll frames (10..19), the speech (20..49), 6 trailing silent frames (50..55).
    assert (utterance.start_frame, utterance.end_frame) == (10, 56)
    assert frames_in(utterance) == list(range(10, 56))
    assert len(utterance.audio) == (utterance.end_frame - utterance.start_frame) * FRAME


@pytest.mark.parametrize(
    "silence_before, expected_first",
    [
        (20, 10),  # the full pre-roll: the 10 frames right before the opening run
        (10, 0),  # exactly enough history
        (3, 0),  # speech right after the stream started: as much as there is
        (0, 0),
    ],
)
def test_pre_roll_is_the_frames_right_before_the_opening(silence_before, expected_first):
    events = feed(Endpointer(), [S] * silence_before + [V] * 10 + [S] * 20)
    utterance = events[-1].utterance
    assert utterance.start_frame == expected_first
    assert frames_in(utterance)[: silence_before + 2 - expected_first] == list(range(expected_first, silence_before + 2))


def test_max_length_cuts_the_turn_and_keeps_listening():
    config = EndpointConfig(max_utterance_s=1.0)  # 16000 // 512 = 31 frames
    endpointer = Endpointer(config)
    events = feed(endpointer, [V] * 70 + [S] * 20)
    assert [(e.kind, e.frame) for e in events] == [
        (START, 1), (MAX, 30), (END, 30),  # frames 0..30
        (START, 32), (MAX, 61), (END, 61),  # the talk goes on: a fresh opening run 31, 32
        (START, 63), (END, 85),  # 62..69, then ended by silence
    ]
    first, second, third = (e.utterance for e in events if e.kind is END)
    assert (first.reason, second.reason, third.reason) == ("max_length", "max_length", "silence")
    assert frames_in(first) == list(range(0, 31))
    assert len(first.audio) <= config.max_utterance_s * config.sample_rate
    # Consecutive turns share no audio: the next pre-roll stops where the cut turn ended.
    assert frames_in(second) == list(range(31, 62))
    assert frames_in(third) == list(range(62, 76))
    assert not endpointer.speaking


@pytest.mark.parametrize(
    "probabilities, expected_frames, last_voiced",
    [
        ([S] * 12 + [V] * 10, list(range(2, 22)), 21),  # released mid-speech: everything so far
        ([S] * 12 + [V] * 10 + [S] * 10, list(range(2, 28)), 21),  # trailing silence trimmed to 6 frames
        ([S] * 12 + [V] * 3, list(range(2, 15)), 14),  # short, but the key press says it was meant
    ],
)
def test_end_now_ends_the_turn_at_once(probabilities, expected_frames, last_voiced):
    endpointer = Endpointer()
    events = feed(endpointer, probabilities)
    assert [e.kind for e in events] == [START]
    utterance = endpointer.end_now()
    assert utterance.reason == "released"
    assert frames_in(utterance) == expected_frames
    assert utterance.last_voiced_frame == last_voiced
    assert not endpointer.speaking
    assert endpointer.end_now() is None


@pytest.mark.parametrize("probabilities", [[], [S] * 10, [S] * 5 + [V], [V] * 10 + [S] * 20])
def test_end_now_without_open_speech_is_none(probabilities):
    endpointer = Endpointer()
    feed(endpointer, probabilities)
    assert endpointer.end_now() is None


def test_after_end_now_the_next_turn_takes_no_pre_roll_from_it():
    endpointer = Endpointer()
    feed(endpointer, [V] * 10)
    assert frames_in(endpointer.end_now()) == list(range(10))
    events = feed(endpointer, [V] * 10 + [S] * 20, first=10)
    assert [(e.kind, e.frame) for e in events] == [(START, 11), (END, 35)]
    assert frames_in(events[-1].utterance)[0] == 10


def test_reset_forgets_the_turn_and_restarts_frame_numbering():
    endpointer = Endpointer()
    feed(endpointer, [S] * 5 + [V] * 10, first=1000)
    assert endpointer.speaking
    endpointer.reset()
    assert not endpointer.speaking and endpointer.end_now() is None
    events = feed(endpointer, [V] * 10 + [S] * 20)
    assert [(e.kind, e.frame) for e in events] == [(START, 1), (END, 25)]
    assert frames_in(events[-1].utterance) == list(range(0, 16))  # nothing from before the reset


@pytest.mark.parametrize(
    "overrides",
    [
        {"stop_threshold": 0.6},  # above start_threshold
        {"start_frames": 0},
        {"end_silence_ms": -1},
        {"max_utterance_s": 0.3},  # shorter than pre-roll plus the opening run
    ],
)
def test_invalid_config_is_rejected(overrides):
    with pytest.raises(ValueError):
        EndpointConfig(**overrides)


def test_wrong_frame_size_is_rejected():
    with pytest.raises(ValueError):
        Endpointer().push(np.zeros(480, np.float32), 0.9)


def test_pause_carries_exactly_the_utterance_that_ends_the_turn_there():
    endpointer = Endpointer(EndpointConfig(pause_ms=224))
    events = feed(endpointer, [S] * 20 + [V] * 30 + [S] * 30)
    kinds = [(e.kind, e.frame) for e in events]
    # The pause comes at the 7th silent frame (224 ms), before the 16th ends the turn.
    assert kinds == [(START, 21), (EndpointEvent.PAUSE, 56), (END, 65)]
    pause, end = events[1].utterance, events[2].utterance
    assert (pause.start_frame, pause.end_frame, pause.last_voiced_frame) == (end.start_frame, end.end_frame, end.last_voiced_frame)
    assert np.array_equal(pause.audio, end.audio)


def test_a_pause_the_user_talks_through_is_followed_by_a_longer_turn():
    endpointer = Endpointer(EndpointConfig(pause_ms=224))
    events = feed(endpointer, [V] * 10 + [S] * 10 + [V] * 10 + [S] * 20)
    pauses = [e for e in events if e.kind is EndpointEvent.PAUSE]
    end = events[-1].utterance
    assert len(pauses) == 2 and events[-1].kind is END
    assert pauses[0].utterance.last_voiced_frame == 9 and end.last_voiced_frame == 29
    assert pauses[1].utterance.last_voiced_frame == end.last_voiced_frame


def test_no_pause_for_a_blip_or_when_pause_ms_is_off():
    blip = feed(Endpointer(EndpointConfig(pause_ms=224)), [S] * 5 + [V] * 3 + [S] * 20)
    assert EndpointEvent.PAUSE not in [e.kind for e in blip]
    off = feed(Endpointer(), [V] * 30 + [S] * 30)
    assert EndpointEvent.PAUSE not in [e.kind for e in off]


def test_pauses_come_again_as_the_silence_grows_each_with_the_same_turn():
    endpointer = Endpointer(EndpointConfig(pause_ms=224, pause_again_ms=(480,), end_silence_ms=2500))
    events = feed(endpointer, [V] * 30 + [S] * 40)
    pauses = [e for e in events if e.kind is EndpointEvent.PAUSE]
    assert [e.frame for e in pauses] == [29 + 7, 29 + 15]  # ceil(224 / 32) and ceil(480 / 32) silent frames
    assert np.array_equal(pauses[0].utterance.audio, pauses[1].utterance.audio)
    assert END not in [e.kind for e in events]  # 40 silent frames are 1.28 s: the limit is 2.5 s


def test_a_later_pause_must_come_after_the_first():
    with pytest.raises(ValueError):
        EndpointConfig(pause_ms=480, pause_again_ms=(224,))
    with pytest.raises(ValueError):
        EndpointConfig(pause_again_ms=(480,))  # no first pause


def test_the_turn_so_far_includes_its_silence_and_ends_on_request():
    endpointer = Endpointer(EndpointConfig(end_silence_ms=2500))
    feed(endpointer, [V] * 20 + [S] * 10)
    assert endpointer.speaking and endpointer.silence_ms == 10 * 32 and endpointer.last_voiced_frame == 19
    so_far = endpointer.audio_so_far()
    utterance = endpointer.end_now("complete")
    assert utterance.reason == "complete" and not endpointer.speaking
    assert len(so_far) == len(utterance.audio) + (10 - endpointer.config.trailing_frames) * 512
