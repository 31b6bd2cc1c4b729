"""Import the Smart Turn end-of-turn ONNX model."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant.models.errors import ModelFormatError
from assistant.models.files import TURN_FILE
from assistant.models.importers.converted import ConvertedModel
from assistant.models.importers.onnx_check import open_onnx

_INPUTS = {"input_features"}


def _input_shape(path: Path) -> list | None:
    """The single input's shape when it is Whisper-style features (n, 80, 800), else None."""
    try:
        inputs = open_onnx(path).get_inputs()
    except ModelFormatError:
        return None
    if {i.name for i in inputs} != _INPUTS:
        return None
    return list(inputs[0].shape)


def is_smart_turn(path: Path) -> bool:
    """True for an ONNX file that takes 80 x 800 log-mel features (8 s), as Smart Turn v3 does."""
    shape = _input_shape(path)
    return shape is not None and shape[1:] == [80, 800]


def import_smart_turn(source: Path, dest: Path) -> ConvertedModel:
    """Check and copy the Smart Turn model into `dest`."""
    if not is_smart_turn(source):
        open_onnx(source)  # a corrupt file says so
        raise ModelFormatError(source, "not a Smart Turn v3 model (it takes 80 x 800 log-mel features)")
    shutil.copyfile(source, dest / TURN_FILE)
    return ConvertedModel(kind="turn", format="smart-turn-onnx", languages=("multi",),
                          details={"sample_rate": 16000, "seconds": 8})
