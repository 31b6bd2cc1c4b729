"""Import a Piper voice: `NAME.onnx` with its `NAME.onnx.json` beside it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from assistant.models.errors import ModelFormatError
from assistant.models.files import PIPER_CONFIG_FILE, PIPER_VOICE_FILE
from assistant.models.importers.converted import ConvertedModel
from assistant.models.importers.onnx_check import open_onnx


def import_piper_voice(source: Path, dest: Path) -> ConvertedModel:
    """Check and copy a Piper voice into `dest` as voice.onnx + voice.onnx.json."""
    config_path = source.with_name(source.name + ".json")
    if not config_path.is_file():
        raise ModelFormatError(
            config_path, "missing: a Piper voice needs its .onnx.json next to the .onnx",
            "Download both files of the voice",
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        sample_rate = int(config["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFormatError(config_path, f"not a Piper voice config ({exc})", "Download the voice again") from exc
    session = open_onnx(source)
    names = {i.name for i in session.get_inputs()}
    if not {"input", "input_lengths", "scales"} <= names:
        raise ModelFormatError(source, f"an ONNX model but not a Piper voice (inputs: {', '.join(sorted(names))})")
    shutil.copyfile(source, dest / PIPER_VOICE_FILE)
    shutil.copyfile(config_path, dest / PIPER_CONFIG_FILE)
    language = config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", "")
    return ConvertedModel(
        kind="tts",
        format="piper",
        languages=(language.split("_")[0].split("-")[0].lower(),) if language else ("en",),
        details={
            "sample_rate": sample_rate,
            "speakers": int(config.get("num_speakers", 1)),
            "quality": config.get("audio", {}).get("quality", ""),
            "language_code": language,
        },
    )
