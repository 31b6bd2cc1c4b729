"""Speech to text on the CPU, engine against engine on the same utterances in one run.

Engines, each as Parley would run it on short questions:
- `mlx`: Parley's Transcriber on MLX (float32, OpenBLAS), its short-context pass (today's CPU path before ct2);
- `ct2`: Parley's Transcriber on faster-whisper (CTranslate2 int8), the same short-context policy;
- `ct2-float32`: the same unquantized (not by default: it tells int8's cost in WER apart from the engine's);
- `whisper.cpp`: pywhispercpp (not a Parley dependency: `pip install pywhispercpp`, else skipped) on ggml
  weights written from the same store folder (benchmarks/ggml_whisper.py), greedy, with the audio context
  sized as Parley sizes it and Parley's repetition and invention guards applied to its text.

Utterances: the repository's recording (tests/data, "Tell me about dogs." as the rig's microphone heard it) and
SENTENCES said by the Piper voice of the store (en_US joe), clean and with white noise at 15 dB SNR, each with
0.3 s of silence around it as the VAD leaves it. Piper samples its voice at random (no two renderings are the
same), so the renderings are kept in Parley's cache folder (`bench-stt/`) and reused by later runs. Engines take turns utterance by utterance, so a machine busy
with other work slows all of them alike. Figures per engine and model: median and p90 time per utterance,
real-time factor (processing time / audio time, all utterances), word error rate (lower-case words, punctuation
dropped), and for whisper-base (language detected) how often the language was English.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

# whisper.cpp's OpenMP threads spin while they wait: on this shared 2-core machine 2 threads took 6.7 s for a
# 3 s sentence instead of 0.38 s. Set before any OpenMP runtime loads (CTranslate2 ships the same one).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import assistant  # noqa: E402,F401  (optimized BLAS before mlx)
import numpy as np  # noqa: E402

from assistant.audio_files import read_audio, resample, write_wav  # noqa: E402
from assistant.runtime.mlx_worker import MlxWorker  # noqa: E402
from assistant.models.store import ModelStore  # noqa: E402
from assistant.runtime.paths import cache_dir  # noqa: E402
from assistant.transcribe.guards import is_invented, said_once, sound_seconds  # noqa: E402
from assistant.transcribe.transcriber import (  # noqa: E402
    MIN_CONTEXT_S, PADDING_S, TOKEN_MARGIN, TOKENS_PER_S, Transcriber,
)
from assistant.transcribe.ct2_engine import Ct2Whisper  # noqa: E402

RECORDING = Path(__file__).resolve().parent.parent / "tests" / "data" / "question-whisper-repeats.wav"
RECORDING_TEXT = "Tell me about dogs."
SENTENCES = [
    "What is the capital of France?",
    "Turn off the lights in the kitchen.",
    "How do I make a cup of green tea?",
    "What's the weather going to be like this afternoon?",
    "Remind me to buy milk on the way home.",
    "Who wrote the novel Pride and Prejudice?",
    "Play some quiet music while I read.",
    "Why is the sky blue?",
    "Can you explain how a rainbow forms?",
    "What time does the sun set today?",
    "Tell me a joke about penguins.",
    "How long should I boil an egg?",
    "Translate good morning into Spanish.",
    "What is the difference between a frog and a toad?",
    "Add tomatoes and bread to my shopping list.",
    "How far is it from London to Paris?",
    "Stop.",
    "Thank you, that was very helpful.",
    "What should I cook for dinner tonight?",
    "Is it going to rain tomorrow morning?",
    "Set an alarm for seven in the morning.",
    "Who painted the Mona Lisa?",
    "How do plants turn sunlight into food?",
    "Read me the news headlines.",
    "What is the tallest mountain in the world?",
    "Can you recommend a good book about history?",
    "How many legs does a spider have?",
    "Call my mother when I get home.",
    "What does the word serendipity mean?",
    "Give me a recipe for pancakes.",
    "Why do cats purr?",
    "Where is the nearest train station?",
    "Pause the music, please.",
    "What is the boiling point of water?",
    "Tell me something interesting about octopuses.",
    "How do I say thank you in Japanese?",
    "What year did the first person walk on the moon?",
    "Is a tomato a fruit or a vegetable?",
    "Help me write a short poem about the sea.",
    "Goodbye, talk to you later.",
]
MODELS = ("whisper-tiny.en", "whisper-base")
ENGINES = ("mlx", "ct2", "whisper.cpp")
EXTRA_ENGINES = ("ct2-float32",)
NOISE_SNR_DB = 15


_NUMBERS = {word: str(i) for i, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, small numbers as digits (Whisper writes "7" for "seven")."""
    return [_NUMBERS.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions): WER's numerator.
    Written here rather than adding a package for fifteen lines."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


def _rendering(voice, text: str, folder: Path) -> np.ndarray:
    """The sentence said by the voice at 16 kHz, from the cache folder or rendered into it."""
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.wav"
    if not path.is_file():
        chunks = list(voice.synthesize(text))
        speech = resample(np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate, 16000)
        write_wav(path, speech, 16000)
    return read_audio(path)


def utterances(store: ModelStore, count: int) -> list[tuple[str, str, np.ndarray]]:
    """(name, reference text, 16 kHz audio): the recording, then each sentence clean and noisy."""
    from piper import PiperVoice

    voice = PiperVoice.load(store.get("piper-en_US-joe-medium").path / "voice.onnx")
    folder = cache_dir() / "bench-stt"
    rng = np.random.default_rng(0)
    gap = np.zeros(4800, np.float32)
    said = [("recording", RECORDING_TEXT, read_audio(RECORDING))]
    for i, text in enumerate(SENTENCES[:count]):
        speech = _rendering(voice, text, folder)
        clean = np.concatenate([gap, speech, gap]).astype(np.float32)
        noise = rng.normal(0, np.sqrt(np.mean(speech ** 2) / 10 ** (NOISE_SNR_DB / 10)), len(clean))
        said += [(f"s{i}-clean", text, clean), (f"s{i}-noisy", text, (clean + noise).astype(np.float32))]
    return said


def store_folder(store: ModelStore, model_id: str, scratch: Path) -> Path:
    """The installed folder, or (installed before the importer kept ct2/) a fresh import of its pack."""
    folder = store.get(model_id).path
    if (folder / "ct2" / "model.bin").is_file():
        return folder
    from assistant.models.catalog import load_catalog
    from assistant.models.importers.whisper_ct2 import convert_ct2_whisper
    from assistant.models.packs import pack_source_path

    print(f"# {model_id} was installed without ct2/; importing its pack into {scratch}", file=sys.stderr)
    fresh = scratch / model_id
    fresh.mkdir()
    convert_ct2_whisper(pack_source_path(load_catalog()[model_id]), fresh)
    return fresh


class WhisperCpp:
    """whisper.cpp through pywhispercpp, sized and guarded as Parley's short pass."""

    def __init__(self, folder: Path, scratch: Path, multilingual: bool) -> None:
        from pywhispercpp.model import Model

        from benchmarks.ggml_whisper import convert_to_ggml

        ggml = convert_to_ggml(folder, scratch / f"ggml-{folder.name}.bin")
        self.multilingual = multilingual
        self.model = Model(str(ggml), redirect_whispercpp_logs_to=None, n_threads=os.cpu_count() or 1,
                           print_progress=False, print_realtime=False, no_timestamps=True, single_segment=True)

    def transcribe(self, audio: np.ndarray, language: str | None) -> tuple[str, str]:
        import _pywhispercpp as pw

        seconds = len(audio) / 16000
        context = min(30, max(MIN_CONTEXT_S, math.ceil(seconds + PADDING_S)))
        segments = self.model.transcribe(audio, audio_ctx=context * 50, language=language or "auto",
                                         max_tokens=int(TOKENS_PER_S * seconds) + TOKEN_MARGIN)
        text = said_once("".join(s.text for s in segments).strip(), sound_seconds(audio))
        detected = pw.whisper_lang_str(pw.whisper_full_lang_id(self.model._ctx)) if self.multilingual else "en"
        return ("" if is_invented(text, 0.0) else text), detected


def figures(runs: list[dict], audio_seconds: float) -> dict:
    times = sorted(r["ms"] for r in runs)
    errors = sum(edit_distance(words(r["ref"]), words(r["heard"])) for r in runs)
    return {
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1),
        "real_time_factor": round(sum(times) / 1000 / audio_seconds, 4),
        "wer_percent": round(100 * errors / sum(len(words(r["ref"])) for r in runs), 2),
        "english_detected": sum(r["language"] == "en" for r in runs),
        "misheard": [{"said": r["ref"], "heard": r["heard"], "utterance": r["name"]}
                     for r in runs if words(r["ref"]) != words(r["heard"])],
    }


def measure(model_id: str, folder: Path, engines: list[str], said: list, worker: MlxWorker, scratch: Path) -> dict:
    multilingual = model_id != "whisper-tiny.en"
    language = None if multilingual else "en"  # whisper-base detects it, as with Parley's "Auto"
    runners = {}
    for name in engines:
        if name == "whisper.cpp":
            try:
                cpp = WhisperCpp(folder, scratch, multilingual)
            except ImportError:
                print("# whisper.cpp skipped: pywhispercpp is not installed", file=sys.stderr)
                continue
            runners[name] = cpp.transcribe
        else:
            engine = Ct2Whisper(folder / "ct2", compute_type="float32") if name == "ct2-float32" else name
            transcriber = Transcriber(worker, folder, model_id, ("multi",) if multilingual else ("en",), engine=engine)
            transcriber.load()
            runners[name] = lambda audio, lang, t=transcriber: (lambda r: (r.text, r.language))(t.transcribe(audio, lang))
        runners[name](said[1][2], language)  # warm-up: first passes over a new shape cost more
    runs: dict[str, list] = {name: [] for name in runners}
    for name_u, ref, audio in said:
        for engine, run in runners.items():
            started = time.perf_counter()
            heard, detected = run(audio, language)
            runs[engine].append({"name": name_u, "ref": ref, "heard": heard, "language": detected,
                                 "ms": 1000 * (time.perf_counter() - started)})
    audio_seconds = sum(len(a) for _, _, a in said) / 16000
    result = {engine: figures(r, audio_seconds) for engine, r in runs.items()}
    if "mlx" in result:
        for engine in result:
            result[engine]["time_vs_mlx"] = round(result[engine]["median_ms"] / result["mlx"]["median_ms"], 3)
            # Paired by utterance: how many this engine heard better or worse than MLX (fewer or more word errors).
            errors = [(edit_distance(words(a["ref"]), words(a["heard"])), edit_distance(words(b["ref"]), words(b["heard"])))
                      for a, b in zip(runs[engine], runs["mlx"])]
            result[engine]["utterances_better_worse_than_mlx"] = [sum(e < m for e, m in errors), sum(e > m for e, m in errors)]
    return result


def main(models: tuple[str, ...] = MODELS, engines: tuple[str, ...] = ENGINES, sentences: int = len(SENTENCES)) -> dict:
    store = ModelStore()
    said = utterances(store, sentences)
    worker = MlxWorker()
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory(prefix="parley-stt-bench-") as scratch:
            per_model = {m: measure(m, store_folder(store, m, Path(scratch)), list(engines), said, worker, Path(scratch))
                         for m in models}
    finally:
        worker.close()
    result = {
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "utterances": len(said),
        "audio_seconds": round(sum(len(a) for _, _, a in said) / 16000, 1),
        **per_model,
    }
    print(json.dumps({"stt": result}, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES + EXTRA_ENGINES)
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help="how many of the sentences to say")
    args = parser.parse_args()
    main(tuple(args.models), tuple(args.engines), args.sentences)
