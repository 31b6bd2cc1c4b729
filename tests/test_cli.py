"""The `parley` command as a user runs it: models list/import/remove and doctor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _parley(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=300)


def test_models_list_shows_the_default_pack_installed(default_store):
    result = _parley("models", "list")
    assert result.returncode == 0, result.stderr
    installed = {line.split()[0] for line in result.stdout.splitlines() if " installed " in line}
    assert installed >= {"silero-vad", "whisper-tiny.en", "whisper-base", "smollm2-135m-instruct",
                         "piper-en_US-joe-medium"}
    assert "multilingual" in result.stdout and " MB " in result.stdout
    assert "whisper-small" in result.stdout  # catalog models that can be pulled are listed too


def test_import_list_and_remove_a_voice(empty_store, joe_voice_onnx):
    result = _parley("models", "import", str(joe_voice_onnx), "--id", "my-voice")
    assert result.returncode == 0, result.stderr
    assert "my-voice" in result.stdout and "tts" in result.stdout
    assert "my-voice" in _parley("models", "list").stdout
    assert _parley("models", "remove", "my-voice").returncode == 0
    assert empty_store.installed() == []


def test_import_of_a_corrupt_file_is_a_message_not_a_traceback(tmp_path, empty_store):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 100)
    result = _parley("models", "import", str(bad))
    assert result.returncode == 1
    assert "model.gguf" in result.stderr and "Traceback" not in result.stderr
    assert empty_store.installed() == []


def test_doctor_passes_with_the_default_pack(default_store):
    result = _parley("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("python", "mlx", "blas", "settings", "model vad", "model stt", "model llm", "model tts"):
        assert f"] {check}:" in result.stdout
    if sys.platform.startswith("linux"):
        assert "[ok  ] blas" in result.stdout and "openblas" in result.stdout.lower()
        # Which voice reads each language: Joe for English, Kokoro for Chinese and Korean, espeak-ng's for Japanese.
        voices = next(line for line in result.stdout.splitlines() if "] voices:" in line)
        assert "en: Joe (US English, Piper) (heard back: en 8.8% WER)" in voices, voices
        assert "zh, ko: Kokoro (Mandarin, Korean, English) (heard back: zh 2.4% CER, ko 5.6% CER)" in voices, voices
        assert "ja: Japanese (espeak-ng)" in voices, voices


def test_doctor_warns_when_no_voice_speaks_the_chosen_language(default_store, tmp_path, monkeypatch):
    from assistant.cli import doctor
    from assistant.speak import system_voice
    from assistant.cli.checks import with_language
    from assistant.models.store import ModelStore
    from assistant.runtime.settings import Settings

    monkeypatch.setattr(system_voice, "system_voices", lambda: ())  # no espeak-ng
    finding = doctor._voices(with_language(Settings(), "ja"), ModelStore())
    assert finding.status == doctor.WARN and "no voice for ja" in finding.detail and "espeak-ng" in finding.fix


def test_doctor_fails_with_the_fix_when_a_model_is_missing(empty_store):
    result = _parley("doctor")
    assert result.returncode == 1
    assert "[FAIL] model stt: whisper-tiny.en is not installed" in result.stdout
    assert "parley models setup" in result.stdout


def test_doctor_names_a_bad_setting(default_store, tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text('[listening]\nvad_threshold = "loud"\n')
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(config))
    result = _parley("doctor")
    assert result.returncode == 1
    assert "listening.vad_threshold" in result.stdout


def test_python_dash_m_and_console_script_agree():
    script = subprocess.run([str(Path(sys.executable).parent / "parley"), "--help"], capture_output=True, text=True)
    module = _parley("--help")
    assert script.returncode == module.returncode == 0
    assert script.stdout.replace("parley", "") == module.stdout.replace("parley", "")
    for command in ("doctor", "models"):
        assert command in module.stdout


@pytest.mark.parametrize("args", [["models", "remove", "nothing-here"], ["models", "pull", "nope"]])
def test_errors_exit_non_zero_with_a_message(empty_store, args):
    """An id that names no model is bad input: exit status 2, as for any usage error."""
    result = _parley(*args)
    assert result.returncode == 2 and result.stderr.startswith("parley: ")


def test_import_an_mlx_folder(default_store, empty_store):
    source = default_store.get("whisper-tiny.en").path
    result = _parley("models", "import", str(source), "--id", "tiny-copy")
    assert result.returncode == 0, result.stderr
    model = empty_store.get("tiny-copy")
    assert (model.kind, model.format, model.languages) == ("stt", "mlx-whisper", ("en",))
    assert (model.path / "weights.safetensors").read_bytes() == (source / "weights.safetensors").read_bytes()


def test_commands_write_the_log_file(empty_store, tmp_path, monkeypatch):
    monkeypatch.setenv("PARLEY_LOG_DIR", str(tmp_path / "logs"))
    _parley("models", "remove", "absent-model")
    log = (tmp_path / "logs" / "parley.log").read_text()
    assert "absent-model is not installed" in log
