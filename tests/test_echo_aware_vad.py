"""The user's voice while Parley talks, with the real echo canceller, the real VAD and Parley's real voice: heard
at once over playback with or without an echo, and Parley's own echo never taken for the user."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.audio_files import resample
from assistant.listen.echo_aware_vad import EchoAwareVad
from assistant.capture.echo_cancel import EchoCanceller, EchoConfig
from assistant.listen.voice_activity import FRAME, SileroVad

RATE = 16000
BLOCK = 512  # what the listening loop reads at a time, about


@pytest.fixture(scope="module")
def voices(default_store):
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(default_store.get("piper-en_US-joe-medium").path / "voice.onnx")
    exactly = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # the same audio every run

    def say(text: str) -> np.ndarray:
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text, exactly)])
        return resample(audio, voice.config.sample_rate, RATE).astype(np.float32)

    reply = say("Once upon a time, in a land far away, there lived a brave little dragon named Ember. She was small, "
                "but her heart was big, and every morning she flew over the hills to watch the sun rise.")
    return reply, say("Stop, stop. Tell me something else.")


@pytest.fixture(scope="module")
def make_vad(default_store):
    from assistant.models.files import VAD_FILE

    path = default_store.get("silero-vad").path / VAD_FILE
    return lambda: SileroVad(path)


def listen(make_vad, reply, user=None, onset_s=0.0, echo_db=None, echo_ms=40, lead_ms=0, cancel=True,
           quiet_s=0.0):
    """Parley plays `reply` while the microphone hears its echo (`echo_db` down, `echo_ms` late; None: no echo)
    and `user` from `onset_s`. The speaker's frames reach the listener `lead_ms` before the microphone's, as
    they do when the output buffer runs ahead. Returns the probability of every frame, and the frames.
    `quiet_s`: the reply plays after that much silence (the echo canceller idles first)."""
    if quiet_s:
        reply = np.concatenate([np.zeros(int(quiet_s * RATE), np.float32), reply])
    total = len(reply) + RATE
    played = np.zeros(total, np.float32)
    played[: len(reply)] = reply
    mic = np.zeros(total, np.float32)
    if echo_db is not None:
        delay = echo_ms * RATE // 1000
        mic[delay:] += played[: total - delay] * np.float32(10 ** (echo_db / 20))
    if user is not None:
        start = int(onset_s * RATE)
        mic[start : start + len(user)] += user[: total - start]
    listener = EchoAwareVad(make_vad, EchoCanceller(EchoConfig(sample_rate=RATE)) if cancel else None)
    lead = lead_ms * RATE // 1000
    sent = 0
    probabilities, frames = [], []
    for at in range(0, total - BLOCK, BLOCK):
        upto = min(total, at + BLOCK + lead)
        for frame, probability in listener.push(mic[at : at + BLOCK], played[sent:upto], at / RATE):
            frames.append(frame)
            probabilities.append(probability)
        sent = upto
    return np.array(probabilities), frames


def opening(probabilities: np.ndarray, since: int = 0) -> int | None:
    """Frames from `since` to the first two in a row over 0.5 (what opens speech in the endpointer)."""
    loud = probabilities[since:] > 0.5
    for index in range(1, len(loud)):
        if loud[index] and loud[index - 1]:
            return index
    return None


@pytest.mark.parametrize("lead_ms", [0, 100, 300])
@pytest.mark.parametrize("onset_s", [1.5, 3.0])
def test_with_no_echo_at_all_the_user_is_heard_over_playback_at_once(make_vad, voices, onset_s, lead_ms):
    """Headphones, or a microphone far from the speaker: the canceller has no echo to find, and suppresses the
    user instead; the captured view hears them."""
    reply, user = voices
    probabilities, _ = listen(make_vad, reply, user, onset_s, lead_ms=lead_ms)
    frames = opening(probabilities, int(onset_s * RATE) // FRAME)
    assert frames is not None and frames <= 8, frames  # within 256 ms of their first word (5 frames here)


@pytest.mark.parametrize("echo_db", [-10, 0])
@pytest.mark.parametrize("lead_ms", [0, 100, 300])
def test_parleys_own_echo_is_never_taken_for_the_user(make_vad, voices, echo_db, lead_ms):
    reply, _ = voices
    probabilities, _ = listen(make_vad, reply, echo_db=echo_db, lead_ms=lead_ms)
    assert (probabilities > 0.5).sum() == 0


@pytest.mark.parametrize("lead_ms", [0, 300])
def test_with_an_echo_the_user_is_still_heard_over_playback(make_vad, voices, lead_ms):
    reply, user = voices
    probabilities, _ = listen(make_vad, reply, user, 2.0, echo_db=-10, lead_ms=lead_ms)
    assert (probabilities[: int(2.0 * RATE) // FRAME] > 0.5).sum() == 0
    frames = opening(probabilities, int(2.0 * RATE) // FRAME)
    assert frames is not None and frames <= 10, frames


def test_without_echo_cancellation_the_microphone_is_passed_on_frame_by_frame(make_vad, voices):
    reply, user = voices
    probabilities, frames = listen(make_vad, reply, user, 1.0, cancel=False)
    assert len(frames) == _blocks(reply)  # (BLOCK == FRAME)
    assert opening(probabilities, RATE // FRAME) <= 5  # nothing stands between the user and the VAD
    mic = np.concatenate(frames)
    assert np.array_equal(mic[RATE : RATE + len(user)], user[: len(mic) - RATE])


def test_cleaned_frames_keep_pace_with_the_microphone(make_vad, voices):
    reply, _ = voices
    _, frames = listen(make_vad, reply, echo_db=-10)
    assert _blocks(reply) - 1 <= len(frames) <= _blocks(reply)  # the canceller holds back under 10 ms


def _blocks(reply: np.ndarray) -> int:
    return len(range(0, len(reply) + RATE - BLOCK, BLOCK))  # as listen() reads them


@pytest.mark.parametrize("echo_db", [-10, 0])
@pytest.mark.parametrize("lead_ms", [0, 100])
def test_after_a_quiet_spell_the_echo_is_still_never_taken_for_the_user(make_vad, voices, echo_db, lead_ms):
    """Nothing played for 3 s (the canceller idled, one VAD ran), then the reply: cancelled from its first word."""
    reply, _ = voices
    probabilities, _ = listen(make_vad, reply, echo_db=echo_db, lead_ms=lead_ms, quiet_s=3.0)
    assert (probabilities > 0.5).sum() == 0


@pytest.mark.parametrize("echo_db", [None, -10])
def test_after_a_quiet_spell_the_user_is_still_heard_over_playback(make_vad, voices, echo_db):
    """The captured view's VAD, skipped while the canceller idled, takes over the cleaned one's state and hears
    the user over the reply as soon as it does without the quiet spell."""
    reply, user = voices
    quiet, onset = 3.0, 2.0
    probabilities, _ = listen(make_vad, reply, user, quiet + onset, echo_db=echo_db, quiet_s=quiet)
    start = int((quiet + onset) * RATE) // FRAME
    assert (probabilities[:start] > 0.5).sum() == 0
    frames = opening(probabilities, start)
    assert frames is not None and frames <= (10 if echo_db is not None else 8), frames


def test_the_user_is_heard_while_nothing_plays(make_vad, voices):
    """Idle listening (one VAD): the user opens speech as without echo cancellation."""
    _, user = voices
    silence = np.zeros(4 * RATE, np.float32)
    probabilities, _ = listen(make_vad, silence, user, 2.0, quiet_s=0.0)
    assert opening(probabilities, 2 * RATE // FRAME) <= 5
