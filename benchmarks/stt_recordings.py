"""Speech to text on real recordings, engine against engine (MLX and faster-whisper) in one run.

The recordings of tests/data/speech/{en,ko,zh} (real speakers with reference transcripts; sources and licences in
each folder's SOURCES.md), transcribed by Parley's Transcriber as a turn is, the language given:
- `en`: each English recording as it is, and again with a second of silence before and after it (a turn's audio
  carries the silence up to the end of the turn: on LJ001-0006 so padded, both engines once said the sentence
  twice); word error rate after Whisper's English normalizer (numbers, spellings, punctuation);
- `en-long`: the LJ Speech recordings one after another, half a second apart (58 s: over 30 s windows);
- `ko`, `zh` (whisper-base only): character error rate (`benchmarks.languages.characters`).
Engines take turns utterance by utterance, so a machine busy with other work slows both alike. Figures per model,
set and engine: the error rate, median time per utterance, and the transcripts that differ from the reference.

`python -m benchmarks.stt_recordings [--models …] [--engines …]` prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import assistant  # noqa: F401  (optimized BLAS before mlx)
import numpy as np

from assistant.audio_files import read_audio
from assistant.models.store import ModelStore
from assistant.runtime.mlx_worker import MlxWorker
from assistant.transcribe.transcriber import Transcriber
from benchmarks.languages import characters
from benchmarks.stt import edit_distance

RECORDINGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech"
MODELS = ("whisper-tiny.en", "whisper-base")
ENGINES = ("mlx", "ct2")
PAD_S = 1.0
LONG_GAP_S = 0.5


def recordings(language: str) -> list[tuple[str, str, np.ndarray]]:
    """(name, reference, 16 kHz audio) of each recording in tests/data/speech/`language`."""
    folder = RECORDINGS / language
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".flac"))
    return [(p.stem, p.with_suffix(".txt").read_text(encoding="utf-8-sig").strip(), read_audio(p)) for p in paths]


def utterance_sets(model_id: str) -> dict[str, tuple[str, list[tuple[str, str, np.ndarray]]]]:
    """Set name → (language, utterances) for the model (see the module's docstring)."""
    english = recordings("en")
    pad = np.zeros(int(PAD_S * 16000), np.float32)
    gap = np.zeros(int(LONG_GAP_S * 16000), np.float32)
    lj = [u for u in english if u[0].startswith("LJ")]
    long = np.concatenate([part for _, _, audio in lj for part in (audio, gap)])
    sets = {
        "en": ("en", english),
        "en-padded": ("en", [(name, ref, np.concatenate([pad, audio, pad])) for name, ref, audio in english]),
        "en-long": ("en", [("LJ001-0001…0008", " ".join(ref for _, ref, _ in lj), long)]),
    }
    if model_id != "whisper-tiny.en":
        sets |= {"ko": ("ko", recordings("ko")), "zh": ("zh", recordings("zh"))}
    return sets


def _english_words():
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    normalize = EnglishTextNormalizer({})  # (no British-to-American spellings: the references are American)
    return lambda text: normalize(text).split()


def measure(model_id: str, engines: list[str], worker: MlxWorker) -> dict:
    model = ModelStore().get(model_id)
    english_words = _english_words()
    transcribers = {}
    for engine in engines:
        transcribers[engine] = Transcriber(worker, model.path, model.id, model.languages, engine=engine)
        transcribers[engine].load()
        transcribers[engine].transcribe(recordings("en")[0][2], "en")  # warm-up: first passes cost more
    result = {}
    for set_name, (language, said) in utterance_sets(model_id).items():
        split = english_words if language == "en" else characters
        runs: dict[str, list] = {engine: [] for engine in engines}
        for name, reference, audio in said:
            for engine, transcriber in transcribers.items():
                started = time.perf_counter()
                heard = transcriber.transcribe(audio, language).text
                runs[engine].append((name, reference, heard, 1000 * (time.perf_counter() - started)))
        result[set_name] = {engine: {
            ("wer_percent" if language == "en" else "cer_percent"): round(
                100 * sum(edit_distance(split(ref), split(heard)) for _, ref, heard, _ in r)
                / sum(len(split(ref)) for _, ref, _, _ in r), 2),
            "median_ms": round(statistics.median(ms for *_, ms in r), 1),
            "utterances": len(r),
            "misheard": {name: heard for name, ref, heard, _ in r if split(ref) != split(heard)},
        } for engine, r in runs.items()}
    return result


def main(models: tuple[str, ...] = MODELS, engines: tuple[str, ...] = ENGINES) -> dict:
    worker = MlxWorker()
    load_before = os.getloadavg()
    try:
        per_model = {model_id: measure(model_id, list(engines), worker) for model_id in models}
    finally:
        worker.close()
    result = {"machine": f"{platform.platform()}, {os.cpu_count()} cores",
              "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)], **per_model}
    print(json.dumps({"stt_recordings": result}, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    args = parser.parse_args()
    main(tuple(args.models), tuple(args.engines))
