"""The double-talk gate: while Parley speaks, only microphone frames louder than its echo can be count."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.listen.echo_gate import EchoGate, EchoGateConfig


def tone(level: float, n: int = 160) -> np.ndarray:
    return np.full(n, level, np.float32)  # RMS == level


def test_open_when_nothing_plays():
    gate = EchoGate()
    gate.played(tone(0.0), now=0.0)
    assert gate.allows(0.01)


def test_a_leaking_canceller_is_held_but_a_louder_voice_passes():
    gate = EchoGate()
    for step in range(60):  # Parley speaks at 0.2; the canceller lets 0.06 of its echo through
        gate.played(tone(0.2), now=step * 0.032)
        assert not gate.allows(0.06)
    assert gate.echo_return == pytest.approx(0.3, rel=0.01)  # measured, not the assumed 0.5
    assert gate.allows(0.2)  # the user, talking over it


def test_once_the_canceller_has_converged_a_soft_voice_gets_through():
    gate = EchoGate()
    for step in range(60):
        gate.played(tone(0.2), now=step * 0.032)
        gate.allows(0.004)  # -34 dB of residual echo
    assert gate.allows(0.03) and not gate.allows(0.005)


def test_until_measured_the_residual_is_assumed_to_be_minus_6_db():
    gate = EchoGate()
    gate.played(tone(0.2), now=0.0)
    assert gate.echo_return == 0.5
    assert not gate.allows(0.19)  # could be a loud echo: held
    assert gate.allows(0.25)


def test_the_echo_of_the_last_word_is_still_expected_after_playback_ends():
    gate = EchoGate(EchoGateConfig(window_ms=600))
    gate.played(tone(0.2), now=0.0)
    gate.played(tone(0.0), now=0.4)  # nothing played since, but the room still rings
    assert not gate.allows(0.05)
    gate.played(tone(0.0), now=0.7)  # past the window: open again
    assert gate.allows(0.05)


@pytest.mark.parametrize("heard, spoken, own", [
    ("The capital of France is Paris.", "The capital of France is Paris.", True),  # the reply, heard back
    ("capital France", "The capital of France is Paris.", True),
    ("What is the capital of France?", "The weather on the moon is cold, and the dust is fine.", False),
    ("Stop, stop. Tell me something else.", "Once upon a time there was a brave little dragon.", False),
    ("the", "the", True),  # only short words: all of them count
    ("The capitol of France is Paris.", "The capital of France is Paris.", True),  # a leak heard slightly wrong
    ("What is the largest ocean?", "The largest ocean on Earth is the Pacific Ocean.", False),  # asked again
    ("And the smallest ocean?", "The largest ocean on Earth is the Pacific Ocean.", False),
    ("", "anything", False),
])
def test_mostly_own_words(heard, spoken, own):
    from assistant.listen.own_words import mostly_own_words

    assert mostly_own_words(heard, spoken) is own


def test_an_infinite_assumed_return_holds_everything_until_measured():
    gate = EchoGate(EchoGateConfig(initial_return=float("inf"), margin=4.0))
    gate.played(tone(0.2), now=0.0)
    assert gate.playing
    assert not gate.allows(0.9)  # even a frame far louder than anything played: not measured yet
    for step in range(1, 20):
        gate.played(tone(0.2), now=step * 0.032)
        gate.allows(0.0)  # no echo at all
    assert gate.allows(0.05)  # measured: a soft voice is heard over playback


def test_playing_only_while_something_audible_played_within_the_window():
    gate = EchoGate(EchoGateConfig(window_ms=600))
    assert not gate.playing
    gate.played(tone(0.2), now=0.0)
    gate.played(tone(0.0), now=0.5)
    assert gate.playing
    gate.played(tone(0.0), now=0.7)
    assert not gate.playing


def test_the_last_reply_heard_again_just_after_it_played_is_its_echo_not_a_question():
    """Under load the canceller leaked the end of a reply; answered as a question, each reply's echo was the next
    question and Parley talked to itself (seen in `make soak`)."""
    from assistant.conversation.core import Conversation
    from assistant.listen.own_words import OWN_ECHO_TAIL_S
    from assistant.runtime.events import EventBus

    owner = Conversation(engines=None, bus=EventBus()).owner
    owner._last_played = (100.0, "The largest ocean is the Pacific Ocean.")
    assert owner._sounds_like_own_reply("The largest ocean is the", started=100.4)
    # The user saying it later, or saying something else at once, is a question.
    assert not owner._sounds_like_own_reply("The largest ocean is the", started=100.0 + OWN_ECHO_TAIL_S + 0.5)
    assert not owner._sounds_like_own_reply("What do bees make?", started=100.4)
    assert not owner._sounds_like_own_reply("The largest ocean is the", started=None)  # push-to-talk
