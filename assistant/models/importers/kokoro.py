"""Import a Kokoro voice: its ONNX model (`model.onnx`, or the one .onnx in the folder), its phoneme table
(`vocab.json`: {"vocab": {phoneme: id}}) and its voice styles (`voices*.npz`: each (510, 1, 256); and/or
`voices/NAME.bin`, kokoro-js's form: the same floats, raw), saved together as one `voices.npz`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from assistant.models.errors import ModelFormatError
from assistant.models.files import KOKORO_MODEL_FILE, KOKORO_STYLES_FILE, KOKORO_VOCAB_FILE
from assistant.models.importers.converted import ConvertedModel
from assistant.models.importers.onnx_check import open_onnx

# For each language Kokoro reads here, the styles that read it best heard back, in order (the README's languages
# table has the figures): Mandarin, zf_xiaoxiao of kokoro-js's eight Mandarin styles (CER 4% by Whisper base on 15
# sentences; the others 5-50%), else the Japanese jm_kumo (22%); Korean, which no Kokoro style was made for, a
# Japanese one; English, af_heart (WER 0.9% by Whisper tiny.en, Piper joe 2.6%). A source without a language's
# styles does not read it.
PREFERRED_STYLES = {"zh": ("zf_xiaoxiao", "jm_kumo"), "ko": ("jf_nezumi", "jf_gongitsune"),
                    "en": ("af_heart", "bf_emma")}
STYLE_SHAPE = (510, 1, 256)  # a row per token count
LICENCE_FILE = "LICENSE"  # the voice styles' licence notice, kept with them when the source has one


def is_kokoro_folder(path: Path) -> bool:
    return (path.is_dir() and (path / KOKORO_VOCAB_FILE).is_file()
            and (any(path.glob("voices*.npz")) or any(path.glob("voices/*.bin")))
            and any(path.glob("*.onnx")))


def import_kokoro(source: Path, dest: Path) -> ConvertedModel:
    """Check and copy a Kokoro voice folder into `dest` (as model.onnx, vocab.json, voices.npz)."""
    model = source / KOKORO_MODEL_FILE if (source / KOKORO_MODEL_FILE).is_file() else next(source.glob("*.onnx"))
    inputs = {i.name for i in open_onnx(model).get_inputs()}  # a corrupt file says so
    if inputs != {"tokens", "style", "speed"}:
        raise ModelFormatError(model, f"not a Kokoro model (its inputs are {sorted(inputs)})")
    try:
        vocab = json.loads((source / KOKORO_VOCAB_FILE).read_text(encoding="utf-8"))["vocab"]
        styles = _styles(source)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(source, f"not a Kokoro voice: its phoneme table or voice styles are unreadable ({exc})") from exc
    if not vocab or not styles or any(style.shape[1:] != STYLE_SHAPE[1:] for style in styles.values()):
        raise ModelFormatError(source, "not a Kokoro voice: unexpected phoneme table or voice styles")
    shutil.copyfile(model, dest / KOKORO_MODEL_FILE)
    shutil.copyfile(source / KOKORO_VOCAB_FILE, dest / KOKORO_VOCAB_FILE)
    with open(dest / KOKORO_STYLES_FILE, "wb") as out:
        np.savez(out, **styles)
    if (source / LICENCE_FILE).is_file():
        shutil.copyfile(source / LICENCE_FILE, dest / LICENCE_FILE)
    chosen = {language: next(name for name in preferred if name in styles)
              for language, preferred in PREFERRED_STYLES.items() if any(name in styles for name in preferred)}
    if not chosen:  # a Kokoro of other languages' styles only: it reads Mandarin with an accent, as Kokoro can
        chosen = {"zh": sorted(styles)[0]}
    return ConvertedModel(kind="tts", format="kokoro", languages=tuple(chosen),
                          details={"styles": sorted(styles), "sample_rate": 24000, "language_styles": chosen})


def _styles(source: Path) -> dict[str, np.ndarray]:
    """Every voice style in `source`, by name: the arrays of its `voices*.npz` files and of `voices/*.bin`."""
    styles: dict[str, np.ndarray] = {}
    for npz in sorted(source.glob("voices*.npz")):
        with np.load(npz) as archive:
            styles.update({name: archive[name] for name in archive.files})
    for raw in sorted(source.glob("voices/*.bin")):
        values = np.fromfile(raw, np.float32)
        if values.size != np.prod(STYLE_SHAPE):
            raise ValueError(f"{raw.name} holds {values.size} numbers, not a {STYLE_SHAPE} voice style")
        styles[raw.stem] = values.reshape(STYLE_SHAPE)
    return styles
