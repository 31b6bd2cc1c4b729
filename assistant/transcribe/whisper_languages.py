"""Whisper's languages: the codes its decoder knows and their English names, without importing MLX.

The table is mlx-whisper's own (`mlx_whisper/tokenizer.py`), so Parley accepts exactly what Whisper decodes. That
module is run on its own here rather than imported: importing anything under `mlx_whisper` runs the package's
`__init__`, which imports MLX, scipy and numba (~1.1 s and ~160 MB resident on the 2-core Linux machine), a cost
with no use where faster-whisper hears. The module itself needs only tiktoken (~0.1 s, ~5 MB).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


@functools.cache
def _tokenizer_module() -> ModuleType:
    package = importlib.util.find_spec("mlx_whisper")  # finds the package without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ImportError("mlx-whisper is not installed: Parley's install step puts it in (make setup)")
    if "mlx_whisper.tokenizer" in sys.modules:  # MLX hears here: the package is loaded anyway
        return sys.modules["mlx_whisper.tokenizer"]
    path = Path(next(iter(package.submodule_search_locations))) / "tokenizer.py"
    spec = importlib.util.spec_from_file_location("_parley_whisper_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def whisper_languages() -> dict[str, str]:
    """Every language code Whisper knows, with its English name ({"en": "english", "ko": "korean", ...})."""
    return dict(_tokenizer_module().LANGUAGES)


def language_code(text: str) -> str | None:
    """The code for `text`, a code or an English name Whisper knows ("de", "German", "mandarin"); else None."""
    wanted = text.strip().lower()
    module = _tokenizer_module()
    if wanted in module.LANGUAGES:
        return wanted
    return module.TO_LANGUAGE_CODE.get(wanted)
