"""Import a GGUF chat model: keep the file for llama.cpp, and convert it for mlx-lm where wanted.

A GGUF file comes from llama.cpp, LM Studio or Ollama (an Ollama blob is the same bytes
without an extension). The store folder always holds the original file as ``model.gguf``,
which llama.cpp runs as it is. When MLX conversion is wanted it also holds
``config.json``, ``model.safetensors`` and the Hugging Face tokenizer files with the chat
template, so ``mlx_lm.load(folder)`` serves it like any model converted from Hugging Face.

Conversion is wanted on an Apple GPU (where mlx-lm is the fast engine), and elsewhere only
when it is lossless and cheap: every quantized tensor moves over bit for bit (Q4_0, Q4_1,
Q5_0, Q5_1, Q8_0, float). K-quant files on a CPU-only machine keep just the GGUF, so the
default pack installs in seconds. How each ggml type becomes MLX's quantized layout is
in gguf_quants.py: codes moved over where the layouts agree, re-quantized otherwise, so
the MLX weights stay about the size of the source.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.models.errors import ModelFormatError
from assistant.models.importers import gguf_quants
from assistant.models.importers.converted import ConvertedModel

if TYPE_CHECKING:
    # mlx is imported where it is used: format detection calls is_gguf_file, the app
    # must get the chance to load OpenBLAS before mlx is first imported, and a GGUF-only
    # import needs no mlx at all.
    import mlx.nn as nn

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
GGUF_FILE = "model.gguf"  # the original file, kept in every store folder for llama.cpp
SUPPORTED_ARCHITECTURES = ("llama", "qwen2")

_HF_ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}
# Used when a file leaves these out: the values llama.cpp itself falls back to.
_DEFAULT_ROPE_THETA = {"llama": 10_000.0, "qwen2": 1_000_000.0}
_DEFAULT_RMS_EPS = {"llama": 1e-5, "qwen2": 1e-6}

_REDOWNLOAD = "Re-download the file; if the new copy fails the same way, the source is broken"
PICK_ANOTHER = "Pick a chat model of a supported architecture ({}) instead".format(
    ", ".join(SUPPORTED_ARCHITECTURES)
)


def is_gguf_file(path: Path) -> bool:
    """True when ``path`` is a readable file starting with the GGUF magic, whatever its name.

    Ollama stores models as extension-less blobs, so the extension proves nothing.
    """
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def convert_gguf(source: Path, dest: Path, mlx: bool | None = None) -> ConvertedModel:
    """Import the GGUF chat model ``source`` into the store folder ``dest``.

    ``dest`` gets a copy of the file as ``model.gguf`` and, when ``mlx`` is true, the
    mlx-lm files too. ``mlx=None`` decides by itself (see wants_mlx): convert on an Apple
    GPU, or when the conversion is lossless. The manifest format is "gguf" or
    "gguf+mlx-lm".

    ``dest`` must be an existing, empty folder. The whole file is validated before
    anything is written, so bad input leaves ``dest`` empty.

    Raises ModelFormatError (naming ``source``) when the file is not GGUF, is truncated or
    corrupt, has no tokenizer or chat template, holds an architecture other than those in
    SUPPORTED_ARCHITECTURES, or (when converting) a tensor type MLX cannot take.
    """
    source, dest = Path(source), Path(dest)
    started = time.monotonic()
    reader = _open_gguf(source)
    meta = _Metadata(reader)
    arch = meta.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelFormatError(
            source, f"the model architecture is {arch!r}, which Parley cannot convert", PICK_ANOTHER
        )
    _check_tokenizer_metadata(source, meta)

    tensors = {t.name: t for t in reader.tensors}
    config = _build_config(source, arch, meta, tensors)
    _check_tensor_names(source, tensors)
    source_types = Counter(
        t.tensor_type.name for t in reader.tensors if t.tensor_type.name not in gguf_quants.FLOAT_TYPES
    )
    if mlx is None:
        mlx = wants_mlx(source_types)

    details = {
        "architecture": arch,
        "name": meta.get("general.name"),
        "file_type": _file_type(meta),
        "quantization": "+".join(t for t, _ in source_types.most_common()) or "float",
        "parameters": int(sum(int(t.n_elements) for t in reader.tensors)),
        "context_length": config["max_position_embeddings"],
        "vocab_size": config["vocab_size"],
        "gguf_file": GGUF_FILE,
    }
    if mlx:
        from assistant.models.importers.gguf_mlx import write_mlx_lm

        details["quantization"] = write_mlx_lm(source, dest, arch, config, tensors, source_types)
    # Copied last: the MLX step can still refuse the file (its tokenizer, a tensor type), and a
    # refused file must leave dest empty.
    shutil.copyfile(source, dest / GGUF_FILE)

    fmt = "gguf+mlx-lm" if mlx else "gguf"
    languages = meta.get("general.languages")
    log.info(
        "imported %s (%s, %s) into %s as %s in %.1f s",
        source.name, arch, details["quantization"], dest, fmt, time.monotonic() - started,
    )
    return ConvertedModel(
        kind="llm",
        format=fmt,
        languages=tuple(str(x).lower() for x in languages) if languages else ("multi",),
        details={k: v for k, v in details.items() if v is not None},
    )


def wants_mlx(source_types: Counter | set) -> bool:
    """Whether the automatic mode converts a file holding these (non-float) ggml types.

    Yes on an Apple GPU, where mlx-lm runs the model. Elsewhere llama.cpp runs the GGUF and
    mlx-lm is a CPU fallback: convert only what moves over bit for bit, which is quick (7 s
    for SmolLM2-135M) and costs nothing in quality. K-quants would cost half a minute and
    another 530 MB for the 0.5B default, for an engine that file never uses there.
    """
    if on_apple_gpu():
        return True
    return all(t in gguf_quants.EXACT_TYPES for t in source_types)


def on_apple_gpu() -> bool:
    """True on Apple silicon macOS, where MLX's default device is the GPU.

    Decided from the platform rather than by asking mlx, so that importing a GGUF on Linux
    needs no mlx at all.
    """
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def dequantize_for_cpu(model: nn.Module) -> nn.Module:
    """Turn a loaded quantized mlx-lm model into a float32 one, in place, and return it.

    On a Linux CPU, MLX's quantized matmuls with float16 scales crawl (SmolLM2-135M: 0.2
    tokens/s, over 2 minutes to the first token) while float32 dense runs at ~16 tokens/s;
    the price is 4 bytes a weight in memory. On Apple GPUs keep the model as loaded.
    """
    import mlx.core as mx
    from mlx_lm.utils import dequantize_model

    # Widen the scales first: dequantizing with float16 scales would round every weight
    # to float16 (GGUF's exact scale * code + min needs more bits).
    model.set_dtype(mx.float32)
    model = dequantize_model(model)
    mx.eval(model.parameters())
    return model


# --- reading the file ---------------------------------------------------------------


def _open_gguf(source: Path) -> Any:
    """Parse the header and check every tensor lies inside the file, without loading data.

    The data is memory-mapped later, so a truncated file must be refused here, where it
    is still a clean error rather than a crash.
    """
    import gguf

    if not source.is_file():
        raise ModelFormatError(source, "the file does not exist", "Check the path")
    if not is_gguf_file(source):
        raise ModelFormatError(
            source, "this is not a GGUF model file (it does not start with 'GGUF')",
            "Choose the .gguf file itself; if it is one, " + _REDOWNLOAD.lower(),
        )
    try:
        reader = gguf.GGUFReader(source)
    except Exception as exc:  # gguf raises bare ValueError/IndexError on damaged headers
        raise ModelFormatError(source, f"the file is truncated or corrupt ({exc})", _REDOWNLOAD) from exc
    if reader.byte_order != "I":
        raise ModelFormatError(source, "the file is a big-endian GGUF", "Use the ordinary little-endian file")

    if not reader.tensors:
        raise ModelFormatError(source, "the file holds no weights", _REDOWNLOAD)
    size = source.stat().st_size
    end = max(int(t.data_offset) + int(t.n_bytes) for t in reader.tensors)
    if end > size:
        raise ModelFormatError(
            source, f"the file is truncated ({size} bytes, the tensors need {end})", _REDOWNLOAD
        )
    return reader


class _Metadata:
    """Plain-Python access to the key/value metadata of a GGUFReader."""

    def __init__(self, reader: Any) -> None:
        self._fields = reader.fields

    def __contains__(self, key: str) -> bool:
        return key in self._fields

    def get(self, key: str, default: Any = None) -> Any:
        field = self._fields.get(key)
        if field is None:
            return default
        value = field.contents()
        return value.tolist() if isinstance(value, np.ndarray) else value


def _check_tokenizer_metadata(source: Path, meta: _Metadata) -> None:
    missing = [k for k in ("tokenizer.ggml.model", "tokenizer.ggml.tokens") if k not in meta]
    if missing:
        raise ModelFormatError(
            source, f"the file has no tokenizer (missing {', '.join(missing)})",
            "Use a complete GGUF from llama.cpp, LM Studio or Ollama; " + _REDOWNLOAD.lower(),
        )
    if not meta.get("tokenizer.chat_template"):
        raise ModelFormatError(
            source, "the file has no chat template, so it is probably a base model, not a chat model",
            "Use the Instruct or Chat version of the model",
        )


# --- config ---------------------------------------------------------------------------


def _build_config(source: Path, arch: str, meta: _Metadata, tensors: dict[str, Any]) -> dict:
    def need(key: str) -> Any:
        value = meta.get(f"{arch}.{key}")
        if value is None:
            raise ModelFormatError(source, f"the metadata lacks {arch}.{key}", _REDOWNLOAD)
        return value

    hidden = int(need("embedding_length"))
    n_head = int(need("attention.head_count"))
    n_kv = int(meta.get(f"{arch}.attention.head_count_kv", n_head))
    head_dim = int(meta.get(f"{arch}.attention.key_length", hidden // n_head))
    if "token_embd.weight" not in tensors:
        raise ModelFormatError(source, "the file has no token_embd.weight tensor", _REDOWNLOAD)
    # GGUF lists dimensions fastest-first, so the vocabulary is the last one.
    vocab = int(tensors["token_embd.weight"].shape[-1])
    context = int(meta.get(f"{arch}.context_length", 4096))

    config: dict[str, Any] = {
        "model_type": arch,
        "architectures": [_HF_ARCHITECTURES[arch]],
        "hidden_size": hidden,
        "num_hidden_layers": int(need("block_count")),
        "intermediate_size": int(need("feed_forward_length")),
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv,
        "rms_norm_eps": _short_float(meta.get(f"{arch}.attention.layer_norm_rms_epsilon", _DEFAULT_RMS_EPS[arch])),
        "rope_theta": _short_float(meta.get(f"{arch}.rope.freq_base", _DEFAULT_ROPE_THETA[arch])),
        "rope_traditional": False,  # true after _unpermute_rows; qwen2 is stored that way
        "max_position_embeddings": context,
        "vocab_size": vocab,
        "tie_word_embeddings": "output.weight" not in tensors,
    }
    if head_dim * n_head != hidden:
        if arch != "llama":
            raise ModelFormatError(source, f"{arch} with head size {head_dim} is not supported", PICK_ANOTHER)
        config["head_dim"] = head_dim
    if arch == "llama":
        config["attention_bias"] = "blk.0.attn_q.bias" in tensors
        config["mlp_bias"] = "blk.0.ffn_up.bias" in tensors
    rope_scaling = _rope_scaling(source, arch, meta, tensors, head_dim, context, config["rope_theta"])
    if rope_scaling:
        config["rope_scaling"] = rope_scaling

    for key, name in (("bos_token_id", "bos"), ("pad_token_id", "padding")):
        if (value := meta.get(f"tokenizer.ggml.{name}_token_id")) is not None:
            config[key] = int(value)
    # Chat models end a turn with eot (llama 3) or eom rather than eos in some files;
    # mlx-lm stops on any id listed here.
    stops = [meta.get(f"tokenizer.ggml.{name}_token_id") for name in ("eos", "eot", "eom")]
    stops = list(dict.fromkeys(int(s) for s in stops if s is not None))
    if stops:
        config["eos_token_id"] = stops[0] if len(stops) == 1 else stops
    return config


def _short_float(value: float) -> float:
    """GGUF stores float32; print 1e-05 rather than 9.999999747378752e-06 in config.json."""
    return float(str(np.float32(value)))


def _rope_scaling(
    source: Path, arch: str, meta: _Metadata, tensors: dict[str, Any], head_dim: int, context: int, theta: float
) -> dict | None:
    if "rope_freqs.weight" in tensors:
        # Llama 3.x files store the per-frequency divisors llama.cpp derived from the
        # "llama3" scaling, not its parameters. mlx-lm's "longrope" takes those divisors
        # as they are (rotation period = theta**(2i/d) * factor_i); with both context
        # lengths equal it adds no attention scaling, so the rotation matches exactly.
        factors = gguf_quants.dequantize(tensors["rope_freqs.weight"]).astype(np.float32).ravel()
        if factors.size != head_dim // 2:
            raise ModelFormatError(source, "rope_freqs does not match the head size", _REDOWNLOAD)
        factors_list = [float(x) for x in factors]
        return {
            "type": "longrope",
            "long_factor": factors_list,
            "short_factor": factors_list,
            "original_max_position_embeddings": context,
        }
    kind = meta.get(f"{arch}.rope.scaling.type", "none")
    if kind == "none":
        return None
    factor = float(meta.get(f"{arch}.rope.scaling.factor", 1.0))
    if kind == "linear":
        return {"type": "linear", "factor": factor}
    if kind == "yarn":
        original = int(meta.get(f"{arch}.rope.scaling.original_context_length", context))
        return {"type": "yarn", "factor": factor, "original_max_position_embeddings": original}
    raise ModelFormatError(source, f"rope scaling {kind!r} is not supported", PICK_ANOTHER)


# --- tensors --------------------------------------------------------------------------


def _check_tensor_names(source: Path, tensors: dict[str, Any]) -> None:
    """Every tensor must be one mlx-lm knows for the architecture: a cheap check that the file is what it says."""
    from assistant.models.importers.gguf_mlx import hf_name

    for name in tensors:
        if name != "rope_freqs.weight":  # folded into config["rope_scaling"]
            hf_name(source, name)


def _file_type(meta: _Metadata) -> str | None:
    """llama.cpp's name for the file's quantization mix, e.g. "Q4_K_M"."""
    import gguf

    value = meta.get("general.file_type")
    try:
        return gguf.LlamaFileType(int(value)).name.removeprefix("MOSTLY_") if value is not None else None
    except ValueError:
        return None

