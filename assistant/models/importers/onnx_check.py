"""Open an ONNX file with onnxruntime, turning its failures into a message that names the file."""

from __future__ import annotations

from pathlib import Path

from assistant.models.errors import ModelFormatError


def open_onnx(path: Path):
    """An onnxruntime InferenceSession on the CPU, or ModelFormatError if the file is unusable."""
    import onnxruntime

    if not path.is_file():
        raise ModelFormatError(path, "missing", "Check the path, or reinstall the model")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings are about graph optimizations, not the user
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(
            path, f"not a readable ONNX model ({first_line[:200]})", "The file is corrupt or truncated: download it again"
        ) from exc
