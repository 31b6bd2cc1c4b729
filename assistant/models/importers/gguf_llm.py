"""Convert a GGUF chat model into an mlx-lm model folder.

A GGUF file comes from llama.cpp, LM Studio or Ollama (an Ollama blob is the same bytes
without an extension). The folder this module writes holds ``config.json``,
``model.safetensors`` and the Hugging Face tokenizer files with the chat template, so
``mlx_lm.load(folder)`` serves it like any model converted from Hugging Face.

Weights stored as Q4_0, Q4_1 or Q8_0 are repacked bit for bit into MLX's affine
quantized layout (group size 32), so nothing is lost and the model stays small. Every
other quantized type (the K-quants, IQ types, ...) is dequantized to float16: accurate to
float16 rounding (relative 2**-11), but the folder is about 3.5 times the source file.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.models.errors import ModelFormatError
from assistant.models.importers.converted import ConvertedModel

if TYPE_CHECKING:
    # mlx is imported where it is used: format detection calls is_gguf_file, and the
    # app must get the chance to load OpenBLAS before mlx is first imported.
    import mlx.core as mx
    import mlx.nn as nn

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
SUPPORTED_ARCHITECTURES = ("llama", "qwen2")

_HF_ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}
# Used when a file leaves these out: the values llama.cpp itself falls back to.
_DEFAULT_ROPE_THETA = {"llama": 10_000.0, "qwen2": 1_000_000.0}
_DEFAULT_RMS_EPS = {"llama": 1e-5, "qwen2": 1e-6}

_GROUP_SIZE = 32  # every repacked GGUF type quantizes blocks of 32 weights

_REDOWNLOAD = "Re-download the file; if the new copy fails the same way, the source is broken"
_PICK_ANOTHER = "Pick a chat model of a supported architecture ({}) instead".format(
    ", ".join(SUPPORTED_ARCHITECTURES)
)

# llama.cpp tensor name (inside blk.N) -> Hugging Face module path (inside model.layers.N).
_BLOCK_MODULES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_TOP_MODULES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def is_gguf_file(path: Path) -> bool:
    """True when ``path`` is a readable file starting with the GGUF magic, whatever its name.

    Ollama stores models as extension-less blobs, so the extension proves nothing.
    """
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def convert_gguf(source: Path, dest: Path) -> ConvertedModel:
    """Convert the GGUF chat model ``source`` into an mlx-lm model folder at ``dest``.

    ``dest`` must be an existing, empty folder. The whole file is validated before
    anything is written, so bad input leaves ``dest`` empty.

    Raises ModelFormatError (naming ``source``) when the file is not GGUF, is truncated or
    corrupt, has no tokenizer or chat template, or holds an architecture other than
    those in SUPPORTED_ARCHITECTURES.
    """
    import mlx.core as mx

    source, dest = Path(source), Path(dest)
    reader = _open_gguf(source)
    meta = _Metadata(reader)
    arch = meta.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelFormatError(
            source, f"the model architecture is {arch!r}, which Parley cannot convert", _PICK_ANOTHER
        )
    _check_tokenizer_metadata(source, meta)

    tensors = {t.name: t for t in reader.tensors}
    config = _build_config(source, arch, meta, tensors)
    weights, bits_by_module, source_types = _convert_tensors(source, arch, config, tensors)
    if bits_by_module:
        config["quantization"] = _quantization_config(bits_by_module)

    # The tokenizer is the step most likely to reject an odd file, so it goes first.
    _write_tokenizer(source, dest)
    mx.save_safetensors(str(dest / "model.safetensors"), weights, metadata={"format": "mlx"})
    (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    languages = meta.get("general.languages")
    details = {
        "architecture": arch,
        "name": meta.get("general.name"),
        "quantization": _describe_quantization(source_types, bits_by_module),
        "parameters": int(sum(int(t.n_elements) for t in reader.tensors)),
        "context_length": config["max_position_embeddings"],
        "vocab_size": config["vocab_size"],
    }
    log.info("converted %s (%s, %s) into %s", source.name, arch, details["quantization"], dest)
    return ConvertedModel(
        kind="llm",
        format="mlx-lm",
        languages=tuple(str(x).lower() for x in languages) if languages else ("multi",),
        details={k: v for k, v in details.items() if v is not None},
    )


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
            raise ModelFormatError(source, f"{arch} with head size {head_dim} is not supported", _PICK_ANOTHER)
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
        factors = _dequantize(tensors["rope_freqs.weight"]).astype(np.float32).ravel()
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
    raise ModelFormatError(source, f"rope scaling {kind!r} is not supported", _PICK_ANOTHER)


# --- tensors --------------------------------------------------------------------------


def _ggml_type(name: str) -> Any:
    import gguf

    return gguf.GGMLQuantizationType[name]


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """ggml packs weight j in the low nibble of byte j and weight j+16 in its high nibble."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def _fp16(raw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(raw).view(np.float16)[..., 0]


def _q4_0(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # block: fp16 d, 16 bytes of nibbles q; w = d * (q - 8)
    d = _fp16(blocks[..., 0:2])
    return _nibbles(blocks[..., 2:18]), d, d * np.float16(-8)


def _q4_1(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # block: fp16 d, fp16 m, 16 bytes of nibbles q; w = d * q + m
    return _nibbles(blocks[..., 4:20]), _fp16(blocks[..., 0:2]), _fp16(blocks[..., 2:4])


def _q8_0(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # block: fp16 d, 32 int8 q; w = d * q. MLX wants unsigned codes, so shift by 128.
    d = _fp16(blocks[..., 0:2])
    return blocks[..., 2:34] ^ np.uint8(0x80), d, d * np.float16(-128)


# GGUF type -> (bits, bytes per block of 32, block decoder into codes/scale/bias)
_REPACKABLE: dict[str, tuple[int, int, Callable]] = {
    "Q4_0": (4, 18, _q4_0),
    "Q4_1": (4, 20, _q4_1),
    "Q8_0": (8, 34, _q8_0),
}


def _repack(tensor: Any, bits: int, block_bytes: int, decode: Callable) -> tuple[np.ndarray, ...]:
    """Rewrite a ggml block-quantized matrix as MLX affine (weight, scales, biases), exactly.

    Both formats store w = scale * code + bias per group of 32 along the input dimension;
    only the code packing differs: MLX packs codes in order, lowest bits first, into uint32.
    """
    rows = int(tensor.shape[-1])
    blocks = np.asarray(tensor.data, dtype=np.uint8).reshape(rows, -1, block_bytes)
    codes, scales, biases = decode(blocks)
    codes = codes.reshape(rows, -1)
    if bits == 4:
        codes = codes[:, 0::2] | (codes[:, 1::2] << 4)
    packed = np.ascontiguousarray(codes, dtype=np.uint8).view("<u4")
    return packed, scales, biases


def _dequantize(tensor: Any) -> np.ndarray:
    import gguf

    shape = tuple(int(n) for n in reversed(tensor.shape))
    return gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type).reshape(shape)


def _hf_module(source: Path, gguf_module: str) -> str:
    if gguf_module in _TOP_MODULES:
        return _TOP_MODULES[gguf_module]
    parts = gguf_module.split(".")
    if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _BLOCK_MODULES:
        return f"model.layers.{parts[1]}.{_BLOCK_MODULES[parts[2]]}"
    raise ModelFormatError(
        source, f"unexpected tensor {gguf_module!r} for this architecture", _PICK_ANOTHER
    )


def _unpermute_rows(x: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's reordering of Q/K output rows for its interleaved rotary layout.

    llama.cpp's converter turns each head's rows [first half, second half] into pairs
    (r0, r_half, r1, r_half+1, ...). Putting them back lets mlx-lm use the standard
    non-interleaved rotary embedding. Scales and biases rows move the same way.
    """
    rows = x.shape[0]
    half = rows // n_head // 2
    return x.reshape(n_head, half, 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)


def _convert_tensors(
    source: Path, arch: str, config: dict, tensors: dict[str, Any]
) -> tuple[dict[str, mx.array], dict[str, int], Counter]:
    """Map every GGUF tensor to its mlx-lm name, repacking or dequantizing as needed.

    Returns the weights, the bit width of each quantized module, and a count of the
    source quantization types (for the manifest).
    """
    import mlx.core as mx

    weights: dict[str, mx.array] = {}
    bits_by_module: dict[str, int] = {}
    source_types: Counter = Counter()
    permute_heads = {}
    if arch == "llama":  # llama.cpp's qwen2 converter leaves Q/K in the standard order
        permute_heads = {
            "attn_q": config["num_attention_heads"],
            "attn_k": config["num_key_value_heads"],
        }
    float_types = {"F32", "F16", "BF16"}

    for name, tensor in tensors.items():
        if name == "rope_freqs.weight":
            continue  # folded into config["rope_scaling"]
        gguf_module, param = name.rsplit(".", 1)
        if param not in ("weight", "bias"):
            raise ModelFormatError(source, f"unexpected tensor {name!r}", _PICK_ANOTHER)
        module = _hf_module(source, gguf_module)
        type_name = tensor.tensor_type.name
        if type_name not in float_types:
            source_types[type_name] += 1

        if type_name in _REPACKABLE and param == "weight" and len(tensor.shape) == 2:
            bits, block_bytes, decode = _REPACKABLE[type_name]
            arrays = {"weight": None, "scales": None, "biases": None}
            arrays.update(zip(arrays, _repack(tensor, bits, block_bytes, decode)))
            bits_by_module[module] = bits
        else:
            try:
                values = _dequantize(tensor)
            except NotImplementedError as exc:
                raise ModelFormatError(
                    source, f"tensor {name} uses the {type_name} type, which Parley cannot read",
                    "Pick a Q4_K_M, Q4_0 or Q8_0 version of the model",
                ) from exc
            arrays = {param: values.astype(np.float16)}

        heads = permute_heads.get(gguf_module.split(".")[-1])
        for key, array in arrays.items():
            if heads:
                array = _unpermute_rows(array, heads)
            weights[f"{module}.{key}"] = mx.array(array)
    return weights, bits_by_module, source_types


def _quantization_config(bits_by_module: dict[str, int]) -> dict:
    """The most common width is the default; mlx-lm reads the others as per-module entries."""
    default = Counter(bits_by_module.values()).most_common(1)[0][0]
    config: dict[str, Any] = {"group_size": _GROUP_SIZE, "bits": default}
    for module, bits in sorted(bits_by_module.items()):
        if bits != default:
            config[module] = {"group_size": _GROUP_SIZE, "bits": bits}
    return config


def _describe_quantization(source_types: Counter, bits_by_module: dict[str, int]) -> str:
    sources = "+".join(t for t, _ in source_types.most_common()) or "float"
    kept = sorted(set(bits_by_module.values()))
    dequantized = [t for t in source_types if t not in _REPACKABLE]
    parts = []
    if kept:
        parts.append("mlx " + "/".join(str(b) for b in kept) + f"-bit g{_GROUP_SIZE}")
    if dequantized or not kept:
        parts.append("float16")
    return f"{sources}→" + " + ".join(parts)


# --- tokenizer ------------------------------------------------------------------------


def _write_tokenizer(source: Path, dest: Path) -> None:
    """Rebuild the Hugging Face tokenizer (with the chat template) from the GGUF metadata."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    except Exception as exc:  # transformers raises many types for tokenizers it cannot rebuild
        raise ModelFormatError(source, f"its tokenizer cannot be read ({exc})", _PICK_ANOTHER) from exc
    if not tokenizer.chat_template:
        raise ModelFormatError(source, "the chat template was lost reading the tokenizer", _PICK_ANOTHER)
    tokenizer.save_pretrained(str(dest))
