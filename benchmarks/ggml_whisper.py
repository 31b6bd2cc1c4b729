"""Write a Parley (mlx-whisper) Whisper store folder as a whisper.cpp ggml model, for benchmarks/stt.py.

whisper.cpp's own converters start from OpenAI's PyTorch checkpoint or a transformers folder, neither of
which the default pack has; the store's float16 weights are the same numbers under mlx-whisper's names, so
this writes the legacy ggml layout that whisper.cpp loads (as its models/convert-pt-to-ggml.py does):

    i32 magic "ggml", 11 i32 hyper-parameters (n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
    n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype),
    mel filters (i32 rows, i32 columns, f32 data), vocabulary (i32 count, then i32 length + bytes each),
    then per tensor: i32 n_dims, i32 name length, i32 type (0 f32, 1 f16), i32 dims (innermost first),
    the name, the data.

Benchmark-only: Parley itself never runs whisper.cpp.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np

_GGML_MAGIC = 0x67676D6C
# Kept float32, as whisper.cpp's converter does (its loader expects these types).
_FLOAT32_NAMES = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding"}


def _sinusoids(length: int, channels: int) -> np.ndarray:
    """Whisper's encoder positions (mlx-whisper recomputes them, so the store lacks them)."""
    increment = np.log(10000) / (channels // 2 - 1)
    inv = np.exp(-increment * np.arange(channels // 2))
    scaled = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1).astype(np.float32)


def _openai_name(name: str) -> str:
    return name.replace(".mlp1.", ".mlp.0.").replace(".mlp2.", ".mlp.2.")


def convert_to_ggml(store_folder: Path, out: Path) -> Path:
    """Write `out` (a ggml .bin) from the mlx-whisper weights in `store_folder`; returns `out`."""
    import mlx.core as mx
    import mlx_whisper

    assets = Path(mlx_whisper.__file__).parent / "assets"
    dims = json.loads((store_folder / "config.json").read_text())
    weights = {k: np.array(v.astype(mx.float32)) for k, v in mx.load(str(store_folder / "weights.safetensors")).items()}
    weights.pop("alignment_heads", None)
    weights["encoder.positional_embedding"] = _sinusoids(dims["n_audio_ctx"], dims["n_audio_state"])
    for conv in ("encoder.conv1", "encoder.conv2"):
        weights[f"{conv}.weight"] = weights[f"{conv}.weight"].transpose(0, 2, 1)  # MLX (out, k, in) → (out, in, k)
        weights[f"{conv}.bias"] = weights[f"{conv}.bias"].reshape(-1, 1)
    multilingual = dims["n_vocab"] >= 51865
    tiktoken = (assets / ("multilingual.tiktoken" if multilingual else "gpt2.tiktoken")).read_bytes()
    tokens = [base64.b64decode(line.split()[0]) for line in tiktoken.splitlines() if line]
    with np.load(assets / "mel_filters.npz") as f:
        filters = f[f"mel_{dims['n_mels']}"].astype(np.float32)

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with open(partial, "wb") as f:
        keys = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer", "n_text_ctx",
                "n_text_state", "n_text_head", "n_text_layer", "n_mels")
        f.write(struct.pack("<12i", _GGML_MAGIC, *(dims[k] for k in keys), 1))
        f.write(struct.pack("<2i", *filters.shape) + filters.tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for token in tokens:
            f.write(struct.pack("<i", len(token)) + token)
        for name, value in weights.items():
            name = _openai_name(name)
            as_f32 = value.ndim < 2 or name in _FLOAT32_NAMES
            data = value.astype(np.float32 if as_f32 else np.float16)
            encoded = name.encode()
            f.write(struct.pack("<3i", data.ndim, len(encoded), 0 if as_f32 else 1))
            f.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)) + encoded + data.tobytes())
    partial.replace(out)
    return out
