"""The mlx-lm half of a GGUF import: weights under Hugging Face names, config and tokenizer.

gguf_llm.py validates the file and builds the model config; this module writes
``model.safetensors`` (quantized matrices in MLX's layout, via gguf_quants.py), the
``quantization`` entry of ``config.json`` and the tokenizer files with the chat template.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from assistant.models.errors import ModelFormatError
from assistant.models.importers import gguf_quants
from assistant.models.importers.gguf_llm import PICK_ANOTHER

log = logging.getLogger(__name__)

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


def hf_name(source: Path, name: str) -> tuple[str, str]:
    """(module, parameter) in mlx-lm for the GGUF tensor ``name``; ModelFormatError for a stranger."""
    gguf_module, _, param = name.rpartition(".")
    if param in ("weight", "bias"):
        if gguf_module in _TOP_MODULES:
            return _TOP_MODULES[gguf_module], param
        parts = gguf_module.split(".")
        if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _BLOCK_MODULES:
            return f"model.layers.{parts[1]}.{_BLOCK_MODULES[parts[2]]}", param
    raise ModelFormatError(source, f"unexpected tensor {name!r} for this architecture", PICK_ANOTHER)


def write_mlx_lm(
    source: Path, dest: Path, arch: str, config: dict, tensors: dict[str, Any], source_types: Counter
) -> str:
    """Write the mlx-lm files for an already validated GGUF into ``dest``; return the quantization summary.

    ``config`` is the Hugging Face config from gguf_llm; its ``quantization`` entry is added
    here. Raises ModelFormatError, before writing anything, for a tensor type MLX cannot take.
    """
    import mlx.core as mx

    unreadable = sorted(t for t in source_types if not gguf_quants.can_read(t))
    if unreadable:
        raise ModelFormatError(
            source, f"its tensors use the {'/'.join(unreadable)} type, which Parley cannot convert for MLX",
            "Pick a Q4_K_M, Q4_0 or Q8_0 version of the model",
        )
    weights, layouts = _convert_tensors(source, arch, config, tensors)
    config = dict(config)
    if layouts:
        config["quantization"] = _quantization_config(layouts)

    # The tokenizer is the step most likely to reject an odd file, so it goes first.
    _write_tokenizer(source, dest)
    mx.save_safetensors(str(dest / "model.safetensors"), weights, metadata={"format": "mlx"})
    (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return _describe_quantization(source_types, layouts)


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
) -> tuple[dict[str, Any], dict[str, tuple[int, int, bool]]]:
    """Map every GGUF tensor to its mlx-lm name, in MLX's quantized layout or as float16.

    Returns the weights and, for each quantized module, (bits, group size, exact).
    """
    import mlx.core as mx

    weights: dict[str, mx.array] = {}
    layouts: dict[str, tuple[int, int, bool]] = {}
    permute_heads = {}
    if arch == "llama":  # llama.cpp's qwen2 converter leaves Q/K in the standard order
        permute_heads = {"attn_q": config["num_attention_heads"], "attn_k": config["num_key_value_heads"]}

    for name, tensor in tensors.items():
        if name == "rope_freqs.weight":
            continue  # folded into config["rope_scaling"]
        module, param = hf_name(source, name)
        quantized = tensor.tensor_type.name not in gguf_quants.FLOAT_TYPES
        if quantized and param == "weight" and len(tensor.shape) == 2:
            q = gguf_quants.to_mlx(tensor)
            arrays = {"weight": q.weight, "scales": q.scales, "biases": q.biases}
            layouts[module] = (q.bits, q.group_size, q.exact)
        else:  # float tensors, and the odd quantized vector: float16 (exact for F16)
            arrays = {param: gguf_quants.dequantize(tensor).astype(np.float16)}

        heads = permute_heads.get(name.split(".")[-2])
        for key, array in arrays.items():
            if heads:
                array = _unpermute_rows(array, heads)
            weights[f"{module}.{key}"] = mx.array(array)
    return weights, layouts


def _quantization_config(layouts: dict[str, tuple[int, int, bool]]) -> dict:
    """The most common (bits, group size) is the default; mlx-lm reads the others as per-module entries."""
    default = Counter((bits, group) for bits, group, _ in layouts.values()).most_common(1)[0][0]
    config: dict[str, Any] = {"group_size": default[1], "bits": default[0]}
    for module, (bits, group, _) in sorted(layouts.items()):
        if (bits, group) != default:
            config[module] = {"group_size": group, "bits": bits}
    return config


def _describe_quantization(source_types: Counter, layouts: dict[str, tuple[int, int, bool]]) -> str:
    """E.g. "Q4_1+Q8_0→mlx 4/8-bit g32", "Q5_0+Q8_0+Q4_K+Q6_K→mlx 4/5/8-bit g32 + 8-bit g64"."""
    sources = "+".join(t for t, _ in source_types.most_common()) or "float"
    widths: dict[int, set[int]] = {}
    for bits, group, _ in layouts.values():
        widths.setdefault(group, set()).add(bits)
    parts = [
        "mlx " * (i == 0) + "/".join(str(b) for b in sorted(bits)) + f"-bit g{group}"
        for i, (group, bits) in enumerate(sorted(widths.items()))
    ]
    if not layouts:
        parts.append("float16")
    return f"{sources}→" + " + ".join(parts)


def _write_tokenizer(source: Path, dest: Path) -> None:
    """Rebuild the Hugging Face tokenizer (with the chat template) from the GGUF metadata."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    except Exception as exc:  # transformers raises many types for tokenizers it cannot rebuild
        raise ModelFormatError(source, f"its tokenizer cannot be read ({exc})", PICK_ANOTHER) from exc
    if not tokenizer.chat_template:
        raise ModelFormatError(source, "the chat template was lost reading the tokenizer", PICK_ANOTHER)
    tokenizer.save_pretrained(str(dest))
