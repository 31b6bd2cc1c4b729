"""GGUF quantized weights → MLX affine quantized arrays (packed codes, scales, biases).

MLX stores a quantized matrix as ``w = scale * code + bias`` per group of 32, 64 or 128
weights along a row, the codes packed lowest bits first into uint32 words. Many ggml
types store exactly that shape of formula over groups of 32, so their codes move over
unchanged:

  - Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: bit for bit (their fp16 scale and offset are MLX's
    float16 scale and bias, ``-8*d``, ``-16*d`` and ``-128*d`` included);
  - Q4_K, Q5_K: the codes unchanged; each group's scale ``d*sc`` and bias ``-dmin*m``
    (a float16 times a 6-bit integer) is rounded to float16, a relative 2**-11 of one
    quantization step.

Everything else ``gguf.quants.dequantize`` reads (Q6_K, whose groups of 16 with their own
int8 scales have no MLX layout; Q2_K, Q3_K, IQ*, ...) is dequantized and quantized again
with ``mx.quantize``, at a width (REQUANTIZED_BITS) that keeps the second rounding well
below the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# ggml type -> (bits, MLX group size) of its re-quantization when the codes cannot move
# over. Measured on Qwen2.5-Coder-0.5B Q4_K_M (logits on 297 chat tokens in en/ko/zh/code
# against the float32 dequantization of the GGUF): with the Q5_0/Q4_K codes kept, Q6_K at
# 8-bit g64 gave mean KL 0.00002 and the same top-1 token everywhere (534 MB of weights);
# 6-bit g64 KL 0.0003 (521 MB); 4-bit g64 KL 0.009 and 96% top-1 (508 MB). Re-quantizing
# every K-quant and Q5_0 at 4-bit g64 instead: KL 0.08, 85% top-1 (432 MB).
# The other types (2 to 4.5 bits a weight: Q2_K, Q3_K, IQ*, TQ*, MXFP4; no file of them was
# at hand to measure) get 6 bits, two above their own as for Q6_K at 8: a second rounding
# at a quarter of the step adds little to the source's own error.
REQUANTIZED_BITS: dict[str, tuple[int, int]] = {"Q6_K": (8, 64)}
DEFAULT_REQUANTIZED = (6, 64)

_QK_K = 256  # weights in a K-quant super-block


@dataclass(frozen=True)
class MlxQuantized:
    """One matrix in MLX's quantized layout; ``exact`` when it equals the GGUF weights bit for bit."""

    weight: np.ndarray  # uint32 (rows, cols * bits / 32)
    scales: np.ndarray  # float16 (rows, cols / group_size)
    biases: np.ndarray  # float16, same shape
    bits: int
    group_size: int
    exact: bool


# --- block decoders: blocks (n, bytes) -> codes (n, weights), scales and biases (n, groups) ---


def _f32(raw: np.ndarray) -> np.ndarray:
    """A little-endian float16 field of each block, widened to float32 (exact)."""
    return np.ascontiguousarray(raw).view(np.float16).astype(np.float32)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """ggml packs weight j in the low nibble of byte j and weight j+16 in its high nibble."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def _high_bits(qh: np.ndarray) -> np.ndarray:
    """The 5th bit of each of 32 weights, from a little-endian uint32 bit field."""
    return (np.unpackbits(np.ascontiguousarray(qh), axis=-1, bitorder="little") << 4).astype(np.uint8)


def _q4_0(b: np.ndarray) -> tuple[np.ndarray, ...]:  # d, 16 B nibbles; w = d * (q - 8)
    d = _f32(b[:, 0:2])
    return _nibbles(b[:, 2:18]), d, -8 * d


def _q4_1(b: np.ndarray) -> tuple[np.ndarray, ...]:  # d, m, 16 B nibbles; w = d * q + m
    return _nibbles(b[:, 4:20]), _f32(b[:, 0:2]), _f32(b[:, 2:4])


def _q5_0(b: np.ndarray) -> tuple[np.ndarray, ...]:  # d, 4 B high bits, 16 B nibbles; w = d * (q - 16)
    d = _f32(b[:, 0:2])
    return _nibbles(b[:, 6:22]) | _high_bits(b[:, 2:6]), d, -16 * d


def _q5_1(b: np.ndarray) -> tuple[np.ndarray, ...]:  # d, m, 4 B high bits, 16 B nibbles; w = d * q + m
    return _nibbles(b[:, 8:24]) | _high_bits(b[:, 4:8]), _f32(b[:, 0:2]), _f32(b[:, 2:4])


def _q8_0(b: np.ndarray) -> tuple[np.ndarray, ...]:  # d, 32 int8; w = d * q. MLX codes are unsigned: q + 128
    d = _f32(b[:, 0:2])
    return b[:, 2:34] ^ np.uint8(0x80), d, -128 * d


def _k_scales(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group of 32: scale d*sc and bias -dmin*m of a Q4_K/Q5_K super-block."""
    import gguf

    sc, m = gguf.quants.Q4_K.get_scale_min(np.ascontiguousarray(b[:, 4:16]))
    return _f32(b[:, 0:2]) * sc, -_f32(b[:, 2:4]) * m


def _q4_k(b: np.ndarray) -> tuple[np.ndarray, ...]:
    # d, dmin, 12 B scales, 128 B: 4 chunks of 32 bytes, low nibbles = group 2i, high = 2i+1
    qs = b[:, 16:144].reshape(-1, 4, 1, 32) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)
    return (qs & 0x0F).reshape(-1, _QK_K), *_k_scales(b)


def _q5_k(b: np.ndarray) -> tuple[np.ndarray, ...]:
    # as Q4_K, plus 32 B of high bits: bit i of byte j is the 5th bit of weight 32*i + j
    qs = b[:, 48:176].reshape(-1, 4, 1, 32) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)
    qh = b[:, 16:48].reshape(-1, 1, 32) >> np.arange(8, dtype=np.uint8).reshape(1, 8, 1)
    codes = (qs & 0x0F).reshape(-1, _QK_K) | ((qh & 1) << 4).reshape(-1, _QK_K)
    return codes, *_k_scales(b)


# ggml type -> (bits, exact, decoder). Every one has MLX groups of 32.
_CODE_TYPES: dict[str, tuple[int, bool, Callable]] = {
    "Q4_0": (4, True, _q4_0),
    "Q4_1": (4, True, _q4_1),
    "Q5_0": (5, True, _q5_0),
    "Q5_1": (5, True, _q5_1),
    "Q8_0": (8, True, _q8_0),
    "Q4_K": (4, False, _q4_k),
    "Q5_K": (5, False, _q5_k),
}
EXACT_TYPES = frozenset(t for t, (_, exact, _) in _CODE_TYPES.items() if exact)
FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """Pack unsigned ``bits``-bit codes (rows, cols) the way MLX does: one little-endian bit stream per row."""
    rows, cols = codes.shape
    codes = codes.astype(np.uint8, copy=False)
    if bits == 8:
        return np.ascontiguousarray(codes).view("<u4")
    if bits == 4:
        return np.ascontiguousarray(codes[:, 0::2] | (codes[:, 1::2] << 4)).view("<u4")
    # 8 codes of b bits fill exactly b bytes: build them in a uint64 and keep its low b bytes.
    shifts = np.arange(0, 8 * bits, bits, dtype=np.uint64)
    octets = np.bitwise_or.reduce(codes.reshape(rows, cols // 8, 8).astype(np.uint64) << shifts, axis=-1)
    raw = octets.astype("<u8").view(np.uint8).reshape(rows, cols // 8, 8)[..., :bits]
    return np.ascontiguousarray(raw).reshape(rows, -1).view("<u4")


def can_read(type_name: str) -> bool:
    """Whether a tensor of this ggml type can be brought into MLX at all."""
    import gguf

    if type_name in FLOAT_TYPES or type_name in _CODE_TYPES:
        return True
    qtype = gguf.GGMLQuantizationType[type_name]
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    try:
        gguf.quants.dequantize(np.zeros((1, type_size), dtype=np.uint8), qtype)
    except NotImplementedError:
        return False
    return True


def dequantize(tensor: Any) -> np.ndarray:
    """A GGUFReader tensor as float32 numpy, in Hugging Face (row-major) shape."""
    import gguf

    shape = tuple(int(n) for n in reversed(tensor.shape))
    values = gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type)
    return values.reshape(shape).astype(np.float32, copy=False)


def to_mlx(tensor: Any, *, rows_per_chunk: int = 4096) -> MlxQuantized:
    """Convert one quantized 2-D GGUFReader tensor into MLX's quantized layout.

    Raises NotImplementedError for a type that neither this module nor ``gguf`` can read.
    """
    import gguf

    type_name = tensor.tensor_type.name
    rows = int(tensor.shape[-1])
    if type_name not in _CODE_TYPES:
        return _requantize(dequantize(tensor), *REQUANTIZED_BITS.get(type_name, DEFAULT_REQUANTIZED))

    bits, exact, decode = _CODE_TYPES[type_name]
    _, block_bytes = gguf.GGML_QUANT_SIZES[tensor.tensor_type]
    data = np.asarray(tensor.data, dtype=np.uint8).reshape(rows, -1)
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, rows, rows_per_chunk):  # bounds the temporaries of a large embedding
        chunk = data[start : start + rows_per_chunk]
        codes, scales, biases = decode(chunk.reshape(-1, block_bytes))
        n = len(chunk)
        parts.append((
            pack_codes(codes.reshape(n, -1), bits),
            scales.reshape(n, -1).astype(np.float16),
            biases.reshape(n, -1).astype(np.float16),
        ))
    weight, scales, biases = (np.concatenate(p) for p in zip(*parts))
    return MlxQuantized(weight, scales, biases, bits, 32, exact)


def _requantize(values: np.ndarray, bits: int, group_size: int) -> MlxQuantized:
    import mlx.core as mx

    while values.shape[-1] % group_size:  # rows of 32·k weights (IQ4_NL, ...) when k is odd
        group_size //= 2
    weight, scales, biases = mx.quantize(mx.array(values), group_size=group_size, bits=bits)
    return MlxQuantized(
        np.array(weight), np.array(scales.astype(mx.float16)), np.array(biases.astype(mx.float16)),
        bits, group_size, exact=False,
    )
