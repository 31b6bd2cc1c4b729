"""Convert a CTranslate2 (faster-whisper) Whisper folder into the mlx-whisper format.

The CTranslate2 ``model.bin`` is read with plain numpy (ct2_file.py), so that ctranslate2 itself is
never needed at run time.

The original CTranslate2 files are kept too, in a ``ct2/`` subfolder of the store folder: on a
CPU, faster-whisper runs them (int8) several times faster than MLX runs the converted weights
(see ``assistant/transcribe/ct2_engine.py``).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from assistant.models.errors import ModelFormatError
from assistant.models.files import CT2_FOLDER
from assistant.models.importers.ct2_file import (BFLOAT16, REDOWNLOAD, SPEC_NAME, Reader, Truncated, Variable,
                                                 index_model, read_header)
from assistant.models.importers.converted import ConvertedModel

log = logging.getLogger(__name__)

MODEL_FILE = "model.bin"
CONFIG_FILE = "config.json"
# Which of the original CTranslate2 files faster-whisper reads: kept in the store folder's CT2_FOLDER.
TOKENIZER_FILE = "tokenizer.json"
_CT2_EXTRA_FILES = ("preprocessor_config.json",)
_CT2_VOCABULARY_PATTERN = "vocabulary*"  # vocabulary.txt, vocabulary.json (newer converters), per-language ones

_ENGLISH_ONLY_VOCAB = 51864
# Whisper's attention head width is 64 in every released size, which lets us
# recover head counts from files written before they were stored.
_HEAD_DIM = 64


def is_ct2_whisper_folder(path: Path) -> bool:
    """Tell whether ``path`` is a folder holding a CTranslate2 Whisper ``model.bin``.

    Only the first bytes of the file are read, so this is cheap enough to run on
    every folder a user points at. Any unreadable or foreign file gives False.
    """
    model = Path(path) / MODEL_FILE
    try:
        with open(model, "rb") as f:
            _, spec, _ = read_header(Reader(f, model.stat().st_size))
    except (OSError, ValueError, Truncated):
        return False
    return spec == SPEC_NAME



class _Converter:
    """Turns CTranslate2 variables into mlx-whisper float16 parameters."""

    def __init__(self, model: Path, f: BinaryIO, variables: dict[str, Variable]) -> None:
        self.model = model
        self.f = f
        self.variables = variables
        self.out: dict[str, np.ndarray] = {}

    def fail(self, problem: str) -> ModelFormatError:
        return ModelFormatError(self.model, problem, REDOWNLOAD)

    def raw(self, name: str) -> tuple[Variable, np.ndarray]:
        var = self.variables.get(name)
        if var is None:
            raise self.fail(f"missing variable {name}")
        self.f.seek(var.offset)
        data = np.frombuffer(self.f.read(var.nbytes), dtype=var.dtype).reshape(var.shape)
        return var, data

    def float32(self, name: str) -> np.ndarray:
        var, data = self.raw(name)
        if var.type_id == BFLOAT16:
            # bfloat16 is the upper half of a float32.
            return (data.astype(np.uint32) << 16).view(np.float32)
        return data.astype(np.float32)

    def get(self, name: str) -> np.ndarray:
        """A variable as float32, dequantized when it was stored as int8/int16."""
        var, data = self.raw(name)
        if var.type_id == BFLOAT16 or data.dtype.kind == "f":
            return self.float32(name)
        if name + "_zero" in self.variables:
            raise ModelFormatError(
                self.model, f"{name} uses AWQ quantization, which Parley cannot convert",
                "Use a float16 or int8 faster-whisper export of the model",
            )
        if data.dtype.itemsize > 2 or name + "_scale" not in self.variables:
            raise self.fail(f"variable {name} is stored as {data.dtype} without a quantization scale")
        scale = self.float32(name + "_scale")
        # int8 has one scale per output row (conv weights included); int16 has a single one.
        if scale.ndim == 1 and scale.shape[0] == data.shape[0]:
            scale = scale.reshape((-1,) + (1,) * (data.ndim - 1))
        elif scale.size != 1:
            raise self.fail(f"{name}_scale has shape {scale.shape}, which does not match {data.shape}")
        return data.astype(np.float32) / scale

    def scalar(self, name: str) -> int | None:
        if name not in self.variables:
            return None
        return int(self.raw(name)[1].reshape(-1)[0])

    def put(self, name: str, value: np.ndarray, source: str, shape: tuple[int, ...]) -> None:
        if value.shape != shape:
            raise self.fail(f"variable {source} has shape {value.shape}, expected {shape}")
        half = value.astype(np.float16)
        # Catches both corrupt data and values outside float16's range.
        if not np.isfinite(half).all():
            raise self.fail(f"variable {source} holds NaN or values too large for float16")
        self.out[name] = half

    def linear(self, src: str, dst: str, n_out: int, n_in: int) -> None:
        self.put(f"{dst}.weight", self.get(f"{src}/weight"), f"{src}/weight", (n_out, n_in))
        self.put(f"{dst}.bias", self.get(f"{src}/bias"), f"{src}/bias", (n_out,))

    def norm(self, src: str, dst: str, d: int) -> None:
        self.put(f"{dst}.weight", self.get(f"{src}/gamma"), f"{src}/gamma", (d,))
        self.put(f"{dst}.bias", self.get(f"{src}/beta"), f"{src}/beta", (d,))

    def conv(self, src: str, dst: str, n_out: int, n_in: int) -> None:
        weight = self.get(f"{src}/weight")
        if weight.shape != (n_out, n_in, 3):
            raise self.fail(f"variable {src}/weight has shape {weight.shape}, expected {(n_out, n_in, 3)}")
        # CTranslate2 stores (out, in, kernel); MLX convolutions are channels-last.
        self.put(f"{dst}.weight", weight.transpose(0, 2, 1), f"{src}/weight", (n_out, 3, n_in))
        self.put(f"{dst}.bias", self.get(f"{src}/bias"), f"{src}/bias", (n_out,))

    def fused(self, src: str, dsts: tuple[str, ...], d: int) -> None:
        """Split a fused projection ([q; k; v] or [k; v]) into separate layers."""
        weight, bias = self.get(f"{src}/weight"), self.get(f"{src}/bias")
        parts = len(dsts)
        if weight.shape != (parts * d, d) or bias.shape != (parts * d,):
            raise self.fail(f"variable {src} has shape {weight.shape}, expected {(parts * d, d)}")
        for i, dst in enumerate(dsts):
            rows = slice(i * d, (i + 1) * d)
            self.put(f"{dst}.weight", weight[rows], f"{src}/weight", (d, d))
            # mlx-whisper's key projections have no bias; CTranslate2 keeps zeros there.
            if not dst.endswith(".key"):
                self.put(f"{dst}.bias", bias[rows], f"{src}/bias", (d,))

    def block(self, src: str, dst: str, d: int, cross: bool) -> None:
        self.norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", d)
        qkv = (f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value")
        self.fused(f"{src}/self_attention/linear_0", qkv, d)
        self.linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out", d, d)
        if cross:
            self.norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", d)
            self.linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query", d, d)
            self.fused(f"{src}/attention/linear_1", (f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"), d)
            self.linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out", d, d)
        self.norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", d)
        self.linear(f"{src}/ffn/linear_0", f"{dst}.mlp1", 4 * d, d)
        self.linear(f"{src}/ffn/linear_1", f"{dst}.mlp2", d, 4 * d)

    def layer_count(self, stack: str) -> int:
        # `encoder/layer_norm` shares the prefix, hence the digits-and-slash pattern.
        pattern = re.compile(rf"^{stack}/layer_(\d+)/")
        found = {int(m.group(1)) for name in self.variables if (m := pattern.match(name))}
        if not found:
            raise self.fail(f"no {stack} layers found")
        return max(found) + 1

    def heads(self, stack: str, d: int) -> int:
        heads = self.scalar(f"{stack}/num_heads")
        if heads is None:
            log.info("%s: no %s/num_heads, assuming %d-wide heads", self.model, stack, _HEAD_DIM)
            heads = d // _HEAD_DIM
        if heads <= 0 or d % heads:
            raise self.fail(f"{stack} has {heads} attention heads, which does not divide width {d}")
        return heads

    def convert(self) -> dict[str, int]:
        """Fill ``self.out`` and return the mlx-whisper model dimensions."""
        conv1 = self.get("encoder/conv1/weight")
        if conv1.ndim != 3:
            raise self.fail(f"variable encoder/conv1/weight has shape {conv1.shape}, expected 3 dimensions")
        d_audio, n_mels = conv1.shape[:2]
        audio_ctx = self.variables.get("encoder/position_encodings/encodings")
        if audio_ctx is None or len(audio_ctx.shape) != 2:
            raise self.fail("missing variable encoder/position_encodings/encodings")
        embeddings = self.get("decoder/embeddings/weight")
        if embeddings.ndim != 2:
            raise self.fail(f"variable decoder/embeddings/weight has shape {embeddings.shape}")
        n_vocab, d_text = embeddings.shape
        positions = self.get("decoder/position_encodings/encodings")

        dims = {
            "n_mels": int(n_mels),
            "n_audio_ctx": int(audio_ctx.shape[0]),
            "n_audio_state": int(d_audio),
            "n_audio_head": self.heads("encoder", d_audio),
            "n_audio_layer": self.layer_count("encoder"),
            "n_vocab": int(n_vocab),
            "n_text_ctx": int(positions.shape[0]),
            "n_text_state": int(d_text),
            "n_text_head": self.heads("decoder", d_text),
            "n_text_layer": self.layer_count("decoder"),
        }

        # The encoder's sinusoidal positions are recomputed by mlx-whisper, so they are not copied.
        self.conv("encoder/conv1", "encoder.conv1", d_audio, n_mels)
        self.conv("encoder/conv2", "encoder.conv2", d_audio, d_audio)
        for i in range(dims["n_audio_layer"]):
            self.block(f"encoder/layer_{i}", f"encoder.blocks.{i}", d_audio, cross=False)
        self.norm("encoder/layer_norm", "encoder.ln_post", d_audio)

        self.put("decoder.token_embedding.weight", embeddings, "decoder/embeddings/weight", (n_vocab, d_text))
        self.put("decoder.positional_embedding", positions, "decoder/position_encodings/encodings",
                 (dims["n_text_ctx"], d_text))
        for i in range(dims["n_text_layer"]):
            self.block(f"decoder/layer_{i}", f"decoder.blocks.{i}", d_text, cross=True)
        self.norm("decoder/layer_norm", "decoder.ln", d_text)
        return dims


def _read_config(path: Path) -> dict:
    if not path.is_file():
        raise ModelFormatError(path, "file is missing", f"{REDOWNLOAD}; the folder must hold {CONFIG_FILE}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(path, f"cannot be read as JSON ({e})", REDOWNLOAD) from None
    if not isinstance(config, dict):
        raise ModelFormatError(path, "is not a JSON object", REDOWNLOAD)
    return config


def _alignment_heads(path: Path, config: dict, dims: dict[str, int]) -> np.ndarray | None:
    heads = config.get("alignment_heads")
    if heads is None:
        return None
    try:
        pairs = np.asarray(heads, dtype=np.int32).reshape(-1, 2)
    except (TypeError, ValueError):
        problem = "alignment_heads is not a list of [layer, head] pairs"
        raise ModelFormatError(path, problem, REDOWNLOAD) from None
    in_range = (pairs[:, 0] >= 0) & (pairs[:, 0] < dims["n_text_layer"])
    in_range &= (pairs[:, 1] >= 0) & (pairs[:, 1] < dims["n_text_head"])
    if not in_range.all():
        problem = "alignment_heads names layers or heads the model does not have"
        raise ModelFormatError(path, problem, REDOWNLOAD)
    return pairs


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write ``tensors`` in the safetensors layout (small enough to not need the package)."""
    names = {np.dtype(np.float16): "F16", np.dtype(np.int32): "I32"}
    header: dict[str, dict] = {"__metadata__": {"format": "mlx"}}
    offset = 0
    for name, array in tensors.items():
        header[name] = {
            "dtype": names[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # The data section should start 8-byte aligned; the format allows trailing spaces.
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for array in tensors.values():
            f.write(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())


def _keep_ct2_files(source: Path, dest: Path) -> bool:
    """Copy the CTranslate2 files faster-whisper needs into ``dest/ct2``; False when they are incomplete.

    Without ``tokenizer.json`` faster-whisper would fetch a tokenizer from the model hub, which Parley never
    does behind the user's back, so such a folder gets no ``ct2/`` and is transcribed with MLX only.
    """
    if not (source / TOKENIZER_FILE).is_file():
        log.info("%s has no %s: keeping the MLX weights only (faster-whisper would need it)", source, TOKENIZER_FILE)
        return False
    folder = dest / CT2_FOLDER
    folder.mkdir()
    names = [MODEL_FILE, CONFIG_FILE, TOKENIZER_FILE, *_CT2_EXTRA_FILES]
    names += sorted(p.name for p in source.glob(_CT2_VOCABULARY_PATTERN))
    for name in names:
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
    return True


def convert_ct2_whisper(source: Path, dest: Path) -> ConvertedModel:
    """Convert the faster-whisper folder ``source`` into an mlx-whisper model in ``dest``.

    ``dest`` must be an existing, empty folder; ``config.json`` and a float16
    ``weights.safetensors`` are written there, and the original CTranslate2 files
    (``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary*``,
    ``preprocessor_config.json``) are copied into ``dest/ct2`` for faster-whisper,
    unless the folder lacks ``tokenizer.json``. int8, int16, bfloat16 and float32
    exports are dequantized/cast to float16. The CTranslate2 alignment heads (used
    for word timestamps) go into the weights as ``alignment_heads``, where
    mlx-whisper's loader picks them up; its ``config.json`` only accepts dimensions.

    Raises ModelFormatError naming the offending file when ``source`` is missing
    files, is not a CTranslate2 Whisper model, is truncated or lacks a variable.
    On error, ``dest`` may hold partial output and must be discarded by the caller.
    """
    source, dest = Path(source), Path(dest)
    model = source / MODEL_FILE
    if not model.is_file():
        raise ModelFormatError(model, "file is missing", f"{REDOWNLOAD}; the folder must hold {MODEL_FILE}")
    config_path = source / CONFIG_FILE
    ct2_config = _read_config(config_path)

    # Variables are read one at a time, so peak memory stays near the float16 output size.
    with open(model, "rb") as f:
        converter = _Converter(model, f, index_model(model, f))
        dims = converter.convert()
    tensors = converter.out

    heads = _alignment_heads(config_path, ct2_config, dims)
    if heads is not None:
        tensors["alignment_heads"] = heads

    _write_safetensors(dest / "weights.safetensors", tensors)
    (dest / "config.json").write_text(json.dumps({**dims, "model_type": "whisper"}, indent=2) + "\n")
    kept_ct2 = _keep_ct2_files(source, dest)

    languages = ("en",) if dims["n_vocab"] == _ENGLISH_ONLY_VOCAB else ("multi",)
    log.info(
        "converted %s: %d+%d layers, width %d, vocabulary %d",
        source, dims["n_audio_layer"], dims["n_text_layer"], dims["n_audio_state"], dims["n_vocab"],
    )
    return ConvertedModel(
        kind="stt",
        format="mlx-whisper",
        languages=languages,
        details={
            "n_vocab": dims["n_vocab"],
            "layers": dims["n_audio_layer"],
            "width": dims["n_audio_state"],
            "source_format": "ctranslate2",
            **({"ct2_folder": CT2_FOLDER} if kept_ct2 else {}),
        },
    )
