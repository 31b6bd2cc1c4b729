"""Live latency on the virtual audio rig (`make bench-realtime`): the real `parley chat` hears spoken
questions through a virtual microphone and answers on a virtual speaker that echoes back into the
microphone (about 10 dB down, 40 ms late), as laptop speakers do; with `echo_path=False` it does not, as
with headphones (echo cancellation stays on, as a user who never changed it would have it).

Prints {"response_ms": {"p50", "p95"}, "barge_in_ms": {"p50", "p95"}, "self_interruptions": N,
"missed_barge_ins": N, "trials": N}.
response_ms: last voiced sample of the question as the microphone delivered it → first reply sample handed
to the output device (the end-of-turn silence wait included), as Parley measures it per turn.
barge_in_ms: first microphone frame of the interrupting speech → the speaker's flush (plus one block).
Odd trials let the reply play out (a barge-in there is a self-interruption); even trials talk over it
(no barge-in within 30 s is a missed one).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

QUESTIONS = [
    "What is the capital of France?", "Tell me about the moon.", "What is the largest ocean?",
    "Tell me about cats.", "How many days are in a week?", "Tell me about the sun.",
    "What color is grass?", "Tell me about dogs.", "What is two plus two?", "Tell me about rain.",
]


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def main(trials: int = 20, progress: bool = True, echo_path: bool = True) -> dict:
    """Run the trials and return the result (printed by `parley bench realtime`)."""
    import assistant  # noqa: F401
    from piper import PiperVoice

    from assistant.models.store import ModelStore
    from rig import AudioRig
    from test_conversation_live import ChatProcess, _is

    voice = PiperVoice.load(ModelStore().get("piper-en_US-joe-medium").path / "voice.onnx")

    def say(text: str) -> np.ndarray:
        return np.concatenate([c.audio_float_array for c in voice.synthesize(text)])

    interruption = say("Wait, stop. Something else please.")
    response, barge, self_interruptions, missed = [], [], 0, 0
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
            if trial % 2 == 0:
                finished = chat.wait_for(_is("ReplyFinished"), timeout=180)
                timings = chat.wait_for(_is("TurnTimings"), timeout=30)["timings_ms"]
                self_interruptions += finished["interrupted"] or any(e["event"] == "BargeIn" for e in chat.seen)
            else:
                chat.wait_for(_is("StateChanged", state="speaking"), timeout=180)
                time.sleep(0.8)
                rig.play_into_mic(interruption, 22050, wait=False)
                try:
                    barge.append(chat.wait_for(_is("BargeIn"), timeout=30)["latency_ms"])
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
        "trials": trials,
    }
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
