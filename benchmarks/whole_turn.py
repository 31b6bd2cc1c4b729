"""`parley reply`'s first audio against a seed-style stack built from the same parts, on the same recordings, in one
run: `python -m benchmarks.whole_turn`.

The seed-style stack is what a few dozen lines get from the same libraries and models: faster-whisper (int8, the
same tiny.en weights, its own `transcribe` with greedy decoding) on the whole recording, then the same llama.cpp
chat model with its system prompt already in the cache, then the same Piper voice on the reply's first sentence.
Parley's turn is `reply_to_audio` (`parley reply`'s pipeline: VAD trim, its own short-audio Whisper pass, the
voice fed the first clause). Both are timed from the
start of the turn to the first sample of audio. llama.cpp's one slot keeps the last prompt's cache whatever the
history says, so before each turn it is given an unrelated prompt to hold instead: Parley starts as `parley reply`
does in a fresh process (its system prompt's cache restored from the file an earlier start saved), and the seed
gets its system prompt read in before its turn starts. A third turn per recording is Parley with no saved cache
(it reads its system prompt in during the turn, as it did before the caches were saved).
Prints the medians and the ratios.
"""

from __future__ import annotations

import json
import re
import statistics
import time

import assistant  # noqa: F401  (optimized BLAS before mlx)
import numpy as np

from assistant.audio_files import resample
from assistant.conversation.engines import Engines
from assistant.conversation.one_turn import reply_to_audio
from assistant.models.files import CT2_FOLDER
from assistant.runtime.settings import Settings
from benchmarks.turn import QUESTIONS

_SENTENCE_END = re.compile(r"[.!?](\s|$)")


def _seed_turn(whisper, chat, voice, audio: np.ndarray) -> dict:
    """The seed-style turn: transcribe all, generate until the first sentence, voice it. Timings in ms."""
    started = time.perf_counter()

    def now() -> float:
        return round(1000 * (time.perf_counter() - started), 1)

    segments, _ = whisper.transcribe(audio, language="en", beam_size=1, without_timestamps=True,
                                     condition_on_previous_text=False)
    text = " ".join(segment.text.strip() for segment in segments).strip()
    timings = {"stt": now()}
    written = ""
    for delta in chat.reply(text, None):
        timings.setdefault("llm_first_token", now())
        written += delta
        if _SENTENCE_END.search(written):
            break
    chat.cancel()
    sentence = written[: _SENTENCE_END.search(written).end()] if _SENTENCE_END.search(written) else written
    next(iter(voice.synthesize(sentence.strip())))
    timings["first_audio"] = now()
    return {"heard": text, **timings}


def _forget_cache(chat, saved: bool = True) -> None:
    """llama.cpp's slot made to hold an unrelated prompt (the chat engine's own thread and server), as in a new
    process: which restores its system prompt's saved cache at its first prompt if `saved`, else reads it in."""
    chat._jobs.submit(lambda: chat._server.handle_completions({"prompt": "Cold.", "n_predict": 0})).result()
    chat.slot_primed = not saved


def main() -> dict:
    from faster_whisper import WhisperModel

    from assistant.transcribe.ct2_engine import cpu_threads

    engines = Engines(Settings())
    engines.preload("en")
    voice = engines.synthesizer()
    whisper = WhisperModel(str(engines.store.get(engines.settings.models.stt).path / CT2_FOLDER), device="cpu",
                           compute_type="int8", cpu_threads=cpu_threads())
    recordings = []
    for question in QUESTIONS:
        spoken = np.concatenate([c.audio for c in voice.synthesize(question)])
        silence = np.zeros(8000, np.float32)
        recordings.append((question, np.concatenate([silence, resample(spoken, voice.sample_rate, 16000), silence])))
    seed, parley, unsaved = [], [], []
    for question, audio in recordings:
        engines.chat.reset()
        _forget_cache(engines.chat)
        engines.chat.prefill(None, "en").result()  # the seed keeps its system prompt cached
        seed.append({"question": question, **_seed_turn(whisper, engines.chat, voice, audio)})
        engines.chat.reset()
        _forget_cache(engines.chat)
        result = reply_to_audio(engines, audio)
        parley.append({"question": question, "heard": result.transcript, **result.timings_ms})
        engines.chat.reset()
        _forget_cache(engines.chat, saved=False)
        result = reply_to_audio(engines, audio)
        unsaved.append({"question": question, "heard": result.transcript, **result.timings_ms})
    engines.close()

    def medians(runs: list[dict]) -> dict:
        return {key: round(statistics.median(r[key] for r in runs), 1) for key in ("stt", "llm_first_token", "first_audio")}

    def ratio(runs: list[dict]) -> float:
        return round(medians(runs)["first_audio"] / medians(seed)["first_audio"], 2)

    result = {"parley_reply_ms": medians(parley), "seed_stack_ms": medians(seed),
              "parley_reply_unsaved_prompt_ms": medians(unsaved),
              "first_audio_ratio": ratio(parley), "first_audio_ratio_unsaved_prompt": ratio(unsaved),
              "turns": {"parley": parley, "seed": seed, "parley_unsaved_prompt": unsaved}}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
