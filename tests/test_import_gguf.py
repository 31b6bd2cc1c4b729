"""Tests for the GGUF chat model importer (assistant/models/importers/gguf_llm.py, gguf_mlx.py, gguf_quants.py).

References are independent of the converter: the gguf package's own numpy
dequantization, and llama.cpp itself (the xllamacpp wheel) running the source file.
Small synthetic models cover what the one real file (SmolLM2, llama, Q4_1) does not:
qwen2, an untied lm_head, llama 3 rope factors, and K-quants (random blocks, as the gguf
package has no K-quant quantizer).
"""

from __future__ import annotations

import ctypes

try:  # MLX's Linux CPU wheel ships a slow BLAS; OpenBLAS must be loaded before mlx.
    ctypes.CDLL("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", mode=ctypes.RTLD_GLOBAL)
except OSError:
    pass

import filecmp
import importlib
import json
import os
import socket
import types
from pathlib import Path

import gguf
import mlx.core as mx
import numpy as np
import pytest

from assistant.models.errors import ModelFormatError
from assistant.runtime.paths import models_dir
from assistant.models.importers import gguf_llm, gguf_mlx, gguf_quants
from assistant.models.importers.gguf_llm import convert_gguf, dequantize_for_cpu, is_gguf_file

# --- helpers -----------------------------------------------------------------------------


def llama_cpp_row_order(rows: int, n_head: int) -> np.ndarray:
    """Index array such that gguf_rows = hf_rows[index], as llama.cpp's converter orders Q/K.

    Written from the rotary layouts, not from the converter: in each head llama.cpp wants
    the rotated pairs adjacent (j, j + half), Hugging Face keeps the two halves apart.
    """
    head_dim = rows // n_head
    half = head_dim // 2
    index = np.empty(rows, dtype=np.int64)
    for h in range(n_head):
        for j in range(half):
            for s in range(2):
                index[h * head_dim + 2 * j + s] = h * head_dim + s * half + j
    return index


def to_hf_rows(gguf_rows: np.ndarray, n_head: int) -> np.ndarray:
    hf = np.empty_like(gguf_rows)
    hf[llama_cpp_row_order(len(gguf_rows), n_head)] = gguf_rows
    return hf


def reference_dequantize(reader, name: str) -> np.ndarray:
    tensor = next(t for t in reader.tensors if t.name == name)
    shape = tuple(int(n) for n in reversed(tensor.shape))
    return gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type).reshape(shape).astype(np.float32)


def mlx_dequantize(weights: dict, module: str, bits: int, group_size: int = 32) -> np.ndarray:
    # float32 scales so MLX computes scale * code + bias exactly as numpy does.
    w = mx.dequantize(
        weights[f"{module}.weight"],
        weights[f"{module}.scales"].astype(mx.float32),
        weights[f"{module}.biases"].astype(mx.float32),
        group_size=group_size,
        bits=bits,
    )
    return np.array(w)


def dequantize_converted(converted: gguf_quants.MlxQuantized) -> np.ndarray:
    weights = {"w.weight": mx.array(converted.weight), "w.scales": mx.array(converted.scales),
               "w.biases": mx.array(converted.biases)}
    return mlx_dequantize(weights, "w", converted.bits, converted.group_size)


TOP_LOGPROBS = 20  # the next tokens whose log-probabilities llama.cpp is asked for, at each position


class LlamaCpp:
    """llama.cpp itself (the xllamacpp wheel, in-process) running a GGUF file: the reference the converted model is
    held to, independent of the converter.

    xllamacpp runs llama.cpp's server, which gives no raw logits: it gives the top log-probabilities of the next
    token (a plain softmax of llama.cpp's logits, whatever the sampling settings), so each position is asked for in
    turn, the prompt cache reading one more token each time. Its tokenizer answers only on the server's socket."""

    def __init__(self, path: Path, socket_dir: Path) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = 128
        params.n_parallel = 1
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = os.cpu_count() or 1
        # Attention exactly in float32: a float16 KV cache, or flash attention (float16 inside on a CPU, whatever
        # the cache), puts its log-probabilities ~1e-2 off.
        params.cache_type_k = params.cache_type_v = xllamacpp.ggml_type.GGML_TYPE_F32
        params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.hostnames = [str(socket_dir / "llama.sock")]  # a Unix socket: no network port
        params.verbosity = -1
        params.warmup = False
        params.fit_params = False
        self._socket = socket_dir / "llama.sock"
        self._server = xllamacpp.Server(params)
        [self._plain_token] = self.tokenize("a")

    def close(self) -> None:
        self._server = None  # its destructor stops llama.cpp and frees the model

    def tokenize(self, text: str) -> list[int]:
        body = json.dumps({"content": text, "add_special": False, "parse_special": True}).encode()
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(30)
            connection.connect(str(self._socket))
            connection.sendall(b"POST /tokenize HTTP/1.0\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            response = b"".join(iter(lambda: connection.recv(65536), b""))
        head, _, payload = response.partition(b"\r\n\r\n")
        assert head.split()[1] == b"200", response
        return json.loads(payload)["tokens"]

    def top_logprobs(self, ids: list[int]) -> list[dict[int, float]]:
        """For each position of ``ids``, the log-probabilities of the TOP_LOGPROBS likeliest next tokens, likeliest
        first."""
        positions = []
        for end in range(1, len(ids) + 1):
            result = self._server.handle_completions({
                "prompt": ids[:end], "n_predict": 1, "n_probs": TOP_LOGPROBS, "cache_prompt": True,
                # The token it answers with is forced to "a": llama.cpp withholds the log-probabilities of a token that
                # ends inside a UTF-8 character. The bias steers the sampler only; what it reports is the raw logits'.
                "logit_bias": [[self._plain_token, 1000]], "temperature": 0,
            })
            assert "error" not in result, result
            [first] = result["choices"][0]["logprobs"]["content"]
            positions.append({entry["id"]: entry["logprob"] for entry in first["top_logprobs"]})
        return positions


@pytest.fixture()
def llama_cpp(tmp_path):
    """Opens GGUF files in llama.cpp; each is closed after the test."""
    opened: list[LlamaCpp] = []

    def open_file(path: Path) -> LlamaCpp:
        folder = tmp_path / f"llama-{len(opened)}"
        folder.mkdir()
        opened.append(LlamaCpp(path, folder))
        return opened[-1]

    yield open_file
    for model in opened:
        model.close()


def float32_copy(source: Path, dest: Path) -> Path:
    """``source`` with every tensor dequantized to float32 by the gguf package (not by the converter under test):
    what llama.cpp runs exactly, where it would multiply quantized weights with 8-bit activations (~1 logit off)."""
    reader = gguf.GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dest, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), field.types[0], sub_type)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, reference_dequantize(reader, tensor.name))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def assert_logprobs_match(logits: np.ndarray, expected: list[dict[int, float]], tolerance: float) -> None:
    """MLX's ``logits`` give llama.cpp's likeliest next token at every position, and the same log-probabilities for
    its top tokens (within ``tolerance``)."""
    assert len(logits) == len(expected)
    shifted = logits.astype(np.float64) - logits.max(-1, keepdims=True)
    logprobs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    for position, top in enumerate(expected):
        assert len(top) == TOP_LOGPROBS, position
        assert logprobs[position].argmax() == next(iter(top)), f"position {position}: another token is likeliest"
        ids, values = np.array(list(top)), np.array(list(top.values()))
        # Below e^-87 a float probability is denormal and its log loses digits: the model is too sure to compare.
        assert values.min() > -80, f"position {position}: llama.cpp's top log-probabilities reach {values.min():.3g}"
        error = np.abs(logprobs[position, ids] - values)
        assert error.max() < tolerance, f"position {position}: log-probabilities {error.max():.2g} apart"


def mlx_logits(folder: Path, ids: list[int]) -> np.ndarray:
    from mlx_lm.utils import load_model

    model, _ = load_model(folder)
    dequantize_for_cpu(model)
    return np.array(model(mx.array([ids]))[0].astype(mx.float32))


# --- synthetic models --------------------------------------------------------------------

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 256, 2, 4, 2, 512  # K-quants need rows of 256
HEAD_DIM = HIDDEN // HEADS
TOKEN_IDS = [1, 504, 3575, 282, 4649, 314, 2, 17, 99, 4000, 123, 7, 42, 2024, 9, 31000]


@pytest.fixture(scope="module")
def smollm2_tokenizer(smollm2_gguf) -> dict:
    """The tokenizer metadata of the real file, so synthetic models load in llama.cpp."""
    reader = gguf.GGUFReader(smollm2_gguf)
    field = lambda key: reader.fields[key].contents()  # noqa: E731
    return {
        "tokens": field("tokenizer.ggml.tokens"),
        "types": field("tokenizer.ggml.token_type"),
        "merges": field("tokenizer.ggml.merges"),
        "template": field("tokenizer.chat_template"),
    }


# Where each type keeps its float16 scales (d, and dmin or m): any other bytes make a valid
# block, so random bytes with sane scales are a K-quant tensor without a K-quant quantizer.
FP16_FIELDS = {
    "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "Q4_K": (0, 2),
    "Q5_K": (0, 2), "Q6_K": (208,), "Q2_K": (80, 82), "Q3_K": (108,), "IQ4_NL": (0,),
}
# The largest |weight| / d of each type (code times sub-scale), to keep weights near 0.1.
CODE_RANGE = {
    "Q4_0": 8, "Q4_1": 15, "Q5_0": 16, "Q5_1": 31, "Q8_0": 128, "Q4_K": 945, "Q5_K": 1953,
    "Q6_K": 4096, "Q2_K": 45, "Q3_K": 128, "IQ4_NL": 127,
}


def random_blocks(type_name: str, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Random but valid ggml blocks of ``type_name`` for a (rows, cols) matrix, as a GGUF stores them."""
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]]
    data = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    for offset in FP16_FIELDS[type_name]:
        d = rng.uniform(0.5, 1.0, size=data.shape[:2]) * 0.1 / CODE_RANGE[type_name]
        data[..., offset : offset + 2] = d.astype(np.float16)[..., None].view(np.uint8)
    return data.reshape(rows, -1)


def write_tiny_gguf(
    path: Path,
    arch: str,
    tokenizer: dict | None,
    *,
    vocab: int = 49152,
    tied: bool = True,
    embedding_std: float = 1.0,
    rope_factors: np.ndarray | None = None,
    chat_template: bool = True,
    seed: int = 0,
    quant: dict[str, str] | None = None,
    file_type: int = 0,
    extra: dict[str, np.ndarray] | None = None,
) -> Path:
    """A random 2-layer model written the way llama.cpp's converter writes ``arch``.

    Values are float16-representable so the converter's float16 copy is exact. Tensors
    named in ``quant`` are random blocks of the ggml type given there instead; ``extra``
    tensors are added as they are.
    """
    rng = np.random.default_rng(seed)

    def add(name: str, values: np.ndarray) -> None:
        type_name = (quant or {}).get(name)
        if type_name is None:
            writer.add_tensor(name, values)
        else:
            blocks = random_blocks(type_name, *values.shape, rng)
            writer.add_tensor(name, blocks, raw_dtype=gguf.GGMLQuantizationType[type_name])

    def rand(*shape: int, std: float = 0.05, mean: float = 0.0) -> np.ndarray:
        return (mean + rng.standard_normal(shape) * std).astype(np.float16).astype(np.float32)

    writer = gguf.GGUFWriter(path, arch)
    writer.add_block_count(LAYERS)
    writer.add_context_length(2048)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_file_type(file_type)
    if tokenizer is not None:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("smollm")
        writer.add_token_list(tokenizer["tokens"][:vocab])
        writer.add_token_types(tokenizer["types"][:vocab])
        writer.add_token_merges(tokenizer["merges"])
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
        if chat_template:
            writer.add_chat_template(tokenizer["template"])

    add("token_embd.weight", rand(vocab, HIDDEN, std=embedding_std))
    add("output_norm.weight", rand(HIDDEN, std=0.1, mean=1.0))
    if not tied:
        add("output.weight", rand(vocab, HIDDEN))
    if rope_factors is not None:
        add("rope_freqs.weight", rope_factors.astype(np.float32))
    for i in range(LAYERS):
        q, k = rand(HEADS * HEAD_DIM, HIDDEN), rand(KV_HEADS * HEAD_DIM, HIDDEN)
        if arch == "llama":  # llama.cpp stores llama Q/K rows in its interleaved rotary order
            q, k = q[llama_cpp_row_order(len(q), HEADS)], k[llama_cpp_row_order(len(k), KV_HEADS)]
        add(f"blk.{i}.attn_q.weight", q)
        add(f"blk.{i}.attn_k.weight", k)
        add(f"blk.{i}.attn_v.weight", rand(KV_HEADS * HEAD_DIM, HIDDEN))
        add(f"blk.{i}.attn_output.weight", rand(HIDDEN, HEADS * HEAD_DIM))
        if arch == "qwen2":
            add(f"blk.{i}.attn_q.bias", rand(HEADS * HEAD_DIM, std=0.5))
            add(f"blk.{i}.attn_k.bias", rand(KV_HEADS * HEAD_DIM, std=0.5))
            add(f"blk.{i}.attn_v.bias", rand(KV_HEADS * HEAD_DIM, std=0.5))
        add(f"blk.{i}.ffn_gate.weight", rand(FFN, HIDDEN))
        add(f"blk.{i}.ffn_up.weight", rand(FFN, HIDDEN))
        add(f"blk.{i}.ffn_down.weight", rand(HIDDEN, FFN))
        add(f"blk.{i}.attn_norm.weight", rand(HIDDEN, std=0.1, mean=1.0))
        add(f"blk.{i}.ffn_norm.weight", rand(HIDDEN, std=0.1, mean=1.0))
    for name, values in (extra or {}).items():
        add(name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def convert_into(source: Path, tmp_path: Path, mlx: bool | None = None) -> tuple[Path, object]:
    dest = tmp_path / f"{source.name}-mlx"
    dest.mkdir()
    return dest, convert_gguf(source, dest, mlx=mlx)


# --- the real model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_blob(smollm2_gguf, tmp_path_factory) -> Path:
    """The real file under an Ollama-style blob name: no extension."""
    blob = tmp_path_factory.mktemp("ollama-blobs") / "sha256-5f1c0a9e2b7d4c3a"
    blob.symlink_to(smollm2_gguf)
    return blob


@pytest.fixture(scope="module")
def smollm2_converted(smollm2_blob, tmp_path_factory):
    dest = tmp_path_factory.mktemp("smollm2-mlx")
    return dest, convert_gguf(smollm2_blob, dest)


@pytest.fixture(scope="module")
def smollm2_chat(smollm2_converted):
    """The converted model loaded by mlx-lm, dequantized for a fast CPU run."""
    from mlx_lm import load

    model, tokenizer = load(str(smollm2_converted[0]))
    return dequantize_for_cpu(model), tokenizer


def test_is_gguf_file_reads_magic_not_extension(smollm2_gguf, smollm2_blob, tmp_path):
    random_file = tmp_path / "model.gguf"
    random_file.write_bytes(b"\x00GGUF" + os.urandom(100))
    assert is_gguf_file(smollm2_gguf)
    assert is_gguf_file(smollm2_blob)
    assert not is_gguf_file(random_file)
    assert not is_gguf_file(tmp_path / "missing.gguf")
    assert not is_gguf_file(tmp_path)


def test_conversion_writes_mlx_lm_folder(smollm2_gguf, smollm2_converted):
    """Q4_1/Q8_0 repack losslessly, so the automatic mode converts even on a CPU, and keeps the GGUF."""
    dest, result = smollm2_converted
    assert result.kind == "llm" and result.format == "gguf+mlx-lm"
    assert result.languages == ("en",)
    assert result.details["architecture"] == "llama"
    assert result.details["quantization"] == "Q4_1+Q8_0→mlx 4/8-bit g32"
    assert result.details["file_type"] == "Q4_1" and result.details["gguf_file"] == "model.gguf"
    assert filecmp.cmp(dest / "model.gguf", smollm2_gguf, shallow=False)
    assert result.details["context_length"] == 8192
    assert 130e6 < result.details["parameters"] < 140e6

    config = json.loads((dest / "config.json").read_text())
    assert config["tie_word_embeddings"] is True and "lm_head.weight" not in mx.load(str(dest / "model.safetensors"))
    # Q4_1 layers at the default width, the Q8_0 embedding as a per-module entry.
    assert config["quantization"] == {"group_size": 32, "bits": 4, "model.embed_tokens": {"group_size": 32, "bits": 8}}
    assert config["eos_token_id"] == 2 and config["rms_norm_eps"] == 1e-5
    assert "<|im_start|>" in (dest / "chat_template.jinja").read_text()


def test_repacked_weights_equal_gguf_dequantization(smollm2_gguf, smollm2_converted):
    reader = gguf.GGUFReader(smollm2_gguf)
    weights = mx.load(str(smollm2_converted[0] / "model.safetensors"))
    cases = [  # (gguf tensor, mlx module, bits, heads whose rows llama.cpp permuted)
        ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj", 4, 9),
        ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj", 4, 3),
        ("blk.29.attn_k.weight", "model.layers.29.self_attn.k_proj", 4, 3),
        ("blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj", 4, None),
        ("token_embd.weight", "model.embed_tokens", 8, None),
    ]
    for name, module, bits, heads in cases:
        expected = reference_dequantize(reader, name)
        if heads:
            expected = to_hf_rows(expected, heads)
        got = mlx_dequantize(weights, module, bits)
        assert got.shape == expected.shape, name
        assert np.abs(got - expected).max() < 1e-6, name


def test_quantized_model_loads_quantized(smollm2_converted):
    """mlx-lm honours the per-module widths and keeps the quantized layers; its logits agree with the dense copy."""
    import mlx.nn as nn
    from mlx_lm.utils import load_model

    model, _ = load_model(smollm2_converted[0])
    assert isinstance(model.model.embed_tokens, nn.QuantizedEmbedding) and model.model.embed_tokens.bits == 8
    assert isinstance(model.model.layers[0].self_attn.q_proj, nn.QuantizedLinear)
    assert model.model.layers[0].self_attn.q_proj.bits == 4

    ids = mx.array([TOKEN_IDS[:8]])
    model.set_dtype(mx.float32)  # float16 on CPU is both slow and too coarse to compare
    quantized = np.array(model(ids))
    dense = np.array(dequantize_for_cpu(model)(ids))
    assert np.abs(quantized - dense).max() < 1e-3


def test_logits_match_llama_cpp(smollm2_gguf, smollm2_converted, smollm2_chat, llama_cpp, tmp_path):
    """Against llama.cpp running the same weights: tokenization and every position's next-token distribution."""
    _, tokenizer = smollm2_chat
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France? Réponds en 3 mots, s'il te plaît!"}],
        add_generation_prompt=True, tokenize=False,
    )
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    assert llama_cpp(smollm2_gguf).tokenize(prompt) == ids

    # llama.cpp multiplies Q4_1 weights with 8-bit-quantized activations, ~1 logit off;
    # a float32 copy of the same weights is the exact reference.
    expected = llama_cpp(float32_copy(smollm2_gguf, tmp_path / "smollm2-f32.gguf")).top_logprobs(ids)
    assert_logprobs_match(mlx_logits(smollm2_converted[0], ids), expected, 1e-3)


@pytest.mark.parametrize(
    ("question", "answer"),
    [("What is the capital of France?", "Paris"), ("What is the chemical symbol for gold?", "Au")],
)
def test_answers_factual_question(smollm2_chat, question, answer):
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = smollm2_chat
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True)
    text = "".join(
        chunk.text
        for chunk in stream_generate(model, tokenizer, prompt, max_tokens=30, sampler=make_sampler(temp=0.0))
    )
    assert answer in text
    assert "<|im_end|>" not in text and "<|im_start|>" not in text


def test_generation_stops_at_end_of_turn(smollm2_chat):
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = smollm2_chat
    assert tokenizer.eos_token_ids == {2}  # <|im_end|>
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of Japan?"}], add_generation_prompt=True
    )
    chunks = list(stream_generate(model, tokenizer, prompt, max_tokens=30, sampler=make_sampler(temp=0.0)))
    assert chunks[-1].finish_reason == "stop"
    assert "Tokyo" in "".join(c.text for c in chunks)


# --- synthetic models: conventions the real file does not exercise -----------------------


@pytest.mark.parametrize(
    ("arch", "tied", "rope_factors"),
    [
        ("qwen2", False, None),  # q/k/v biases, untied lm_head, Q/K rows not permuted
        ("llama", True, np.linspace(1.0, 6.0, HEAD_DIM // 2)),  # Llama 3 style rope_freqs
    ],
    ids=["qwen2-untied", "llama-rope-freqs"],
)
def test_synthetic_float_model_matches_llama_cpp(arch, tied, rope_factors, smollm2_tokenizer, llama_cpp, tmp_path):
    # Embeddings of 0.1 give logits of a few units: with the default 1.0, a tied model's logits reach the hundreds and
    # all but its top token fall below what llama.cpp's float probabilities hold.
    source = write_tiny_gguf(tmp_path / f"tiny-{arch}.gguf", arch, smollm2_tokenizer, tied=tied, rope_factors=rope_factors,
                             embedding_std=0.1)
    dest, result = convert_into(source, tmp_path)
    assert result.details["architecture"] == arch
    assert result.details["quantization"] == "float→float16"
    assert_logprobs_match(mlx_logits(dest, TOKEN_IDS), llama_cpp(source).top_logprobs(TOKEN_IDS), 1e-3)


def quantized_mix(kind: str, embedding: str) -> dict[str, str]:
    """Every matrix of the tiny llama model as ``kind``, the embedding as ``embedding``."""
    names = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    return {"token_embd.weight": embedding, **{f"blk.{i}.{n}.weight": kind for i in range(LAYERS) for n in names}}


@pytest.mark.parametrize(
    ("mix", "file_type", "description"),
    [
        # Q4_K_M's types: K-quant codes kept, Q6_K re-quantized
        ({**quantized_mix("Q4_K", "Q6_K"), "blk.0.attn_v.weight": "Q6_K", "blk.1.ffn_down.weight": "Q6_K"}, 15,
         "Q4_K+Q6_K→mlx 4-bit g32 + 8-bit g64"),
        # Q4_0 with llama.cpp's usual Q6_K embedding
        (quantized_mix("Q4_0", "Q6_K"), 2, "Q4_0+Q6_K→mlx 4-bit g32 + 8-bit g64"),
    ],
    ids=["Q4_K_M", "Q4_0"],
)
def test_synthetic_quantized_model_matches_llama_cpp(mix, file_type, description, smollm2_tokenizer, llama_cpp, tmp_path):
    quantized = write_tiny_gguf(tmp_path / "tiny-q.gguf", "llama", smollm2_tokenizer, quant=mix, file_type=file_type)
    dest, result = convert_into(quantized, tmp_path, mlx=True)
    assert result.details["quantization"] == description

    expected = llama_cpp(float32_copy(quantized, tmp_path / "tiny-q-f32.gguf")).top_logprobs(TOKEN_IDS)
    # Q4_K scales are rounded to float16 and Q6_K re-quantized at 8 bits (a quarter of its own step): measured 0.010
    # (Q4_K_M) and 0.018 (Q4_0, whose tied Q6_K embedding is the output layer too); the float models' are 1e-5.
    assert_logprobs_match(mlx_logits(dest, TOKEN_IDS), expected, 5e-2)


# --- K-quants: the GGUF alone on a CPU, MLX's layout when converting -----------------------

# Qwen2.5 Q4_K_M's mix of types, scaled down; Q5_1 and Q5_K added to cover every kept-code type.
Q4_K_M_MIX = {
    "token_embd.weight": "Q5_0",
    "output.weight": "Q8_0",
    **{f"blk.{i}.{name}.weight": "Q5_0" for i in range(LAYERS) for name in ("attn_q", "attn_k", "attn_output")},
    "blk.0.attn_v.weight": "Q8_0",
    "blk.1.attn_v.weight": "Q5_1",
    **{f"blk.{i}.ffn_gate.weight": "Q4_K" for i in range(LAYERS)},
    **{f"blk.{i}.ffn_up.weight": "Q5_K" for i in range(LAYERS)},
    "blk.0.ffn_down.weight": "Q6_K",
    "blk.1.ffn_down.weight": "Q4_K",
}
# The MLX layout each type gets: (bits, group size), and whether it is bit for bit.
EXPECTED_LAYOUT = {
    "Q5_0": (5, 32, True), "Q5_1": (5, 32, True), "Q8_0": (8, 32, True), "Q4_0": (4, 32, True),
    "Q4_1": (4, 32, True), "Q4_K": (4, 32, False), "Q5_K": (5, 32, False), "Q6_K": (8, 64, False),
    "Q2_K": (6, 64, False), "Q3_K": (6, 64, False), "IQ4_NL": (6, 64, False),
}
# The real default model, when the default pack has installed it (not in CI's store otherwise).
QWEN_GGUF = models_dir() / "qwen2.5-coder-0.5b-instruct" / "model.gguf"


@pytest.fixture(scope="module")
def kquant_gguf(smollm2_tokenizer, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kquant")
    return write_tiny_gguf(
        folder / "tiny-q4_k_m.gguf", "qwen2", smollm2_tokenizer, tied=False, quant=Q4_K_M_MIX, file_type=15
    )


@pytest.fixture(scope="module")
def kquant_converted(kquant_gguf, tmp_path_factory):
    dest = tmp_path_factory.mktemp("kquant-mlx")
    return dest, convert_gguf(kquant_gguf, dest, mlx=True)


def assert_within_quantization_error(got: np.ndarray, expected: np.ndarray, type_name: str, name: str) -> None:
    """Equal for bit-for-bit types; otherwise tight per type, and always within half a 4-bit step."""
    error = np.abs(got - expected)
    bits, group, exact = EXPECTED_LAYOUT[type_name]
    groups = expected.reshape(len(expected), -1, 64)
    half_4bit_step = ((groups.max(-1) - groups.min(-1)) / 15 / 2).repeat(64, axis=-1)
    assert (error <= half_4bit_step + 1e-7).all(), name
    if exact:
        assert error.max() == 0, name
    elif type_name in ("Q4_K", "Q5_K"):  # codes kept, scale and bias rounded to float16
        assert error.max() <= 2e-3 * np.abs(expected).max(), name
    else:  # re-quantized: one step of its own width (mx.quantize puts 0 on its grid, which
        # can push the far end of a group up to a step away), plus float16 rounding of scale and bias
        own = expected.reshape(len(expected), -1, group)
        step = ((own.max(-1) - own.min(-1)) / (2**bits - 1)).repeat(group, axis=-1)
        rounding = (2**-10 * np.abs(own).max(-1)).repeat(group, axis=-1)
        assert (error <= step + rounding + 1e-7).all(), name


def test_auto_mode_keeps_only_the_gguf_for_k_quants_on_a_cpu(kquant_gguf, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_llm, "on_apple_gpu", lambda: False)
    dest, result = convert_into(kquant_gguf, tmp_path)
    assert result.kind == "llm" and result.format == "gguf"
    assert sorted(p.name for p in dest.iterdir()) == ["model.gguf"]
    assert filecmp.cmp(dest / "model.gguf", kquant_gguf, shallow=False)
    assert result.details["architecture"] == "qwen2" and result.details["file_type"] == "Q4_K_M"
    assert set(result.details["quantization"].split("+")) == {"Q5_0", "Q8_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"}
    assert result.details["vocab_size"] == 49152 and result.details["gguf_file"] == "model.gguf"


def test_auto_mode_converts_k_quants_on_an_apple_gpu(kquant_gguf, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_llm, "on_apple_gpu", lambda: True)
    dest, result = convert_into(kquant_gguf, tmp_path)
    assert result.format == "gguf+mlx-lm"
    assert {"model.gguf", "config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in dest.iterdir()}


def test_forced_mlx_converts_k_quants_to_mlx_layout(kquant_gguf, kquant_converted):
    dest, result = kquant_converted
    assert result.format == "gguf+mlx-lm"
    assert result.details["quantization"].endswith("→mlx 4/5/8-bit g32 + 8-bit g64")
    quantization = json.loads((dest / "config.json").read_text())["quantization"]
    assert (quantization["group_size"], quantization["bits"]) == (32, 5)  # Q5_0, the most common
    assert quantization["model.layers.0.mlp.gate_proj"] == {"group_size": 32, "bits": 4}  # Q4_K
    assert quantization["model.layers.0.mlp.down_proj"] == {"group_size": 64, "bits": 8}  # Q6_K
    assert quantization["lm_head"] == {"group_size": 32, "bits": 8}  # Q8_0
    assert filecmp.cmp(dest / "model.gguf", kquant_gguf, shallow=False)

    reader = gguf.GGUFReader(kquant_gguf)
    weights = mx.load(str(dest / "model.safetensors"))
    assert weights["model.layers.1.mlp.down_proj.weight"].dtype == mx.uint32
    for name, type_name in Q4_K_M_MIX.items():
        module, _ = gguf_mlx.hf_name(kquant_gguf, name)
        bits, group, _ = EXPECTED_LAYOUT[type_name]
        got = mlx_dequantize(weights, module, bits, group)
        assert_within_quantization_error(got, reference_dequantize(reader, name), type_name, name)


@pytest.mark.parametrize("arch", ["qwen2", "llama"])  # llama: Q/K rows un-permuted on packed codes
def test_k_quant_model_logits_match_gguf_dequantization(arch, kquant_gguf, kquant_converted, smollm2_tokenizer, tmp_path):
    """The converted folder, loaded as Parley loads it on a CPU, against a float32 model from gguf's dequantization."""
    if arch == "qwen2":
        source, (dest, _) = kquant_gguf, kquant_converted
    else:
        source = write_tiny_gguf(
            tmp_path / "tiny-llama.gguf", "llama", smollm2_tokenizer, tied=False, quant=Q4_K_M_MIX, file_type=15
        )
        dest, _ = convert_into(source, tmp_path, mlx=True)
    config = json.loads((dest / "config.json").read_text())
    del config["quantization"]
    reader = gguf.GGUFReader(source)
    permuted = {"attn_q": HEADS, "attn_k": KV_HEADS} if arch == "llama" else {}
    weights = []
    for tensor in reader.tensors:
        values = reference_dequantize(reader, tensor.name)
        if heads := permuted.get(tensor.name.split(".")[-2]):
            values = to_hf_rows(values, heads)
        weights.append((".".join(gguf_mlx.hf_name(source, tensor.name)), mx.array(values)))
    models = importlib.import_module(f"mlx_lm.models.{arch}")
    reference = models.Model(models.ModelArgs.from_dict(config))
    reference.load_weights(weights)
    expected = np.array(reference(mx.array([TOKEN_IDS]))[0])
    got = mlx_logits(dest, TOKEN_IDS)
    assert np.abs(got - expected).max() < 2e-3 * np.abs(expected).max()  # measured 2.6e-4 (qwen2), 7e-5 (llama)
    assert (got.argmax(-1) == expected.argmax(-1)).all()


@pytest.mark.parametrize("type_name", sorted(EXPECTED_LAYOUT))
def test_every_type_reaches_mlx_within_its_error(type_name):
    rows, cols = 16, 512
    blocks = random_blocks(type_name, rows, cols, np.random.default_rng(1))
    tensor = types.SimpleNamespace(
        name="w", tensor_type=gguf.GGMLQuantizationType[type_name], shape=[cols, rows], data=blocks
    )
    converted = gguf_quants.to_mlx(tensor)
    assert (converted.bits, converted.group_size, converted.exact) == EXPECTED_LAYOUT[type_name]
    assert converted.weight.shape == (rows, cols * converted.bits // 32)
    assert converted.scales.dtype == np.float16 and converted.scales.shape == (rows, cols // converted.group_size)
    expected = gguf.quants.dequantize(blocks, tensor.tensor_type).astype(np.float32)
    assert_within_quantization_error(dequantize_converted(converted), expected, type_name, type_name)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
def test_packed_codes_read_back_in_mlx(bits):
    codes = np.random.default_rng(bits).integers(0, 2**bits, size=(4, 128), dtype=np.uint8)
    packed = mx.array(gguf_quants.pack_codes(codes, bits))
    ones, zeros = mx.ones((4, 4)), mx.zeros((4, 4))
    assert (np.array(mx.dequantize(packed, ones, zeros, group_size=32, bits=bits)) == codes).all()


@pytest.mark.skipif(not QWEN_GGUF.is_file(), reason=f"the default chat model is not installed at {QWEN_GGUF}")
def test_real_qwen_k_quant_tensors_reach_mlx_within_their_error():
    """One tensor of each type of the real Qwen2.5 Q4_K_M file (Q5_0, Q8_0, Q4_K, Q6_K)."""
    reader = gguf.GGUFReader(QWEN_GGUF)
    first = {}
    for tensor in reader.tensors:
        if len(tensor.shape) == 2 and tensor.name.startswith("blk."):
            first.setdefault(tensor.tensor_type.name, tensor)
    assert {"Q5_0", "Q8_0", "Q4_K", "Q6_K"} <= first.keys()
    for type_name, tensor in first.items():
        got = dequantize_converted(gguf_quants.to_mlx(tensor))
        assert_within_quantization_error(got, reference_dequantize(reader, tensor.name), type_name, tensor.name)


def test_truncated_k_quant_file_is_refused_without_converting(kquant_gguf, tmp_path, monkeypatch):
    """The GGUF-only path validates the whole file too."""
    monkeypatch.setattr(gguf_llm, "on_apple_gpu", lambda: False)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(kquant_gguf.read_bytes()[:-1])
    assert_refused(truncated, tmp_path, "truncated", "download")


def test_unknown_tensor_is_refused_without_converting(smollm2_tokenizer, tmp_path, monkeypatch):
    """A tensor mlx-lm has no place for means the file is not the architecture it claims."""
    monkeypatch.setattr(gguf_llm, "on_apple_gpu", lambda: False)
    extra = {"blk.0.attn_gate.weight": np.zeros((HIDDEN, HIDDEN), dtype=np.float32)}
    source = write_tiny_gguf(tmp_path / "odd.gguf", "qwen2", smollm2_tokenizer, quant=Q4_K_M_MIX, extra=extra)
    assert_refused(source, tmp_path, "blk.0.attn_gate.weight")


# --- bad input ---------------------------------------------------------------------------


def assert_refused(source: Path, tmp_path: Path, *words: str, mlx: bool | None = None) -> None:
    dest = tmp_path / "dest"
    dest.mkdir(exist_ok=True)
    with pytest.raises(ModelFormatError) as info:
        convert_gguf(source, dest, mlx=mlx)
    message = str(info.value)
    assert str(source) in message
    for word in words:
        assert word in message
    assert not any(dest.iterdir()), "nothing may be written for a refused file"


@pytest.mark.parametrize("keep", ["header", "half", "all-but-one-byte"])
def test_truncated_file_is_refused(keep, smollm2_gguf, tmp_path):
    data = smollm2_gguf.read_bytes()
    size = {"header": 100, "half": len(data) // 2, "all-but-one-byte": len(data) - 1}[keep]
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(data[:size])
    assert_refused(truncated, tmp_path, "truncated", "download")


@pytest.mark.parametrize("name", ["random.gguf", "sha256-random"])
def test_random_bytes_are_refused(name, tmp_path):
    junk = tmp_path / name
    junk.write_bytes(b"\x7fELF" + os.urandom(64 * 1024))
    assert_refused(junk, tmp_path, "not a GGUF")


def test_wrong_magic_is_refused(smollm2_tokenizer, tmp_path):
    source = write_tiny_gguf(tmp_path / "tiny.gguf", "llama", smollm2_tokenizer, vocab=64)
    data = bytearray(source.read_bytes())
    data[:4] = b"GGML"
    wrong = tmp_path / "wrong-magic.gguf"
    wrong.write_bytes(bytes(data))
    assert_refused(wrong, tmp_path, "not a GGUF")


def test_missing_file_is_refused(tmp_path):
    assert_refused(tmp_path / "nowhere.gguf", tmp_path, "does not exist")


def test_missing_tokenizer_is_refused(tmp_path):
    source = write_tiny_gguf(tmp_path / "no-tokenizer.gguf", "llama", None, vocab=64)
    assert_refused(source, tmp_path, "no tokenizer")


def test_missing_chat_template_is_refused(smollm2_tokenizer, tmp_path):
    source = write_tiny_gguf(tmp_path / "base.gguf", "llama", smollm2_tokenizer, vocab=64, chat_template=False)
    assert_refused(source, tmp_path, "chat template")


def test_unsupported_architecture_is_refused(smollm2_tokenizer, tmp_path):
    source = write_tiny_gguf(tmp_path / "phi.gguf", "phi3", smollm2_tokenizer, vocab=64)
    assert_refused(source, tmp_path, "'phi3'", "llama", "qwen2")
