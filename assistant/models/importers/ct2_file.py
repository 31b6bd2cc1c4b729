"""Reading a CTranslate2 (faster-whisper) ``model.bin``: where each variable lies, read with plain numpy so that
ctranslate2 itself is never needed (whisper_ct2.py converts what is read here). Layout of the file (all little-endian):

    u32 binary version, string spec name, u32 spec revision, u32 variable count,
    per variable: string name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, data,
    u32 alias count, then (alias, target) string pairs.

A string is a u16 length (counting a trailing NUL) followed by the bytes.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from assistant.models.errors import ModelFormatError

log = logging.getLogger(__name__)

SPEC_NAME = "WhisperSpec"

# Versions 4 to 6 share the layout above (typed variables, aliases); older ones
# predate Whisper support and newer ones may change the layout.
_SUPPORTED_BINARY_VERSIONS = range(4, 7)

REDOWNLOAD = "Re-download or re-export the model"

# CTranslate2 type ids; bfloat16 is read as raw uint16 since numpy has no bfloat16.
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),
}
BFLOAT16 = 5


class Truncated(Exception):
    """A read ran past the end of the file."""


class Reader:
    """Sequential little-endian reader over a binary file of known size."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise Truncated
        return data

    def skip(self, n: int) -> int:
        """Step over ``n`` bytes and return where they start."""
        start = self.f.tell()
        if start + n > self.size:
            raise Truncated
        self.f.seek(n, 1)
        return start

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = self.take(self.unpack("H"))
        # A garbage file would otherwise turn into nonsense names and fail later, less clearly.
        if not raw.endswith(b"\0"):
            raise ValueError("string without terminator")
        return raw[:-1].decode("utf-8")


@dataclass(frozen=True)
class Variable:
    """Where one variable lies in model.bin; the data is read only when needed."""

    offset: int
    shape: tuple[int, ...]
    type_id: int

    @property
    def dtype(self) -> np.dtype:
        return _DTYPES[self.type_id]

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64))


def read_header(reader: Reader) -> tuple[int, str, int]:
    version = reader.unpack("I")
    if version not in _SUPPORTED_BINARY_VERSIONS:
        raise ValueError(f"unsupported CTranslate2 binary version {version}")
    spec = reader.string()
    revision = reader.unpack("I")
    return version, spec, revision



def index_model(model: Path, f: BinaryIO) -> dict[str, Variable]:
    """Locate every variable of ``model.bin``; aliases map to their target's entry."""
    size = f.seek(0, 2)
    f.seek(0)
    reader = Reader(f, size)
    fix = f"{REDOWNLOAD}; this file is not a usable faster-whisper model.bin"
    try:
        try:
            _, spec, revision = read_header(reader)
        except ValueError as e:
            raise ModelFormatError(model, f"not a CTranslate2 model ({e})", fix) from None
        if spec != SPEC_NAME:
            raise ModelFormatError(
                model,
                f"a CTranslate2 {spec or 'unnamed'} model, not a Whisper model",
                "Pick the folder of a faster-whisper speech-to-text model",
            )
        log.debug("%s: WhisperSpec revision %d", model, revision)

        variables: dict[str, Variable] = {}
        for _ in range(reader.unpack("I")):
            name = reader.string()
            shape = tuple(reader.unpack("I") for _ in range(reader.unpack("B")))
            type_id = reader.unpack("B")
            nbytes = reader.unpack("I")
            if type_id not in _DTYPES:
                raise ModelFormatError(model, f"variable {name} has unknown type id {type_id}", fix)
            var = Variable(reader.skip(nbytes), shape, type_id)
            if var.nbytes != nbytes:
                problem = f"variable {name} has {nbytes} bytes, which does not fit shape {shape}"
                raise ModelFormatError(model, problem, fix)
            variables[name] = var

        for _ in range(reader.unpack("I")):
            alias, target = reader.string(), reader.string()
            if target not in variables:
                raise ModelFormatError(model, f"alias {alias} points to missing variable {target}", fix)
            variables[alias] = variables[target]
            # The runtime also aliases the int8 scale along with the weight.
            if target + "_scale" in variables:
                variables[alias + "_scale"] = variables[target + "_scale"]
    except Truncated:
        problem = f"file is truncated ({size} bytes, more data expected)"
        raise ModelFormatError(model, problem, REDOWNLOAD) from None
    except ValueError as e:  # UnicodeDecodeError included
        raise ModelFormatError(model, f"corrupt CTranslate2 model ({e})", fix) from None
    if f.tell() != size:
        raise ModelFormatError(model, f"{size - f.tell()} unexpected bytes after the model data", fix)
    return variables
