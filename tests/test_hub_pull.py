"""`parley models pull` through huggingface_hub, against a pre-populated local hub cache in offline mode.

The hub itself is unreachable here, so the cache is laid out exactly as huggingface_hub writes it
(blobs named by hash, snapshot files linking to them, refs/main naming the commit) and
HF_HUB_OFFLINE=1 makes the real download code resolve the files from it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cache_repo(cache: Path, repo: str, files: dict[str, Path]) -> None:
    folder = cache / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    (folder / "blobs").mkdir()
    for name, source in files.items():
        data = source.read_bytes()
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = folder / "snapshots" / COMMIT / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch, default_store, joe_voice_onnx):
    cache = tmp_path / "hub"
    tiny = default_store.get("whisper-tiny.en").path
    _cache_repo(cache, "mlx-community/whisper-tiny.en-mlx",
                {"config.json": tiny / "config.json", "weights.safetensors": tiny / "weights.safetensors"})
    voice_json = joe_voice_onnx.with_name(joe_voice_onnx.name + ".json")
    _cache_repo(cache, "rhasspy/piper-voices", {
        "en/en_US/joe/medium/en_US-joe-medium.onnx": joe_voice_onnx,
        "en/en_US/joe/medium/en_US-joe-medium.onnx.json": voice_json,
        "voices.json": voice_json,  # other files of the repo must not be taken
    })
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _parley(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=300)


def test_pull_whisper_from_hub_cache(hub_cache, empty_store, speech_16k):
    import mlx_whisper

    result = _parley("models", "pull", "whisper-tiny.en")
    assert result.returncode == 0, result.stderr
    model = empty_store.get("whisper-tiny.en")
    assert model.source == "hub:mlx-community/whisper-tiny.en-mlx" and model.format == "mlx-whisper"
    text = mlx_whisper.transcribe(speech_16k.audio, path_or_hf_repo=str(model.path), fp16=False,
                                  language="en", temperature=0.0)["text"]
    assert _words(text) == _words(speech_16k.text)


def test_pull_voice_takes_only_its_files(hub_cache, empty_store):
    result = _parley("models", "pull", "piper-en_US-joe-medium")
    assert result.returncode == 0, result.stderr
    model = empty_store.get("piper-en_US-joe-medium")
    assert sorted(p.name for p in model.path.iterdir()) == ["manifest.json", "voice.onnx", "voice.onnx.json"]


def test_pull_of_a_model_not_in_the_cache_says_so_and_installs_nothing(hub_cache, empty_store):
    result = _parley("models", "pull", "whisper-small")
    assert result.returncode == 1
    assert "can't be reached" in result.stderr and "mlx-community/whisper-small-mlx" in result.stderr
    assert "Traceback" not in result.stderr
    assert empty_store.installed() == []


def test_pull_of_an_unknown_id(hub_cache, empty_store):
    result = _parley("models", "pull", "gpt-17")
    assert result.returncode == 2 and "not in the catalog" in result.stderr


def _words(text: str) -> list[str]:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace()).split()
