"""Import a model already in MLX format: an mlx-whisper folder or an mlx-lm folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from assistant.models.errors import ModelFormatError
from assistant.models.importers.converted import ConvertedModel

_WHISPER_KEYS = {"n_mels", "n_audio_ctx", "n_vocab", "n_text_layer"}


def mlx_folder_kind(folder: Path) -> str | None:
    """ "mlx-whisper", "mlx-lm" or None, from config.json and the weight files present."""
    config = _read_config(folder, quiet=True)
    if config is None:
        return None
    if _WHISPER_KEYS <= config.keys() and _whisper_weights(folder):
        return "mlx-whisper"
    if "model_type" in config and list(folder.glob("model*.safetensors")):
        return "mlx-lm"
    return None


def import_mlx_folder(source: Path, dest: Path) -> ConvertedModel:
    """Copy an MLX model folder into `dest`, after checking the files it needs are there."""
    config = _read_config(source, quiet=False)
    kind = mlx_folder_kind(source)
    if kind == "mlx-whisper":
        languages = ("en",) if config["n_vocab"] == 51864 else ("multi",)
        details = {"n_vocab": config["n_vocab"], "layers": config["n_text_layer"], "source_format": "mlx"}
        model_kind = "stt"
    elif kind == "mlx-lm":
        if not (source / "tokenizer.json").is_file() and not (source / "tokenizer.model").is_file():
            raise ModelFormatError(source / "tokenizer.json", "missing: an MLX chat model needs its tokenizer files")
        languages = ("multi",)
        details = {"architecture": config.get("model_type"), "quantization": config.get("quantization"), "source_format": "mlx"}
        model_kind = "llm"
    else:
        raise ModelFormatError(
            source, "an MLX folder needs config.json with weights.safetensors/weights.npz (Whisper) "
            "or model*.safetensors (chat model)",
        )
    for item in source.iterdir():
        # Hidden files are caches of download tools (e.g. .cache/huggingface), not model files.
        if item.is_file() and not item.name.startswith("."):
            shutil.copyfile(item, dest / item.name)
    return ConvertedModel(kind=model_kind, format=kind, languages=languages, details=details)


def _whisper_weights(folder: Path) -> bool:
    return (folder / "weights.safetensors").is_file() or (folder / "weights.npz").is_file()


def _read_config(folder: Path, quiet: bool) -> dict | None:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
        return config
    except FileNotFoundError:
        if quiet:
            return None
        raise ModelFormatError(path, "missing", "An MLX model folder needs its config.json") from None
    except (OSError, ValueError) as exc:
        if quiet:
            return None
        raise ModelFormatError(path, f"unreadable ({exc})", "Download the model again") from exc
