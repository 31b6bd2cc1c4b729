"""Echo cancellation on real speech: Parley's Piper voice through a simulated speaker → room → mic path.

The far end (what Parley says) goes to `played()`, the simulated microphone to `captured()`, in
lock-step chunks of about 10 ms (of uneven sizes, so the 10 ms framing inside is exercised). The
echo path is a 40 ms delay, a synthetic room (direct sound plus a decaying reverberant tail), a
loudspeaker low-pass and a 0.3 gain, with a little microphone noise. After the canceller has had
two seconds to converge, the echo must be at least 10 dB weaker (ERLE) and Silero VAD must stop
taking it for speech; a person talking over Parley (double talk) must still be heard.
"""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np
import pytest
from scipy.signal import butter, fftconvolve, lfilter

from assistant.capture import echo_cancel
from assistant.audio_files import resample
from assistant.capture.echo_cancel import EchoCanceller, EchoConfig
from assistant.listen.voice_activity import FRAME, SileroVad

RATE = 16000
DELAY_MS = 40
CONVERGE = 2 * RATE  # samples the canceller gets to adapt before anything is measured
FAR_TEXT = (
    "Here is the forecast for today. Sunny in the morning, with clouds rolling in after lunch "
    "and a light breeze from the west. Tomorrow looks much the same, only a little warmer."
)
NEAR_TEXT = "Stop, stop. Tell me about the weekend instead."
NEAR_AT = 4 * RATE  # where the person starts talking over Parley


@pytest.fixture(scope="module")
def voice(default_store):
    from piper import PiperVoice

    return PiperVoice.load(default_store.get("piper-en_US-joe-medium").path / "voice.onnx")


def _say(voice, text: str, rate: int = RATE) -> np.ndarray:
    from piper import SynthesisConfig

    plain = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # no random variation: same audio every run
    audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=plain)])
    return resample(audio, voice.config.sample_rate, rate)


@pytest.fixture(scope="module")
def far(voice) -> np.ndarray:
    """What Parley says: the speaker signal, 16 kHz."""
    return _say(voice, FAR_TEXT)


@pytest.fixture(scope="module")
def near(voice) -> np.ndarray:
    """A person talking: another sentence, pitched up about 12% (resampled as if faster), 16 kHz."""
    return _say(voice, NEAR_TEXT, rate=int(RATE / 1.12))


@pytest.fixture(scope="module")
def vad_path(default_store):
    return default_store.get("silero-vad").path / "silero_vad.onnx"


def _echo(far: np.ndarray) -> np.ndarray:
    """Speaker → room → microphone: 0.3 × (40 ms late, low-passed, plus the room's reverberant tail).

    The tail is decaying noise from 2 ms after the direct sound on, about 9 dB below it, with
    RT60 ≈ 0.3 s: a loudspeaker close to the microphone in a furnished room (laptop, desk speaker).
    """
    rng = np.random.default_rng(7)
    t = np.arange(int(0.3 * RATE)) / RATE
    tail = 0.02 * rng.standard_normal(len(t)) * np.exp(-t / 0.043)
    start = DELAY_MS * RATE // 1000
    room = np.zeros(start + 32 + len(tail))
    room[start] = 1.0
    room[start + 32 :] += tail
    b, a = butter(2, 5000 / (RATE / 2))  # small loudspeaker: little above 5 kHz
    echo = 0.3 * lfilter(b, a, fftconvolve(far, room)[: len(far)])
    return echo.astype(np.float32)


def _mic_noise(length: int) -> np.ndarray:
    return np.random.default_rng(11).normal(0, 1e-3, length).astype(np.float32)  # about -60 dBFS


def _chunks(length: int, seed: int = 3):
    """Chunk boundaries of about 10 ms (100 to 220 samples), so frames straddle calls."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < length:
        size = int(rng.integers(100, 221))
        yield start, min(start + size, length)
        start += size


def _run(canceller: EchoCanceller, far: np.ndarray, mic: np.ndarray) -> np.ndarray:
    """Lock-step: each chunk is played, then the microphone's chunk of the same moment is captured."""
    out = []
    for start, end in _chunks(len(mic)):
        canceller.played(far[start:end])
        out.append(canceller.captured(mic[start:end]))
    cleaned = np.concatenate(out)
    assert cleaned.dtype == np.float32
    assert len(mic) - RATE // 100 < len(cleaned) <= len(mic)  # held back: less than one 10 ms frame
    return cleaned


def _erle_db(mic: np.ndarray, cleaned: np.ndarray) -> float:
    span = slice(CONVERGE, len(cleaned))
    return float(10 * np.log10(np.sum(mic[span].astype(np.float64) ** 2) / np.sum(cleaned[span].astype(np.float64) ** 2)))


def _speech_frames(vad_path, audio: np.ndarray) -> np.ndarray:
    """Silero VAD over `audio` from a fresh state: True for each 512-sample frame above 0.5."""
    return SileroVad(vad_path).probabilities(audio) > 0.5


def _live_canceller(**overrides) -> EchoCanceller:
    canceller = EchoCanceller(EchoConfig(stream_delay_ms=DELAY_MS, **overrides))
    assert canceller.available, "the WebRTC audio processing module (pip package livekit) did not load"
    return canceller


@pytest.mark.parametrize("noise_suppression", [True, False], ids=["ns", "no-ns"])
def test_cancels_parleys_own_voice(far, vad_path, noise_suppression):
    echo = _echo(far)
    mic = echo + _mic_noise(len(far))
    cleaned = _run(_live_canceller(noise_suppression=noise_suppression), far, mic)

    erle = _erle_db(mic, cleaned)
    first = CONVERGE // FRAME  # VAD frames from the end of the convergence period
    raw_speech = _speech_frames(vad_path, mic)
    clean_speech = _speech_frames(vad_path, cleaned)
    print(f"\nERLE {erle:.1f} dB (noise suppression {noise_suppression}); VAD frames > 0.5, after "
          f"convergence: raw mic {raw_speech[first:].sum()}, cleaned {clean_speech[first:].sum()} "
          f"(whole clip: {raw_speech.sum()}, {clean_speech.sum()}) of {len(raw_speech) - first}")

    assert raw_speech[first:].sum() > 100  # the echo alone does look like speech to the VAD
    assert erle >= 10.0
    assert clean_speech[first:].sum() <= raw_speech[first:].sum() // 10


def test_person_talking_over_parley_is_kept(far, near, vad_path):
    """Double talk: someone interrupts Parley, as loud at the microphone as Parley's echo."""
    echo = _echo(far)
    mic = echo + _mic_noise(len(far))
    assert NEAR_AT + len(near) < len(far)
    mic[NEAR_AT : NEAR_AT + len(near)] += 0.3 * near
    cleaned = _run(_live_canceller(), far, mic)

    person = _speech_frames(vad_path, np.concatenate([np.zeros(NEAR_AT, np.float32), 0.3 * near]))
    heard = _speech_frames(vad_path, cleaned)
    during = slice(NEAR_AT // FRAME, (NEAR_AT + len(near)) // FRAME)
    kept = heard[during][person[during]].mean()
    onset_ms = (np.argmax(heard[during]) - np.argmax(person[during])) * FRAME * 1000 // RATE
    echo_only = np.ones(len(heard), bool)  # after convergence, outside the person's speech (+0.5 s)
    echo_only[: CONVERGE // FRAME] = False
    echo_only[NEAR_AT // FRAME : (NEAR_AT + len(near)) // FRAME + 16] = False
    person_db = 10 * np.log10(
        np.sum(cleaned[NEAR_AT : NEAR_AT + len(near)].astype(np.float64) ** 2)
        / np.sum((0.3 * near.astype(np.float64)) ** 2)
    )
    print(f"\ndouble talk: VAD fires on {kept:.0%} of the person's {person[during].sum()} speech frames, "
          f"first {onset_ms} ms after the person starts; output/person energy {person_db:+.1f} dB; "
          f"echo-only frames > 0.5: {heard[echo_only].sum()} of {echo_only.sum()}")

    assert heard[during].any() and onset_ms <= 250  # barge-in is noticed at once
    assert kept >= 0.5  # AEC3 suppresses some of it while both talk, but most gets through
    assert person_db > -6.0  # not just everything turned down
    assert heard[echo_only].sum() <= 0.1 * echo_only.sum()


def test_fed_from_two_threads(far, vad_path):
    """Playback and capture consumers on their own threads, in step, calls racing inside each step."""
    mic = _echo(far) + _mic_noise(len(far))
    canceller = _live_canceller()
    chunks = list(_chunks(len(mic), seed=5))
    step = threading.Barrier(2)
    out: list[np.ndarray] = []
    errors: list[BaseException] = []

    def playback() -> None:
        try:
            for start, end in chunks:
                step.wait(timeout=10)
                canceller.played(far[start:end])
        except BaseException as exc:  # reported below
            errors.append(exc)
            step.abort()

    def capture() -> None:
        try:
            for start, end in chunks:
                step.wait(timeout=10)
                out.append(canceller.captured(mic[start:end]))
        except BaseException as exc:
            errors.append(exc)
            step.abort()

    threads = [threading.Thread(target=playback), threading.Thread(target=capture)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    cleaned = np.concatenate(out)
    erle = _erle_db(mic, cleaned)
    print(f"\ntwo threads: ERLE {erle:.1f} dB")
    assert erle >= 10.0


def test_disabled_passes_audio_through(far):
    canceller = EchoCanceller(EchoConfig(enabled=False))
    assert not canceller.available
    mic = _echo(far)[: RATE]
    out = []
    for start, end in _chunks(len(mic)):
        canceller.played(far[start:end])
        out.append(canceller.captured(mic[start:end]))
        assert len(out[-1]) == end - start  # no buffering when off
    np.testing.assert_array_equal(np.concatenate(out), mic)


def test_unavailable_module_passes_through_and_warns_once(far, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "livekit", None)  # `from livekit import rtc` raises ImportError
    monkeypatch.setattr(echo_cancel, "_warned_unavailable", False)
    caplog.set_level(logging.WARNING, logger="assistant.capture.echo_cancel")
    first, second = EchoCanceller(EchoConfig()), EchoCanceller(EchoConfig())
    assert not first.available and not second.available
    warnings = [r for r in caplog.records if "echo cancellation is unavailable" in r.getMessage()]
    assert len(warnings) == 1

    mic = _echo(far)[: RATE // 2]
    first.played(far[: RATE // 2])
    first.set_delay_ms(120)
    np.testing.assert_array_equal(first.captured(mic), mic)
    np.testing.assert_array_equal(first.captured(mic[:, None]), mic)  # sounddevice's (n, 1) shape


def test_output_follows_input_frame_by_frame():
    """Less than 10 ms held back; silence stays (near) silence; bad input is refused clearly."""
    canceller = _live_canceller()
    assert len(canceller.captured(np.zeros(100, np.float32))) == 0
    assert len(canceller.captured(np.zeros(100, np.float32))) == 160
    assert len(canceller.captured(np.zeros(600, np.float32))) == 640  # 40 + 600: four whole frames
    silence = canceller.captured(np.zeros(200, np.float32))
    assert len(silence) == 160 and np.abs(silence).max() < 1e-3  # 40 held
    canceller.set_delay_ms(10_000)  # clamped to WebRTC's limit, not an error
    assert canceller.delay_ms == 500 and canceller.available
    assert len(canceller.captured(np.zeros(160, np.float32))) == 160
    with pytest.raises(ValueError, match="mono"):
        canceller.captured(np.zeros((160, 2), np.float32))
    with pytest.raises(ValueError, match="multiple of 100"):
        EchoCanceller(EchoConfig(sample_rate=22050))


def test_native_failure_falls_back_to_passthrough(monkeypatch, caplog):
    """If the module errors mid-stream, the microphone keeps flowing (raw), with one logged error."""
    from livekit import rtc

    canceller = _live_canceller()
    assert len(canceller.captured(np.full(250, 0.01, np.float32))) == 160  # 90 held

    def broken(self, frame):
        raise RuntimeError("simulated APM failure")

    monkeypatch.setattr(rtc.AudioProcessingModule, "process_stream", broken)
    caplog.set_level(logging.ERROR, logger="assistant.capture.echo_cancel")
    tone = np.sin(np.arange(300) / 5).astype(np.float32) * 0.1
    out = canceller.captured(tone)
    assert not canceller.available
    np.testing.assert_allclose(out, np.concatenate([np.full(90, 0.01), tone[:230]]), atol=1e-6)
    np.testing.assert_allclose(canceller.captured(tone[:10]), np.concatenate([tone[230:], tone[:10]]), atol=1e-6)
    canceller.played(tone)  # ignored now
    assert sum("echo cancellation failed" in r.getMessage() for r in caplog.records) == 1


def test_idles_while_nothing_plays_and_cancels_again_at_once(far, vad_path):
    """Nothing played for a while: the module is bypassed (the microphone passes unchanged); the next reply is
    cancelled from its first sample, by a fresh module."""
    gap = np.zeros(3 * RATE, np.float32)
    played = np.concatenate([far, gap, far])
    mic = _echo(played) + _mic_noise(len(played))
    idling, busy = _live_canceller(idle_after_ms=1000), _live_canceller(idle_after_ms=0)
    out, idle_at = [], []
    for start, end in _chunks(len(mic)):
        idling.played(played[start:end])
        out.append(idling.captured(mic[start:end]))
        idle_at.append((start, idling.idle))
    cleaned = np.concatenate(out)
    assert len(mic) - RATE // 100 < len(cleaned) <= len(mic)
    reference = _run(busy, played, mic)
    assert not busy.idle

    quiet = [start for start, idle in idle_at if idle]
    assert quiet and len(far) + RATE <= quiet[0] <= len(far) + RATE + 300  # 1 s after the last sound
    assert quiet[-1] < len(far) + len(gap)  # and no longer once it plays again
    # Bypassed: the microphone exactly as captured (its samples in the same place: nothing held back).
    span = slice(len(far) + int(1.5 * RATE), len(far) + len(gap) - RATE // 10)
    np.testing.assert_array_equal(cleaned[span], mic[span])

    second = slice(len(far) + len(gap), len(mic) - RATE // 100)
    first_words = slice(second.start, second.start + CONVERGE)  # no time to adapt again: from the first sample

    def erle_db(out: np.ndarray, span: slice) -> float:
        return float(10 * np.log10(np.sum(mic[span].astype(np.float64) ** 2) / np.sum(out[span].astype(np.float64) ** 2)))

    erle, erle_busy = erle_db(cleaned, first_words), erle_db(reference, first_words)
    raw_speech = _speech_frames(vad_path, mic[second])
    clean_speech = _speech_frames(vad_path, cleaned[second])
    print(f"\nafter idling, first 2 s: ERLE {erle:.1f} dB (never idled: {erle_busy:.1f} dB); VAD frames > 0.5: "
          f"raw {raw_speech.sum()}, cleaned {clean_speech.sum()} of {len(raw_speech)}")
    assert erle >= 20.0  # (38 dB here, the module that never idled 46)
    assert clean_speech.sum() <= raw_speech.sum() // 10


@pytest.mark.parametrize("lead_before, lead_after", [(1600, 0), (0, 1600)], ids=["less-ahead", "more-ahead"])
def test_a_reply_on_a_reopened_speaker_is_cancelled_after_idling(far, lead_before, lead_after):
    """The speaker rests while nothing plays and reopens for the next reply, its blocks handed over further ahead
    of their echo, or less, than before: the module that comes back from the bypass finds the new delay itself.
    (One kept from before the bypass let 12-29 frames of echo through at over 30% of its level here, ERLE 6-12 dB:
    AEC3 pairs far and near frames by how many of each it has been fed.)"""
    gap = np.zeros(3 * RATE, np.float32)
    played = np.concatenate([far, gap, far, np.zeros(RATE, np.float32)])
    mic = _echo(played) + _mic_noise(len(played))
    second = len(far) + len(gap)
    canceller = _live_canceller(idle_after_ms=1000)
    out, handed = [], 0
    for start, end in _chunks(len(mic)):
        lead = lead_before if end <= second - RATE else lead_after
        upto = min(len(played), end + lead)
        if len(far) + 1.5 * RATE < start < second - RATE:
            handed = max(handed, upto)  # the speaker is closed: nothing handed over, not even silence
        elif upto > handed:
            canceller.played(played[handed:upto])
            handed = upto
        out.append(canceller.captured(mic[start:end]))
    cleaned = np.concatenate(out)
    reply = slice(second, second + len(far))

    def levels(audio: np.ndarray) -> np.ndarray:
        return np.sqrt((audio[: len(audio) // 512 * 512].reshape(-1, 512).astype(np.float64) ** 2).mean(axis=1))

    raw, left = levels(mic[reply]), levels(cleaned[reply])
    leaks = int(((raw > 0.01) & (left > 0.3 * raw)).sum())
    erle = float(10 * np.log10(np.sum(raw ** 2) / np.sum(left ** 2)))
    print(f"\nreopened speaker, lead {lead_before} → {lead_after} samples: ERLE {erle:.1f} dB, {leaks} frames leak")
    assert leaks == 0 and erle >= 20.0
