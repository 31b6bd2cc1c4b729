"""Live latency on the virtual audio rig (`make bench-realtime`): the real `parley chat` hears spoken
questions through a virtual microphone and answers on a virtual speaker that echoes back into the
microphone (about 10 dB down, 40 ms late), as laptop speakers do; with `echo_path=False` it does not, as
with headphones (echo cancellation stays on, as a user who never changed it would have it).

Prints {"response_ms": {"p50", "p95"}, "barge_in_ms": {"p50", "p95"}, "self_interruptions": N,
"missed_barge_ins": N, "lost_turns": N, "barge_in_heard_ms": {"p50", "p95"}, "trials": N}.
response_ms: last voiced sample of the question as the microphone delivered it → first reply sample handed
to the output device (the end-of-turn silence wait included), as Parley measures it per turn.
barge_in_ms: first microphone frame of the interrupting speech → the speaker's flush (plus one block), as Parley
measures it: from the frames its voice-activity detection opened speech with.
barge_in_heard_ms: the same from outside, on the rig's recordings of the microphone and the speaker: the
interruption's first sample in the microphone → the speaker silent (what a user hears; a late detection
shows here, and so does audio the sound server still had queued).
Odd trials let the reply play out (a barge-in there is a self-interruption); even trials talk over it
(no barge-in within 30 s is a missed one). A question with no reply begun within LOST_TURN_S is a lost turn.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from benchmarks.live import piper_say  # (also puts tests/ on sys.path, for the rig and ChatProcess)

QUESTIONS = [
    "What is the capital of France?", "Tell me about the moon.", "What is the largest ocean?",
    "Tell me about cats.", "How many days are in a week?", "Tell me about the sun.",
    "What color is grass?", "Tell me about dogs.", "What is two plus two?", "Tell me about rain.",
]


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def starts_at(recording: np.ndarray, sound: np.ndarray) -> int:
    """The sample of `recording` where `sound` (same rate) begins: the peak of their cross-correlation."""
    size = 1 << int(np.ceil(np.log2(len(recording) + len(sound))))
    correlation = np.fft.irfft(np.fft.rfft(recording, size) * np.conj(np.fft.rfft(sound, size)), size)
    return int(np.argmax(correlation[: len(recording)]))


def silent_from(recording: np.ndarray, rate: int, start: int, hold_ms: int = 400) -> int | None:
    """The first sample at or after `start` from which `recording` stays silent for `hold_ms` (longer than the
    pauses between the voice's sentences)."""
    window = rate // 100  # 10 ms
    quiet = 0
    for at in range(start - start % window, len(recording) - window, window):
        if np.abs(recording[at : at + window]).max() < 1e-3:
            quiet += 1
            if quiet * 10 >= hold_ms:
                return at - (quiet - 1) * window
        else:
            quiet = 0
    return None


def heard_barge_in_ms(microphone, speaker, interruption: np.ndarray) -> float | None:
    """Interruption's first sample in the microphone recording → the speaker recording silent (ms), both
    recorders on the monotonic clock; None when the speaker never went quiet."""
    onset = starts_at(microphone.audio, interruption)
    onset_time = microphone.started_at + onset / microphone.rate
    first = int((onset_time - speaker.started_at) * speaker.rate)
    silent = silent_from(speaker.audio, speaker.rate, max(0, first))
    if silent is None:
        return None
    return round(1000 * (speaker.started_at + silent / speaker.rate - onset_time), 1)


# A question that has not been answered (or begun to be) by then is a lost turn.
LOST_TURN_S = 60


def main(trials: int = 20, progress: bool = True, echo_path: bool = True) -> dict:
    """Run the trials and return the result (printed by `parley bench realtime`)."""
    say = piper_say()
    from rig import AudioRig
    from test_conversation_live import ChatProcess, _is

    interruption = say("Wait, stop. Something else please.")
    from assistant.audio_files import resample
    from rig.pulse import SINK_RATE

    interruption_as_recorded = resample(interruption, 22050, SINK_RATE)
    response, barge, heard, self_interruptions, missed, lost = [], [], [], 0, 0, 0
    rig = AudioRig().start()
    try:
        if echo_path:
            rig.enable_echo(latency_ms=40, volume_db=-10)
        chat = ChatProcess(rig)
        chat.wait_for(_is("StateChanged", state="listening"))
        time.sleep(1.0)
        for trial in range(trials):
            question = QUESTIONS[trial % len(QUESTIONS)]
            chat.seen.clear()
            rig.play_into_mic(say(question), 22050)
            try:
                first = chat.wait_for(lambda e: e["event"] == "ReplyFinished" or _is("StateChanged", state="speaking")(e),
                                      timeout=LOST_TURN_S)
            except AssertionError:  # the question got no reply: counted, and the next trial goes on
                lost += 1
                print(f"trial {trial + 1}/{trials}: {question!r} got no reply within {LOST_TURN_S} s", file=sys.stderr)
                continue
            if trial % 2 == 0:
                finished = first if first["event"] == "ReplyFinished" else chat.wait_for(_is("ReplyFinished"), timeout=180)
                timings = chat.wait_for(_is("TurnTimings"), timeout=30)["timings_ms"]
                self_interruptions += finished["interrupted"] or any(e["event"] == "BargeIn" for e in chat.seen)
            else:
                try:
                    with rig.microphone_recorder() as microphone, rig.speaker_recorder() as speaker:
                        time.sleep(0.8)
                        rig.play_into_mic(interruption, 22050, wait=False)
                        barge.append(chat.wait_for(_is("BargeIn"), timeout=30)["latency_ms"])
                        time.sleep(0.8)
                    outside = heard_barge_in_ms(microphone, speaker, interruption_as_recorded)
                    if outside is not None:
                        heard.append(outside)
                except AssertionError:  # not heard: the reply plays out
                    missed += 1
                    chat.seen_or_wait(_is("ReplyFinished"), timeout=180)
                    timings = chat.seen_or_wait(_is("TurnTimings"), timeout=30)["timings_ms"]
                else:
                    timings = chat.wait_for(_is("TurnTimings"), timeout=30)["timings_ms"]
                    chat.wait_for(_is("ReplyFinished"), timeout=180)  # the answer to the interruption
                    chat.wait_for(_is("TurnTimings"), timeout=30)
            if "first_audio" in timings:
                response.append(timings["first_audio"])
            if progress:
                print(f"trial {trial + 1}/{trials}: {question!r} {timings}", file=sys.stderr, flush=True)
            time.sleep(1.0)
        chat.stop()
    finally:
        rig.stop()
    result = {
        "response_ms": {"p50": percentile(response, 50), "p95": percentile(response, 95)},
        "barge_in_ms": {"p50": percentile(barge, 50), "p95": percentile(barge, 95)},
        "self_interruptions": int(self_interruptions),
        "missed_barge_ins": missed,
        "lost_turns": lost,
        "barge_in_heard_ms": {"p50": percentile(heard, 50), "p95": percentile(heard, 95)},
        "trials": trials,
    }
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
