"""Speed of the default models on this machine: Whisper transcription and chat-model generation.

Figures, not assertions. Whisper is timed on a Piper-spoken sentence (real speech, ~3 s) with the
weights as stored (float16) and cast to float32 (on a CPU only float32 reaches the BLAS).
"""

from __future__ import annotations

import json
import time

import assistant  # noqa: F401  (optimized BLAS before mlx)
import mlx.core as mx
import numpy as np

from assistant.models.store import ModelStore

SENTENCE = "Could you tell me what the weather will be like in Paris tomorrow morning?"
QUESTION = "What is the capital of France?"


def spoken_sentence(store: ModelStore) -> np.ndarray:
    from piper import PiperVoice
    from scipy.signal import resample_poly

    voice = PiperVoice.load(store.get("piper-en_US-joe-medium").path / "voice.onnx")
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(SENTENCE)])
    return resample_poly(audio, 320, 441).astype(np.float32)


def whisper_figures(store: ModelStore, model_id: str, audio: np.ndarray) -> dict:
    from mlx.utils import tree_map
    from mlx_whisper import transcribe
    from mlx_whisper.load_models import load_model
    from mlx_whisper.transcribe import ModelHolder

    figures = {}
    path = str(store.get(model_id).path)
    for label, dtype in (("float16_weights", mx.float16), ("float32_weights", mx.float32)):
        model = load_model(path, dtype=mx.float32)
        model.update(tree_map(lambda p: p.astype(dtype) if mx.issubdtype(p.dtype, mx.floating) else p, model.parameters()))
        ModelHolder.model, ModelHolder.model_path = model, path  # transcribe() reuses the held model
        transcribe(audio, path_or_hf_repo=path, fp16=False, language="en")  # warm-up
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            text = transcribe(audio, path_or_hf_repo=path, fp16=False, language="en", temperature=0.0)["text"]
            runs.append(time.perf_counter() - start)
        seconds = sorted(runs)[1]
        figures[label] = {"seconds": round(seconds, 3), "real_time_factor": round(seconds / (len(audio) / 16000), 3),
                          "text": text.strip()}
    return figures


def chat_figures(store: ModelStore, model_id: str) -> dict:
    from mlx_lm import load, stream_generate
    from mlx_lm.sample_utils import make_sampler
    from mlx_lm.utils import dequantize_model

    # Only the float32 form: on a 2-core CPU the stored 4-bit form took minutes for one token.
    figures = {}
    for label in ("dequantized_float32",):
        model, tokenizer = load(str(store.get(model_id).path))
        model = dequantize_model(model)
        model.set_dtype(mx.float32)
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True)
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            first = None
            text = ""
            count = 0
            for response in stream_generate(model, tokenizer, prompt, max_tokens=48, sampler=make_sampler(0.0)):
                first = first or time.perf_counter() - start
                text += response.text
                count += 1
            runs.append((first, count / (time.perf_counter() - start - first) if count > 1 else 0.0, text))
        first, rate, text = runs[-1]
        figures[label] = {"first_token_s": round(first, 3), "tokens_per_s": round(rate, 1), "text": text.strip()}
    return figures


def main() -> dict:
    store = ModelStore()
    audio = spoken_sentence(store)
    result = {
        "audio_seconds": round(len(audio) / 16000, 2),
        "whisper-tiny.en": whisper_figures(store, "whisper-tiny.en", audio),
        "whisper-base": whisper_figures(store, "whisper-base", audio),
        "smollm2-135m-instruct": chat_figures(store, "smollm2-135m-instruct"),
    }
    print(json.dumps({"models": result}, indent=2))
    return result


if __name__ == "__main__":
    main()
