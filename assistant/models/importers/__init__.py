"""Turn a model file or folder from elsewhere into a Parley store folder.

Recognized, by content rather than by name:
  - a faster-whisper (CTranslate2) Whisper folder  → mlx-whisper (converted)
  - a GGUF chat model (.gguf, or an Ollama blob)   → kept as model.gguf for llama.cpp, plus mlx-lm
                                                     (converted) on Apple GPUs or when lossless
  - an MLX folder (mlx-whisper or mlx-lm)          → copied
  - a Piper voice (.onnx + .onnx.json)             → copied
  - the Silero VAD ONNX model                      → copied
  - the Smart Turn v3 end-of-turn ONNX model       → copied
"""

from __future__ import annotations

from pathlib import Path

from assistant.models.errors import ModelFormatError
from assistant.models.importers.converted import ConvertedModel

SUPPORTED = (
    "a faster-whisper (CTranslate2) Whisper folder, a .gguf chat model (llama.cpp, LM Studio or an Ollama blob), "
    "an MLX model folder, a Piper voice (.onnx with its .onnx.json), a Kokoro voice folder, or a folder of "
    "microWakeWord models"
)


def detect_format(path: Path) -> str:
    """Name the format of `path` ("ct2-whisper", "gguf", "mlx-whisper", "mlx-lm", "piper", "silero-onnx",
    "smart-turn-onnx", "micro-wake-word", "kokoro").

    Raises ModelFormatError, naming the path and what Parley can import, for anything else.
    """
    from assistant.models.importers.gguf_llm import is_gguf_file
    from assistant.models.importers.kokoro import is_kokoro_folder
    from assistant.models.importers.micro_wake_word import wake_words
    from assistant.models.importers.mlx_folder import mlx_folder_kind
    from assistant.models.importers.silero_vad import is_silero_vad
    from assistant.models.importers.smart_turn import is_smart_turn
    from assistant.models.importers.whisper_ct2 import is_ct2_whisper_folder

    if not path.exists():
        raise ModelFormatError(path, "no such file or folder")
    if path.is_file():
        if is_gguf_file(path):
            return "gguf"
        if path.suffix == ".onnx":
            if path.with_name(path.name + ".json").is_file():
                return "piper"
            if is_silero_vad(path):
                return "silero-onnx"
            if is_smart_turn(path):
                return "smart-turn-onnx"
            raise ModelFormatError(
                path.with_name(path.name + ".json"), "missing: a Piper voice needs its .onnx.json next to the .onnx"
            )
        if path.name == "model.bin":
            return detect_format(path.parent)
        raise ModelFormatError(path, "not a model Parley can import", f"Parley imports {SUPPORTED}")
    if (path / "model.bin").is_file():
        if is_ct2_whisper_folder(path):
            return "ct2-whisper"
        raise ModelFormatError(path / "model.bin", "not a CTranslate2 Whisper model", f"Parley imports {SUPPORTED}")
    kind = mlx_folder_kind(path)
    if kind:
        return kind
    if wake_words(path):
        return "micro-wake-word"
    if is_kokoro_folder(path):
        return "kokoro"
    voices = sorted(path.rglob("*.onnx"))
    if len(voices) == 1:
        return detect_format(voices[0])
    ggufs = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix == ".gguf"]
    if len(ggufs) == 1:
        return "gguf"
    raise ModelFormatError(path, "no model Parley can import was found in this folder", f"Parley imports {SUPPORTED}")


def model_file(path: Path) -> Path:
    """The single file to import when `path` is a folder holding one voice or one GGUF file."""
    if path.is_dir() and not (path / "model.bin").is_file() and not (path / "config.json").is_file():
        candidates = sorted(path.rglob("*.onnx")) or [p for p in sorted(path.iterdir()) if p.suffix == ".gguf"]
        if len(candidates) == 1:
            return candidates[0]
    if path.is_file() and path.name == "model.bin":
        return path.parent
    return path


def convert(path: Path, dest: Path) -> ConvertedModel:
    """Import the model at `path` into the empty folder `dest`, converting it where needed."""
    fmt = detect_format(path)
    source = model_file(path)
    if fmt == "ct2-whisper":
        from assistant.models.importers.whisper_ct2 import convert_ct2_whisper

        return convert_ct2_whisper(source, dest)
    if fmt == "gguf":
        from assistant.models.importers.gguf_llm import convert_gguf

        return convert_gguf(source, dest, mlx=None)  # None: MLX files only where they pay (see wants_mlx)
    if fmt in ("mlx-whisper", "mlx-lm"):
        from assistant.models.importers.mlx_folder import import_mlx_folder

        return import_mlx_folder(source, dest)
    if fmt == "piper":
        from assistant.models.importers.piper_voice import import_piper_voice

        return import_piper_voice(source, dest)
    if fmt == "smart-turn-onnx":
        from assistant.models.importers.smart_turn import import_smart_turn

        return import_smart_turn(source, dest)
    if fmt == "kokoro":
        from assistant.models.importers.kokoro import import_kokoro

        return import_kokoro(path, dest)  # (the folder: model_file would pick its .onnx)
    if fmt == "micro-wake-word":
        from assistant.models.importers.micro_wake_word import import_micro_wake_words

        return import_micro_wake_words(source, dest)
    from assistant.models.importers.silero_vad import import_silero_vad

    return import_silero_vad(source, dest)
