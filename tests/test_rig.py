"""The virtual audio rig itself: devices that PortAudio sees, a microphone that hears what tests play, a speaker
whose output tests can record, and an echo path. No timing asserts beyond loose sanity bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from rig import AudioRig, audio_rig  # noqa: F401  (audio_rig is a fixture)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def block_levels(audio: np.ndarray, rate: int) -> np.ndarray:
    """RMS of each 10 ms block."""
    block = rate // 100
    blocks = audio[: len(audio) // block * block].reshape(-1, block).astype(np.float64)
    return np.sqrt(np.mean(blocks**2, axis=1))


def active_seconds(audio: np.ndarray, rate: int, threshold: float) -> float:
    """Length of the span from the first to the last 10 ms block whose RMS exceeds `threshold`."""
    loud = np.flatnonzero(block_levels(audio, rate) > threshold)
    return 0.0 if len(loud) == 0 else (loud[-1] - loud[0] + 1) / 100


def loud_level(audio: np.ndarray, rate: int, seconds: float = 0.5) -> float:
    """RMS of the loudest `seconds` of 10 ms blocks: a level that does not depend on how much silence was recorded."""
    levels = np.sort(block_levels(audio, rate))[::-1][: int(seconds * 100)]
    return float(np.sqrt(np.mean(levels**2))) if len(levels) else 0.0


def wait_for_end_of_sound(snapshot, rate: int, quiet_tail: float = 0.25, threshold: float = 0.01,
                          timeout: float = 10.0) -> None:
    """Wait until `snapshot()` (audio recorded so far) holds a sound followed by `quiet_tail` seconds of quiet.

    Waiting on the data, not on the clock, keeps the tests right on a busy machine where audio arrives late.
    Returns at the timeout too: the assertions that follow then say what was missing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        audio = snapshot()
        loud = np.flatnonzero(block_levels(audio, rate) > threshold)
        if len(loud) and len(audio) / rate - (loud[-1] + 1) / 100 >= quiet_tail:
            return
        time.sleep(0.05)


def play_on_default_output(audio: np.ndarray, rate: int) -> None:
    """Play through a sounddevice OutputStream on the default output device, in this process, and wait."""
    import sounddevice as sd

    position, done = 0, threading.Event()

    def callback(outdata, frames, time_info, status):
        nonlocal position
        chunk = audio[position: position + frames]
        outdata[: len(chunk), 0] = chunk
        outdata[len(chunk):] = 0
        position += len(chunk)
        if len(chunk) < frames:
            raise sd.CallbackStop

    with sd.OutputStream(samplerate=rate, channels=1, dtype="float32", callback=callback,
                         finished_callback=done.set):
        assert done.wait(timeout=len(audio) / rate + 10), "the output stream never finished"


SUBPROCESS_PROBE = r"""
import json, sounddevice as sd
devices = sd.query_devices()
result = {
    "inputs": [d["name"] for d in devices if d["max_input_channels"] > 0],
    "outputs": [d["name"] for d in devices if d["max_output_channels"] > 0],
    "default_input": sd.query_devices(kind="input")["name"],
    "default_output": sd.query_devices(kind="output")["name"],
}
with sd.InputStream(samplerate=16000, channels=1, blocksize=512):
    pass
with sd.OutputStream(samplerate=16000, channels=1, blocksize=512):
    pass
result["opened"] = True
print(json.dumps(result))
"""


def test_subprocess_sees_the_devices_and_opens_the_defaults(audio_rig, tmp_path):
    env = {**os.environ, **audio_rig.env()}
    assert not {"HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"} & audio_rig.env().keys()
    out = subprocess.run([sys.executable, "-c", SUBPROCESS_PROBE], env=env, capture_output=True, text=True,
                         timeout=30, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["inputs"] and result["outputs"], result
    assert any(audio_rig.microphone_name in name for name in result["inputs"]), result
    assert any(audio_rig.speaker_name in name for name in result["outputs"]), result
    assert not any(audio_rig.microphone_name in name for name in result["outputs"]), "the mic must be input-only"
    assert result["default_input"] and result["default_output"], result
    assert result["opened"]


def test_tone_played_into_the_mic_is_heard_by_an_input_stream(audio_rig):
    import sounddevice as sd

    rate, chunks = 16000, []
    with sd.InputStream(samplerate=rate, channels=1, dtype="float32", blocksize=320,
                        callback=lambda indata, frames, t, status: chunks.append(indata[:, 0].copy())):
        time.sleep(0.3)
        silence_until = sum(map(len, chunks))
        audio_rig.play_into_mic(tone(1000, 1.0, rate), rate)
        wait_for_end_of_sound(lambda: np.concatenate(chunks[:]) if chunks else np.zeros(0, np.float32), rate)
    audio = np.concatenate(chunks)
    noise, heard = audio[:silence_until], audio[silence_until:]
    facts = (f"heard rms {rms(heard):.4f} over {len(heard) / rate:.2f} s, noise rms {rms(noise):.2e}, "
             f"{dominant_frequency(heard, rate):.0f} Hz, loud for {active_seconds(heard, rate, 0.1):.2f} s")
    assert rms(heard) > 0.1, facts
    assert rms(heard) > 100 * rms(noise) + 1e-4, facts
    assert abs(dominant_frequency(heard, rate) - 1000) < 20, facts
    assert 0.7 < active_seconds(heard, rate, 0.1) < 1.3, facts  # sanity bound on pacing, not a timing assertion


@pytest.mark.parametrize("with_recorder", [False, True], ids=["record_speaker", "SpeakerRecorder"])
def test_output_stream_is_captured_from_the_speaker(audio_rig, with_recorder):
    rate = 16000
    if with_recorder:
        with audio_rig.speaker_recorder() as recorder:
            time.sleep(0.1)
            play_on_default_output(tone(440, 1.0, rate), rate)
            wait_for_end_of_sound(recorder.snapshot, recorder.rate)
        audio, recorded_rate = recorder.audio, recorder.rate
    else:
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(zip(("audio", "rate"),
                                                                  audio_rig.record_speaker(2.5))))
        thread.start()
        time.sleep(0.2)
        play_on_default_output(tone(440, 1.0, rate), rate)
        thread.join(timeout=15)
        audio, recorded_rate = result["audio"], result["rate"]
    facts = (f"speaker rms {rms(audio):.4f} over {len(audio) / recorded_rate:.2f} s, "
             f"{dominant_frequency(audio, recorded_rate):.0f} Hz, "
             f"loud for {active_seconds(audio, recorded_rate, 0.1):.2f} s")
    assert rms(audio) > 0.05, f"nothing reached the speaker: {facts}"
    assert abs(dominant_frequency(audio, recorded_rate) - 440) < 10, facts
    assert 0.7 < active_seconds(audio, recorded_rate, 0.1) < 1.3, facts  # output ran at the right speed (±30%)


def test_echo_path_plays_the_speaker_back_into_the_mic(audio_rig):
    rate, volume_db = 16000, -10.0

    def speaker_and_mic_levels(echo: bool) -> tuple[float, float, np.ndarray, int]:
        with audio_rig.speaker_recorder() as speaker, audio_rig.microphone_recorder() as mic:
            time.sleep(0.1)
            play_on_default_output(tone(700, 0.8, rate), rate)
            wait_for_end_of_sound(speaker.snapshot, speaker.rate)
            if echo:  # the echo arrives later
                wait_for_end_of_sound(mic.snapshot, mic.rate)
            else:
                time.sleep(0.4)
        return loud_level(speaker.audio, speaker.rate), loud_level(mic.audio, mic.rate), mic.audio, mic.rate

    audio_rig.enable_echo(latency_ms=40, volume_db=volume_db)
    try:
        speaker_level, mic_level, mic_audio, mic_rate = speaker_and_mic_levels(echo=True)
    finally:
        audio_rig.disable_echo()
    assert speaker_level > 0.05
    gain_db = 20 * np.log10(mic_level / speaker_level + 1e-12)
    assert abs(gain_db - volume_db) < 3, f"echo at {gain_db:.1f} dB, wanted {volume_db} dB"
    assert abs(dominant_frequency(mic_audio, mic_rate) - 700) < 15

    speaker_level, mic_level, _, _ = speaker_and_mic_levels(echo=False)
    assert speaker_level > 0.05
    assert mic_level < speaker_level * 1e-3, f"the mic still hears the speaker after disable_echo ({mic_level:.4f})"


def test_missing_pulseaudio_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulseaudio, pactl or pacat here
    with pytest.raises(RuntimeError, match="apt-get install .*pulseaudio"):
        AudioRig().start()


def test_a_failing_daemon_reports_its_log():
    rig = AudioRig(extra_config="load-module module-that-does-not-exist\n")
    try:
        with pytest.raises(RuntimeError) as error:
            rig.start()
        assert "module-that-does-not-exist" in str(error.value)
        assert rig.root is None and not rig.running  # cleaned up after the failure
    finally:
        rig.stop()


def test_a_second_rig_starts_idempotently_and_stops_everything(audio_rig):
    rig = AudioRig()
    try:
        rig.start()
        root, daemon = rig.root, rig._daemon
        assert rig.start() is rig and rig._daemon is daemon  # idempotent
        assert rig.env()["PULSE_SERVER"] != audio_rig.env()["PULSE_SERVER"]  # private: does not touch the other
        children = [p.pid for p in rig._procs] + [daemon.pid]
    finally:
        rig.stop()
    assert not root.exists()
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert audio_rig.running


RESCAN_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import sounddevice as sd  # imported before the rig exists: PortAudio has listed the devices already
before = [d["name"] for d in sd.query_devices()]
from rig import AudioRig
rig = AudioRig().start()
try:
    rig.activate()  # sets os.environ and re-scans with sounddevice._terminate(); sounddevice._initialize()
    after = [d["name"] for d in sd.query_devices()]
    with sd.InputStream(samplerate=16000, channels=1):
        pass
    print(json.dumps({"before": before, "after": after}))
finally:
    rig.stop()
"""


def test_activate_rescans_an_already_imported_sounddevice(tmp_path):
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_") and k != "ALSA_CONFIG_PATH"}
    out = subprocess.run([sys.executable, "-c", RESCAN_PROBE, tests_dir], env=env, capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not any("parley_mic" in name for name in result["before"])
    assert any("parley_mic" in name for name in result["after"]), result
