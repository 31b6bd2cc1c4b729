"""Open an ONNX file with onnxruntime, turning its failures into a message that names the file."""

from __future__ import annotations

from pathlib import Path

from assistant.models.errors import ModelFormatError


def open_onnx(path: Path, threads: int = 0):
    """An onnxruntime InferenceSession on the CPU, or ModelFormatError if the file is unusable.

    `threads`: intra-op threads (0 = one per core). Worker threads never spin-wait for work: by
    default they do, and on a 2-core machine that steals the CPU from the MLX thread after every
    VAD frame or voiced sentence.
    """
    import onnxruntime

    if not path.is_file():
        raise ModelFormatError(path, "missing", "Check the path, or reinstall the model")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings are about graph optimizations, not the user
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(
            path, f"not a readable ONNX model ({first_line[:200]})", "The file is corrupt or truncated: download it again"
        ) from exc
