"""Import a Kokoro voice: its ONNX model (`model.onnx`, or the one .onnx in the folder), its phoneme table
(`vocab.json`: {"vocab": {phoneme: id}}) and its voice styles (`voices*.npz`: each (510, 1, 256))."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from assistant.models.errors import ModelFormatError
from assistant.models.files import KOKORO_MODEL_FILE, KOKORO_STYLES_FILE, KOKORO_VOCAB_FILE
from assistant.models.importers.converted import ConvertedModel
from assistant.models.importers.onnx_check import open_onnx

# The style that read Mandarin best of the five shipped (CER 10% heard back by Whisper base, the others 15-22%).
STYLE = "jm_kumo"


def is_kokoro_folder(path: Path) -> bool:
    return (path.is_dir() and (path / KOKORO_VOCAB_FILE).is_file() and any(path.glob("voices*.npz"))
            and any(path.glob("*.onnx")))


def import_kokoro(source: Path, dest: Path) -> ConvertedModel:
    """Check and copy a Kokoro voice folder into `dest` (as model.onnx, vocab.json, voices.npz)."""
    model = source / KOKORO_MODEL_FILE if (source / KOKORO_MODEL_FILE).is_file() else next(source.glob("*.onnx"))
    inputs = {i.name for i in open_onnx(model).get_inputs()}  # a corrupt file says so
    if inputs != {"tokens", "style", "speed"}:
        raise ModelFormatError(model, f"not a Kokoro model (its inputs are {sorted(inputs)})")
    try:
        vocab = json.loads((source / KOKORO_VOCAB_FILE).read_text(encoding="utf-8"))["vocab"]
        styles_file = next(source.glob("voices*.npz"))
        with np.load(styles_file) as styles:
            names = list(styles.files)
            shape = styles[names[0]].shape
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ModelFormatError(source, f"not a Kokoro voice: its phoneme table or voice styles are unreadable ({exc})") from exc
    if not vocab or shape[1:] != (1, 256):
        raise ModelFormatError(source, "not a Kokoro voice: unexpected phoneme table or voice styles")
    shutil.copyfile(model, dest / KOKORO_MODEL_FILE)
    shutil.copyfile(source / KOKORO_VOCAB_FILE, dest / KOKORO_VOCAB_FILE)
    shutil.copyfile(styles_file, dest / KOKORO_STYLES_FILE)
    style = STYLE if STYLE in names else names[0]
    return ConvertedModel(kind="tts", format="kokoro", languages=("zh",),
                          details={"style": style, "styles": names, "sample_rate": 24000, "accent": _accent(style)})


# Kokoro's style names begin with their language's letter ("zf_xiaobei" Mandarin, "jm_kumo" Japanese).
_STYLE_LANGUAGES = {"a": "en", "b": "en", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja", "p": "pt", "z": "zh"}


def _accent(style: str) -> str:
    """The language whose accent the style gives Mandarin ("" for a Mandarin style)."""
    language = _STYLE_LANGUAGES.get(style[:1], "other")
    return "" if language == "zh" else language
