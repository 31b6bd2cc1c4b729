"""Live latency on the virtual audio rig (`make bench-realtime`): the real `parley chat` hears spoken
questions through a virtual microphone and answers on a virtual speaker that echoes back into the
microphone (about 10 dB down, 40 ms late), as laptop speakers do; with `echo_path=False` it does not, as
with headphones (echo cancellation stays on, as a user who never changed it would have it).

The same questions go, in one run, to Parley as it is (`parley chat`) and to the turn-taking before Smart Turn
(`parley chat --policy fixed`: a fixed 500 ms silence ends the turn, the voice waits for a whole first sentence).

Prints {"response_ms": {"p50", "p95"}, "baseline_response_ms": {"p50", "p95"}, "floor_ms": {"p50"},
"stages_ms": {...}, "barge_in_ms": {"p50", "p95"}, "self_interruptions": N, "missed_barge_ins": N, "lost_turns": N,
"barge_in_heard_ms": {"p50", "p95"}, "false_cutoffs": N, "baseline_false_cutoffs": N, "pausing_questions": N,
"trials": N}; the figures without "baseline" are Parley's own.
response_ms: last voiced sample of the question as the microphone delivered it → first reply sample handed
to the output device (the end-of-turn wait included), as Parley measures it per turn.
floor_ms: per turn, what no turn-taking can save: the transcription of that utterance + the chat model's time to
the voice's first chunk of text + the voice's time to its audio. stages_ms: the medians of those stages and of the
end-of-turn wait (`turn_end`) and the transcript's readiness (`transcript`), after the end of speech.
false_cutoffs: pausing questions (a pause of 0.4-1.5 s mid-sentence, some with "um") answered before they were
finished.
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

# Questions with a pause: (the words before it, the words after it, the pause in seconds).
PAUSING = [
    ("What's the weather like in", "Paris tomorrow?", 0.6),
    ("Tell me about", "the history of Rome.", 1.0),
    ("What is the, um,", "largest planet?", 1.2),
    ("Can you tell me, um,", "how far away the moon is?", 1.5),
    ("How many", "legs does a spider have?", 0.8),
    ("I was wondering", "if you could name a famous painter.", 0.4),
]


def paused_question(say, before: str, after: str, pause_s: float, rate: int = 22050) -> np.ndarray:
    """The whole question spoken in one go, with `pause_s` of silence inserted where the words `before` end: the
    words before the pause keep the intonation of a sentence that goes on. Where they end is estimated from the
    share of the voice's sounds (`say.sounds`) they take, then put at the quietest 10 ms within 100 ms of that."""
    whole = say(f"{before} {after}")
    voiced = np.nonzero(np.abs(whole) > 0.01)[0]
    first, last = int(voiced[0]), int(voiced[-1])
    estimate = first + int((last - first) * say.sounds(before) / say.sounds(f"{before} {after}"))
    window = rate // 100
    reach = 10 * window
    candidates = range(max(window, estimate - reach), min(len(whole) - window, estimate + reach), window // 4)
    cut = min(candidates, key=lambda at: float(np.abs(whole[at - window // 2: at + window // 2]).mean()))
    return np.concatenate([whole[:cut], np.zeros(int(pause_s * rate), np.float32), whole[cut:]])


def _floor(timings: dict) -> float | None:
    parts = [timings.get(key) for key in ("stt_compute", "first_chunk_text", "first_voice")]
    return None if None in parts else sum(parts)


def _run_policy(rig, say, policy: str, trials: int, interruption, progress: bool) -> dict:
    """One `parley chat` with turn-taking `policy`: the trials, then the pausing questions."""
    from rig.pulse import SINK_RATE
    from test_conversation_live import ChatProcess, _is

    from assistant.audio_files import resample

    interruption_as_recorded = resample(interruption, 22050, SINK_RATE)
    found = {"response": [], "floor": [], "barge": [], "heard": [], "self_interruptions": 0, "missed": 0, "lost": 0,
             "false_cutoffs": 0, "stages": {}}
    chat = ChatProcess(rig, *([] if policy == "default" else ["--policy", policy]))
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
            found["lost"] += 1
            print(f"{policy} {trial + 1}/{trials}: {question!r} got no reply within {LOST_TURN_S} s", file=sys.stderr)
            continue
        if trial % 2 == 0:
            finished = first if first["event"] == "ReplyFinished" else chat.wait_for(_is("ReplyFinished"), timeout=180)
            timings = chat.wait_for(_is("TurnTimings"), timeout=30)["timings_ms"]
            found["self_interruptions"] += finished["interrupted"] or any(e["event"] == "BargeIn" for e in chat.seen)
        else:
            try:
                with rig.microphone_recorder() as microphone, rig.speaker_recorder() as speaker:
                    time.sleep(0.8)
                    rig.play_into_mic(interruption, 22050, wait=False)
                    found["barge"].append(chat.wait_for(_is("BargeIn"), timeout=30)["latency_ms"])
                    time.sleep(0.8)
                outside = heard_barge_in_ms(microphone, speaker, interruption_as_recorded)
                if outside is not None:
                    found["heard"].append(outside)
            except AssertionError:  # not heard: the reply plays out
                found["missed"] += 1
                chat.seen_or_wait(_is("ReplyFinished"), timeout=180)
                timings = chat.seen_or_wait(_is("TurnTimings"), timeout=30)["timings_ms"]
            else:
                timings = chat.wait_for(_is("TurnTimings"), timeout=30)["timings_ms"]
                chat.wait_for(_is("ReplyFinished"), timeout=180)  # the answer to the interruption
                chat.wait_for(_is("TurnTimings"), timeout=30)
        if "first_audio" in timings:
            found["response"].append(timings["first_audio"])
        if _floor(timings) is not None:
            found["floor"].append(_floor(timings))
        for stage, ms in timings.items():
            found["stages"].setdefault(stage, []).append(ms)
        if progress:
            print(f"{policy} {trial + 1}/{trials}: {question!r} {timings}", file=sys.stderr, flush=True)
        time.sleep(1.0)
    for before, after, pause_s in PAUSING:
        chat.seen.clear()
        rig.play_into_mic(paused_question(say, before, after, pause_s), 22050)
        finished_speaking = time.monotonic()
        try:
            chat.wait_for(_is("ReplyFinished"), timeout=LOST_TURN_S)
            while True:  # a cut-off question gets more than one reply: wait until all is quiet
                chat.wait_for(lambda e: True, timeout=4)
        except AssertionError:
            pass
        heard = [e for e in chat.seen if e["event"] == "UserSaid"]
        cut_off = any(e["t"] < finished_speaking for e in heard)
        found["false_cutoffs"] += cut_off
        if progress:
            print(f"{policy} pausing {before!r} ({pause_s} s) {after!r}: heard {[e['text'] for e in heard]}"
                  f"{' CUT OFF' if cut_off else ''}", file=sys.stderr, flush=True)
        time.sleep(1.0)
    chat.stop()
    return found


def main(trials: int = 20, progress: bool = True, echo_path: bool = True) -> dict:
    """Run the trials with each policy and return the result (printed by `parley bench realtime`)."""
    say = piper_say()
    from rig import AudioRig

    interruption = say("Wait, stop. Something else please.")
    rig = AudioRig().start()
    try:
        if echo_path:
            rig.enable_echo(latency_ms=40, volume_db=-10)
        ours = _run_policy(rig, say, "default", trials, interruption, progress)
        baseline = _run_policy(rig, say, "fixed", trials, interruption, progress)
    finally:
        rig.stop()
    return {
        "response_ms": {"p50": percentile(ours["response"], 50), "p95": percentile(ours["response"], 95)},
        "baseline_response_ms": {"p50": percentile(baseline["response"], 50),
                                 "p95": percentile(baseline["response"], 95)},
        "floor_ms": {"p50": percentile(ours["floor"], 50)},
        "stages_ms": {stage: percentile(values, 50) for stage, values in sorted(ours["stages"].items())},
        "baseline_stages_ms": {stage: percentile(values, 50) for stage, values in sorted(baseline["stages"].items())},
        "barge_in_ms": {"p50": percentile(ours["barge"], 50), "p95": percentile(ours["barge"], 95)},
        "self_interruptions": int(ours["self_interruptions"]),
        "missed_barge_ins": ours["missed"],
        "lost_turns": ours["lost"],
        "barge_in_heard_ms": {"p50": percentile(ours["heard"], 50), "p95": percentile(ours["heard"], 95)},
        "false_cutoffs": ours["false_cutoffs"],
        "baseline_false_cutoffs": baseline["false_cutoffs"],
        "pausing_questions": len(PAUSING),
        "baseline": {key: baseline[key] for key in ("self_interruptions", "missed", "lost")},
        "trials": trials,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
