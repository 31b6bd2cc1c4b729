"""One whole spoken turn (`parley reply`'s pipeline) with the default models, models preloaded.

Prints the median stage timings over a few turns, in ms from the start of the turn:
speech→text, first chat token, first audio sample from the voice, and the end.
"""

from __future__ import annotations

import json
import statistics

import assistant  # noqa: F401  (optimized BLAS before mlx)
import numpy as np

from assistant.audio_files import resample
from assistant.conversation.engines import Engines
from assistant.runtime.settings import Settings
from assistant.conversation.one_turn import reply_to_audio

QUESTIONS = [
    "What is the capital of France?",
    "How many days are there in a week?",
    "What color is the sky on a clear day?",
    "Can you tell me a fun fact about cats?",
    "What is the largest planet in our solar system?",
]


def main() -> dict:
    engines = Engines(Settings())
    engines.preload("en")
    voice = engines.synthesizer()
    runs = []
    for question in QUESTIONS:
        spoken = np.concatenate([c.audio for c in voice.synthesize(question)])
        audio = np.concatenate([np.zeros(8000, np.float32), resample(spoken, voice.sample_rate, 16000), np.zeros(8000, np.float32)])
        engines.chat.reset()
        result = reply_to_audio(engines, audio)
        runs.append({"question": question, "heard": result.transcript, "reply": result.reply, **result.timings_ms})
    engines.close()
    medians = {key: round(statistics.median(r[key] for r in runs), 1) for key in ("stt", "llm_first_token", "first_audio", "total")}
    print(json.dumps({"turn": {"median_ms": medians, "turns": runs}}, indent=2, ensure_ascii=False))
    return medians


if __name__ == "__main__":
    main()
