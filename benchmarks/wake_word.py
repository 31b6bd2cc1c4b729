"""The wake word, measured: false accepts per hour on audio that never says the phrase, and the share of phrases heard.

- False accepts: `--hours` of speech that never says the phrase (English read by espeak-ng's voices, varied by accent,
  voice and pace, with pauses, and a sentence in twenty (`--piper-share`) by the Piper voice: the model hardly
  reacts to espeak-ng's formant voices, even saying the phrase, so the Piper share is what tests it), the same length of music-like sound
  (chords, beats, noise) and of TV-like sound (that speech over the music). The detector hears it as the listening
  thread feeds it, 32 ms at a time, at the default sensitivity.
- Phrases heard: "Hey Jarvis" (alone and before a question) said by the Piper voice (several renderings: Piper varies
  each one) at three paces and four levels, by espeak-ng's voices, and with white noise, other speech or music
  under it at 20, 10 and 5 dB signal-to-noise.

No recordings of people saying the phrase were reachable here: every voice is synthetic (so are those the model was
trained on), which flatters the phrases heard; the text read for false accepts is Python's own documentation.

`python -m benchmarks.wake_word [--hours H] [--phrase hey_jarvis]` prints {"wake_word": {...}} on one line.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import re
import subprocess
import sys
import time

import assistant  # noqa: F401  (optimized BLAS before anything loads)
import numpy as np

from assistant.audio_files import resample
from assistant.conversation.engines import Engines
from assistant.models.store import ModelStore
from assistant.runtime.settings import Settings
from assistant.speak.system_voice import _wav_from_stream

RATE = 16000
FRAME = 512
ESPEAK_VOICES = ["en-us", "en-gb", "en-029", "en-gb-scotland", "en-us-nyc", "en-gb-x-rp"]
VARIANTS = ["", "+m1", "+m3", "+m5", "+f2", "+f4"]
PHRASE_TEXTS = {"hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft", "alexa": "Alexa", "okay_nabu": "Okay Nabu"}
QUESTIONS = ["what's the weather like?", "set a timer for ten minutes.", "what time is it?", "play some music."]


def espeak(text: str, voice: str, wpm: int) -> np.ndarray:
    result = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout"], input=text.encode(),
                            capture_output=True, timeout=120, check=True)
    audio, rate = _wav_from_stream(result.stdout)
    return resample(audio, rate, RATE)


def sentences(phrase: str) -> list[str]:
    """Sentences of Python's own documentation (the standard library's docstrings), without the phrase's words."""
    import email, http.client, json as json_module, logging, pathlib, statistics, string, textwrap, threading  # noqa: E401
    import collections, datetime, decimal, fractions, functools, itertools, os, random as random_module  # noqa: E401

    modules = [email, http.client, json_module, logging, pathlib, statistics, string, textwrap, threading, collections,
               datetime, decimal, fractions, functools, itertools, os, random_module, inspect, argparse, subprocess]
    text = []
    for module in modules:
        for _, member in inspect.getmembers(module):
            doc = inspect.getdoc(member) if callable(member) or inspect.ismodule(member) else None
            if doc:
                text.append(doc)
    found = {s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(" ".join(text).split()))}
    banned = set(PHRASE_TEXTS[phrase].lower().split()) - {"hey", "okay"}
    return sorted(s for s in found if 20 <= len(s) <= 240 and not banned & set(re.findall(r"[a-z]+", s.lower()))
                  and not re.search(r"[{}<>_=`|\\]", s))


def music(seconds: float, rng: random.Random) -> np.ndarray:
    """Music-like sound: chords of harmonics changing every beat, a kick and hi-hat pattern, some noise."""
    out = np.zeros(int(seconds * RATE), np.float32)
    beat = int(RATE * 60 / rng.choice([80, 96, 110, 124, 140]))
    t = np.arange(beat) / RATE
    for start in range(0, len(out) - beat, beat):
        root = 110 * 2 ** (rng.randrange(0, 24) / 12)
        chord = sum(np.sin(2 * np.pi * root * ratio * harmonic * t) / harmonic
                    for ratio in (1, 1.26, 1.5) for harmonic in (1, 2, 3))
        decay = np.exp(-t * rng.uniform(1.5, 6))
        kick = np.sin(2 * np.pi * 55 * t) * np.exp(-t * 25) * (rng.random() < 0.7)
        hat = np.random.default_rng(start).standard_normal(beat) * np.exp(-t * 60) * 0.3
        out[start:start + beat] = 0.08 * chord * decay + 0.4 * kick + 0.1 * hat
    noise = np.random.default_rng(rng.randrange(1 << 30)).standard_normal(len(out)).astype(np.float32)
    return out + 0.01 * noise


def speech(seconds: float, texts: list[str], rng: random.Random, say, piper_share: float = 0.05) -> np.ndarray:
    """Sentences read with pauses of 0.2-1.5 s, by espeak-ng's voices (varied) and, `piper_share` of them, by Piper."""
    pieces, total = [], 0
    while total < seconds * RATE:
        text = rng.choice(texts)
        if rng.random() < piper_share:
            audio = say(text)
        else:
            audio = espeak(text, rng.choice(ESPEAK_VOICES) + rng.choice(VARIANTS), rng.randrange(140, 210))
        audio = audio * rng.uniform(0.2, 1.0) / max(1e-3, float(np.abs(audio).max()))
        pieces += [audio.astype(np.float32), np.zeros(int(rng.uniform(0.2, 1.5) * RATE), np.float32)]
        total += len(pieces[-1]) + len(pieces[-2])
    return np.concatenate(pieces)[: int(seconds * RATE)]


def heard(detector, audio: np.ndarray) -> int:
    return sum(len(detector.push(audio[i:i + FRAME])) for i in range(0, len(audio), FRAME))


def false_accepts(make_detector, hours: float, say, phrase: str, seed: int = 7, piper_share: float = 0.05) -> dict:
    """Detections in `hours` each of speech, music and TV-like sound, made and heard ten minutes at a time."""
    rng = random.Random(seed)
    texts = sentences(phrase)
    counts = {"speech": 0, "music": 0, "tv": 0}
    detectors = {kind: make_detector() for kind in counts}
    block = 600.0
    done = 0.0
    started = time.perf_counter()
    while done < hours * 3600:
        seconds = min(block, hours * 3600 - done)
        talk, tune = speech(seconds, texts, rng, say, piper_share), music(seconds, rng)
        counts["speech"] += heard(detectors["speech"], talk)
        counts["music"] += heard(detectors["music"], tune)
        counts["tv"] += heard(detectors["tv"], np.clip(0.7 * talk + 0.5 * tune, -1, 1))
        done += seconds
        print(f"{done / 3600:.2f} h of each: {counts} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    total = sum(counts.values())
    return {"hours_each": hours, "piper_share": piper_share, "false_accepts": counts,
            "per_hour": round(total / (3 * hours), 3), "per_10_hours": round(10 * total / (3 * hours), 2)}


def phrases_heard(make_detector, say, say_at, phrase: str, seed: int = 11) -> dict:
    """The share of spoken phrases heard, by condition."""
    rng = random.Random(seed)
    words = PHRASE_TEXTS[phrase]
    babble = espeak(" ".join(sentences(phrase)[:12]), "en-gb+m3", 170)
    tune = music(30, rng)
    results: dict[str, list[bool]] = {}

    def trial(condition: str, audio: np.ndarray, noise: np.ndarray | None = None, snr_db: float = 0.0) -> None:
        audio = np.concatenate([np.zeros(RATE // 2, np.float32), audio, np.zeros(RATE, np.float32)])
        if noise is not None:
            start = rng.randrange(0, len(noise) - len(audio))
            under = noise[start:start + len(audio)]
            gain = np.sqrt(np.mean(audio ** 2) / max(1e-12, np.mean(under ** 2))) / 10 ** (snr_db / 20)
            audio = audio + gain * under
        results.setdefault(condition, []).append(heard(make_detector(), np.clip(audio, -1, 1).astype(np.float32)) == 1)

    for text in [f"{words}.", *(f"{words}, {q}" for q in QUESTIONS)]:
        for _ in range(2):
            trial("piper", say(text))
        for rate in (0.8, 1.25):
            trial(f"piper_pace_{rate}", say_at(text, rate))
        for voice in ESPEAK_VOICES[:3]:
            trial("espeak_ng_voices", espeak(text, voice + rng.choice(VARIANTS), 170))
    clear = [say(f"{words}, {q}") for q in QUESTIONS]
    for level in (0.03, 0.1, 0.3, 0.9):
        for audio in clear:
            trial(f"level_{level}", audio * level / float(np.abs(audio).max()))
    white = np.random.default_rng(seed).standard_normal(RATE * 30).astype(np.float32)
    for snr in (20, 10, 5):
        for name, noise in (("white_noise", white), ("speech", babble), ("music", tune)):
            for audio in clear:
                trial(f"{name}_{snr}dB", audio, noise, snr)
    every = [ok for outcomes in results.values() for ok in outcomes]
    return {"heard": round(sum(every) / len(every), 3), "phrases": len(every),
            "by_condition": {name: f"{sum(o)}/{len(o)}" for name, o in results.items()}}


def main(hours: float = 0.25, phrase: str = "hey_jarvis", piper_share: float = 0.05) -> dict:
    from assistant.speak.voice import Synthesizer, VoiceConfig

    engines = Engines(Settings(), ModelStore())
    voice = engines.synthesizer()

    def say_at(text: str, rate: float) -> np.ndarray:
        paced = Synthesizer(voice.voice_path, VoiceConfig(speaking_rate=rate), voice.voice_id)
        chunks = list(paced.synthesize(text))
        return resample(np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate, RATE)

    def say(text: str) -> np.ndarray:
        return say_at(text, 1.0)

    def make_detector():
        return engines.wake_word_detector(phrase, engines.settings.listening.wake_sensitivity)

    started = time.perf_counter()
    detector = make_detector()
    probe = music(60, random.Random(1))
    cpu = time.process_time()
    heard(detector, probe)
    cost = 100 * (time.process_time() - cpu) / 60
    result = {"phrase": phrase, "cpu_percent_of_a_core": round(cost, 3),
              "phrases_heard": phrases_heard(make_detector, say, say_at, phrase),
              "false_accepts": false_accepts(make_detector, hours, say, phrase, piper_share=piper_share)}
    result["seconds"] = round(time.perf_counter() - started)
    engines.close()
    print(json.dumps({"wake_word": result}))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=0.25, help="of each kind of audio for false accepts")
    parser.add_argument("--phrase", default="hey_jarvis", choices=sorted(PHRASE_TEXTS))
    parser.add_argument("--piper-share", type=float, default=0.05,
                        help="of the sentences read by the Piper voice (slower to make) rather than espeak-ng's")
    options = parser.parse_args()
    main(options.hours, options.phrase, options.piper_share)
