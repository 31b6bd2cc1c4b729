"""Import the Silero VAD ONNX model."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant.models.errors import ModelFormatError
from assistant.models.files import VAD_FILE
from assistant.models.importers.converted import ConvertedModel
from assistant.models.importers.onnx_check import open_onnx

_INPUTS = {"input", "state", "sr"}


def is_silero_vad(path: Path) -> bool:
    """True for an ONNX file with the streaming Silero VAD's inputs (audio, recurrent state, rate)."""
    try:
        return {i.name for i in open_onnx(path).get_inputs()} == _INPUTS
    except ModelFormatError:
        return False


def import_silero_vad(source: Path, dest: Path) -> ConvertedModel:
    """Check and copy the Silero VAD model into `dest`."""
    names = {i.name for i in open_onnx(source).get_inputs()}
    if names != _INPUTS:
        raise ModelFormatError(source, f"not a Silero VAD model (inputs: {', '.join(sorted(names))})")
    shutil.copyfile(source, dest / VAD_FILE)
    return ConvertedModel(kind="vad", format="silero-onnx", languages=("multi",), details={"sample_rate": 16000})
