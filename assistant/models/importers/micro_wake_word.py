"""Import microWakeWord models: a folder of streaming TFLite models, each with its JSON description
("type": "micro", the phrase, its probability cutoff and sliding window), as pymicro-wakeword ships them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from assistant.models.errors import ModelFormatError
from assistant.models.importers.converted import ConvertedModel


def wake_words(folder: Path) -> dict[str, dict]:
    """The folder's microWakeWord models, by name ("hey_jarvis"): their JSON descriptions (with a `model` file that
    exists beside them); {} when it has none."""
    found = {}
    for description in sorted(Path(folder).glob("*.json")):
        try:
            config = json.loads(description.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (isinstance(config, dict) and config.get("type") == "micro" and "micro" in config
                and (description.parent / str(config.get("model", ""))).is_file()):
            found[description.stem] = config
    return found


def import_micro_wake_words(source: Path, dest: Path) -> ConvertedModel:
    """Copy every microWakeWord model of the folder `source` (its .json and .tflite) into `dest`."""
    found = wake_words(source)
    if not found:
        raise ModelFormatError(source, "no microWakeWord model (a .tflite with its .json description) in this folder")
    languages = set()
    for name, config in found.items():
        shutil.copyfile(source / f"{name}.json", dest / f"{name}.json")
        shutil.copyfile(source / config["model"], dest / config["model"])
        languages.update(config.get("trained_languages") or ["en"])
    phrases = {name: config["wake_word"] for name, config in found.items()}
    return ConvertedModel(kind="wake", format="micro-wake-word", languages=tuple(sorted(languages)),
                          details={"phrases": phrases})
