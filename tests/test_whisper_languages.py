"""Whisper's language table, read without importing MLX (where faster-whisper hears, nothing else needs it)."""

import subprocess
import sys

from assistant.transcribe.whisper_languages import language_code, whisper_languages


def test_codes_and_english_names_map_to_whisper_codes():
    assert language_code("ko") == "ko"
    assert language_code(" German ") == "de"
    assert language_code("mandarin") == "zh"
    assert language_code("klingon") is None
    assert {"en", "ko", "zh", "ja"} <= set(whisper_languages())


def test_reading_the_table_imports_neither_mlx_nor_mlx_whisper():
    code = ("import sys; from assistant.transcribe.whisper_languages import language_code; "
            "assert language_code('korean') == 'ko'; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlx', 'mlx_whisper', 'scipy', 'numba')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
