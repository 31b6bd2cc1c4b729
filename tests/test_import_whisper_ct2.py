"""Tests for the CTranslate2 (faster-whisper) to mlx-whisper converter."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from assistant.models.errors import ModelFormatError
from assistant.models.importers.whisper_ct2 import convert_ct2_whisper, is_ct2_whisper_folder

SENTENCE = "The quick brown fox jumps over the lazy dog."


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def convert(source: Path, dest: Path):
    dest.mkdir()
    return convert_ct2_whisper(source, dest)


# --- A minimal, independent model.bin reader/writer, to build variants of real files ---

_NP_TYPES = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "<u2"}


def _ct2_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def read_ct2(path: Path) -> tuple[bytes, list[tuple[str, np.ndarray, int]], list[tuple[str, str]]]:
    """Return (header bytes, [(name, array, type id)], [(alias, target)])."""
    data = path.read_bytes()
    pos = 0

    def unpack(fmt: str):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = unpack("H")
        pos += n
        return data[pos - n : pos - 1].decode()

    unpack("I"), string(), unpack("I")
    header = data[:pos]
    variables = []
    for _ in range(unpack("I")):
        name = string()
        shape = [unpack("I") for _ in range(unpack("B"))]
        type_id, nbytes = unpack("B"), unpack("I")
        array = np.frombuffer(data, _NP_TYPES[type_id], nbytes // np.dtype(_NP_TYPES[type_id]).itemsize, pos)
        variables.append((name, array.reshape(shape), type_id))
        pos += nbytes
    aliases = [(string(), string()) for _ in range(unpack("I"))]
    assert pos == len(data)
    return header, variables, aliases


def write_ct2(path: Path, header: bytes, variables, aliases) -> None:
    with open(path, "wb") as f:
        f.write(header + struct.pack("<I", len(variables)))
        for name, array, type_id in variables:
            f.write(_ct2_string(name) + struct.pack("<B", array.ndim))
            f.write(struct.pack(f"<{array.ndim}I", *array.shape))
            f.write(struct.pack("<BI", type_id, array.nbytes) + array.tobytes())
        f.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases:
            f.write(_ct2_string(alias) + _ct2_string(target))


def copy_folder(source: Path, dest: Path, model_bin: bool = True) -> Path:
    dest.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt") + (("model.bin",) if model_bin else ()):
        if (source / name).exists():
            shutil.copyfile(source / name, dest / name)
    return dest


def requantize(source: Path, dest: Path, mode: str) -> Path:
    """Rewrite a float model as CTranslate2 would store it with int8 or bfloat16 weights."""
    header, variables, aliases = read_ct2(source / "model.bin")
    out = []
    for name, array, type_id in variables:
        if type_id not in (0, 4):
            out.append((name, array, type_id))
            continue
        value = array.astype(np.float32)
        if mode == "int8" and name.endswith("/weight"):
            flat = value.reshape(value.shape[0], -1)
            scale = (127.0 / np.maximum(np.abs(flat).max(axis=1), 1e-8)).astype(np.float32)
            rows = scale.reshape((-1,) + (1,) * (value.ndim - 1))
            out.append((name, np.rint(value * rows).astype(np.int8), 1))
            out.append((name + "_scale", scale, 0))
        elif mode == "bfloat16":
            # Round to nearest even, as a real bfloat16 export would.
            bits = value.view(np.uint32)
            bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
            out.append((name, bits.astype(np.uint16), 5))
        else:
            out.append((name, value, 0))
    copy_folder(source, dest, model_bin=False)
    write_ct2(dest / "model.bin", header, sorted(out, key=lambda v: v[0]), aliases)
    return dest


# --- Fixtures ---


@pytest.fixture(scope="module")
def sentence_audio(speech_16k) -> np.ndarray:
    """The test sentence spoken by the Piper voice, as 16 kHz float32 mono."""
    assert speech_16k.text == SENTENCE
    return speech_16k.audio


@pytest.fixture(scope="module")
def sentence_mel(sentence_audio) -> np.ndarray:
    """Log-mel of the sentence padded to Whisper's 30 s window: (3000, 80)."""
    import mlx.core as mx
    from mlx_whisper.audio import N_SAMPLES, log_mel_spectrogram

    padded = np.pad(sentence_audio, (0, N_SAMPLES - len(sentence_audio)))
    return np.array(log_mel_spectrogram(mx.array(padded), 80))


@pytest.fixture(scope="module")
def tiny_en_mlx(whisper_tiny_en_ct2, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("tiny-en") / "mlx"
    convert(whisper_tiny_en_ct2, dest)
    return dest


@pytest.fixture(scope="module")
def base_mlx(whisper_base_ct2, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("base") / "mlx"
    convert(whisper_base_ct2, dest)
    return dest


def mlx_encode(model_dir: Path, mel: np.ndarray) -> np.ndarray:
    import mlx.core as mx
    from mlx_whisper.load_models import load_model

    model = load_model(str(model_dir), dtype=mx.float32)
    return np.array(model.encoder(mx.array(mel[None], dtype=mx.float32)).astype(mx.float32))


def ct2_encode(model_dir: Path, mel: np.ndarray) -> np.ndarray:
    ctranslate2 = pytest.importorskip("ctranslate2")
    model = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="float32")
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None], dtype=np.float32))
    return np.array(model.encode(features))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- Output format ---


def test_detects_whisper_folder(whisper_tiny_en_ct2, tmp_path):
    assert is_ct2_whisper_folder(whisper_tiny_en_ct2)
    assert not is_ct2_whisper_folder(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00\x10\x00TransformerSpec\x00\x01\x00\x00\x00")
    assert not is_ct2_whisper_folder(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"GGUF" + bytes(100))
    assert not is_ct2_whisper_folder(tmp_path)


def test_tiny_en_output_files(whisper_tiny_en_ct2, tmp_path):
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_whisper.load_models import load_model

    dest = tmp_path / "mlx"
    result = convert(whisper_tiny_en_ct2, dest)
    assert result.kind == "stt" and result.format == "mlx-whisper"
    assert result.languages == ("en",)
    assert result.details == {"n_vocab": 51864, "layers": 4, "width": 384, "source_format": "ctranslate2",
                              "ct2_folder": "ct2"}

    config = json.loads((dest / "config.json").read_text())
    assert config == {
        "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
        "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4,
        "model_type": "whisper",
    }

    weights = mx.load(str(dest / "weights.safetensors"))
    floats = {k: v for k, v in weights.items() if k != "alignment_heads"}
    assert all(v.dtype == mx.float16 for v in floats.values())
    # mlx-whisper silently keeps random initial values for any parameter the file lacks,
    # so the names must cover the model exactly.
    model = load_model(str(dest), dtype=mx.float32)
    expected = {k: v.shape for k, v in tree_flatten(model.parameters())}
    assert {k: v.shape for k, v in weights.items()} == expected
    ct2_heads = json.loads((whisper_tiny_en_ct2 / "config.json").read_text())["alignment_heads"]
    assert model.alignment_heads.tolist() == ct2_heads


# --- The original CTranslate2 files, kept for faster-whisper ---


def test_ct2_files_are_kept_unchanged(whisper_tiny_en_ct2, tmp_path):
    dest = tmp_path / "mlx"
    convert(whisper_tiny_en_ct2, dest)
    kept = dest / "ct2"
    originals = sorted(p.name for p in whisper_tiny_en_ct2.iterdir()
                       if p.name in ("model.bin", "config.json", "tokenizer.json", "preprocessor_config.json")
                       or p.name.startswith("vocabulary"))
    assert "vocabulary.txt" in originals
    assert sorted(p.name for p in kept.iterdir()) == originals
    for name in originals:
        assert (kept / name).read_bytes() == (whisper_tiny_en_ct2 / name).read_bytes(), name
    # The MLX files stay where mlx-whisper looks for them, beside the copy.
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "ct2", "weights.safetensors"]


def test_ct2_extra_files_are_kept(whisper_tiny_en_ct2, tmp_path):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src")
    (source / "preprocessor_config.json").write_text('{"feature_size": 80}')
    (source / "vocabulary.json").write_text('["a"]')
    (source / "notes.md").write_text("not a model file")
    convert(source, tmp_path / "mlx")
    kept = sorted(p.name for p in (tmp_path / "mlx" / "ct2").iterdir())
    assert kept == ["config.json", "model.bin", "preprocessor_config.json", "tokenizer.json",
                    "vocabulary.json", "vocabulary.txt"]


def test_no_ct2_copy_without_a_tokenizer(whisper_tiny_en_ct2, tmp_path):
    # faster-whisper would download a tokenizer for such a folder; Parley keeps to MLX instead.
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src")
    (source / "tokenizer.json").unlink()
    result = convert(source, tmp_path / "mlx")
    assert not (tmp_path / "mlx" / "ct2").exists()
    assert "ct2_folder" not in result.details


def test_kept_ct2_files_load_in_faster_whisper(whisper_tiny_en_ct2, tmp_path, sentence_audio):
    from faster_whisper import WhisperModel

    convert(whisper_tiny_en_ct2, tmp_path / "mlx")
    model = WhisperModel(str(tmp_path / "mlx" / "ct2"), device="cpu", compute_type="int8", cpu_threads=1)
    segments, _ = model.transcribe(sentence_audio, language="en", beam_size=1)
    assert words("".join(s.text for s in segments)) == words(SENTENCE)


# --- Numerical equivalence with CTranslate2 ---


def test_tiny_en_encoder_matches_ctranslate2(whisper_tiny_en_ct2, tiny_en_mlx, sentence_mel):
    reference = ct2_encode(whisper_tiny_en_ct2, sentence_mel)
    ours = mlx_encode(tiny_en_mlx, sentence_mel)
    assert ours.shape == reference.shape == (1, 1500, 384)
    assert cosine(ours, reference) > 0.999


@pytest.mark.parametrize("mode", ["int8", "bfloat16", "float32"])
def test_requantized_exports_match_ctranslate2(whisper_tiny_en_ct2, tmp_path, sentence_mel, mode):
    source = requantize(whisper_tiny_en_ct2, tmp_path / mode, mode)
    convert(source, tmp_path / "mlx")
    reference = ct2_encode(source, sentence_mel)
    assert cosine(mlx_encode(tmp_path / "mlx", sentence_mel), reference) > 0.999


# --- Real transcription ---


def transcribe(model_dir: Path, audio: np.ndarray, language: str | None) -> dict:
    import mlx_whisper

    return mlx_whisper.transcribe(
        audio, path_or_hf_repo=str(model_dir), fp16=False, language=language, temperature=0.0
    )


def test_tiny_en_transcribes_sentence(tiny_en_mlx, sentence_audio):
    assert words(transcribe(tiny_en_mlx, sentence_audio, "en")["text"]) == words(SENTENCE)


def test_base_transcribes_sentence_and_detects_english(base_mlx, sentence_audio):
    config = json.loads((base_mlx / "config.json").read_text())
    assert config["n_vocab"] == 51865
    assert words(transcribe(base_mlx, sentence_audio, "en")["text"]) == words(SENTENCE)
    detected = transcribe(base_mlx, sentence_audio, None)
    assert detected["language"] == "en"
    assert words(detected["text"]) == words(SENTENCE)


def test_base_reports_multilingual(whisper_base_ct2, tmp_path):
    result = convert(whisper_base_ct2, tmp_path / "mlx")
    assert result.languages == ("multi",)
    assert result.details == {"n_vocab": 51865, "layers": 6, "width": 512, "source_format": "ctranslate2",
                              "ct2_folder": "ct2"}


# --- Bad input ---


def assert_format_error(source: Path, dest: Path, file_name: str, *problem_words: str) -> ModelFormatError:
    dest.mkdir()
    with pytest.raises(ModelFormatError) as info:
        convert_ct2_whisper(source, dest)
    message = str(info.value)
    assert file_name in message
    assert str(source / file_name) == str(info.value.path)
    for word in problem_words:
        assert word in message.lower()
    assert "re-download" in message.lower() or "pick" in message.lower()
    return info.value


@pytest.mark.parametrize("keep", [3, 40, 1000, "half", "all-but-one"])
def test_truncated_model_bin(whisper_tiny_en_ct2, tmp_path, keep):
    data = (whisper_tiny_en_ct2 / "model.bin").read_bytes()
    n = {"half": len(data) // 2, "all-but-one": len(data) - 1}.get(keep, keep)
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src", model_bin=False)
    (source / "model.bin").write_bytes(data[:n])
    assert_format_error(source, tmp_path / "out", "model.bin", "truncated")


@pytest.mark.parametrize(
    "content",
    [
        np.random.default_rng(0).bytes(4096),
        b"this is not a model\n" * 10,
        b"",
        struct.pack("<I", 6) + b"\xff" * 64,  # right version, then garbage
        struct.pack("<I", 99) + _ct2_string("WhisperSpec") + struct.pack("<II", 3, 0),
    ],
    ids=["random", "text", "empty", "garbage-after-version", "future-version"],
)
def test_garbage_model_bin(whisper_tiny_en_ct2, tmp_path, content):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src", model_bin=False)
    (source / "model.bin").write_bytes(content)
    assert not is_ct2_whisper_folder(source)
    assert_format_error(source, tmp_path / "out", "model.bin")


def test_trailing_bytes_rejected(whisper_tiny_en_ct2, tmp_path):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src")
    with open(source / "model.bin", "ab") as f:
        f.write(b"\0" * 16)
    assert_format_error(source, tmp_path / "out", "model.bin", "unexpected bytes")


def test_non_whisper_spec(whisper_tiny_en_ct2, tmp_path):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src", model_bin=False)
    header = struct.pack("<I", 6) + _ct2_string("TransformerSpec") + struct.pack("<I", 7)
    write_ct2(source / "model.bin", header, [("encoder/num_heads", np.array(8, np.int16), 2)], [])
    assert not is_ct2_whisper_folder(source)
    assert_format_error(source, tmp_path / "out", "model.bin", "transformerspec", "not a whisper")


def test_missing_variable(whisper_tiny_en_ct2, tmp_path):
    header, variables, aliases = read_ct2(whisper_tiny_en_ct2 / "model.bin")
    dropped = "decoder/layer_2/attention/linear_2/weight"
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src", model_bin=False)
    write_ct2(source / "model.bin", header, [v for v in variables if v[0] != dropped], aliases)
    assert is_ct2_whisper_folder(source)
    assert_format_error(source, tmp_path / "out", "model.bin", "missing", dropped)


def test_corrupt_weights_rejected(whisper_tiny_en_ct2, tmp_path):
    header, variables, aliases = read_ct2(whisper_tiny_en_ct2 / "model.bin")
    broken = "encoder/layer_1/ffn/linear_0/weight"
    variables = [(n, np.full_like(a, np.nan) if n == broken else a, t) for n, a, t in variables]
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src", model_bin=False)
    write_ct2(source / "model.bin", header, variables, aliases)
    assert_format_error(source, tmp_path / "out", "model.bin", broken, "nan")


def test_missing_config_json(whisper_tiny_en_ct2, tmp_path):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src")
    (source / "config.json").unlink()
    assert_format_error(source, tmp_path / "out", "config.json", "missing")


def test_invalid_config_json(whisper_tiny_en_ct2, tmp_path):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src")
    (source / "config.json").write_text("{not json")
    assert_format_error(source, tmp_path / "out", "config.json", "json")


def test_missing_model_bin(whisper_tiny_en_ct2, tmp_path):
    source = copy_folder(whisper_tiny_en_ct2, tmp_path / "src", model_bin=False)
    assert not is_ct2_whisper_folder(source)
    assert_format_error(source, tmp_path / "out", "model.bin", "missing")
