"""The chat model and the transcriber on tiny models of the real architectures, built here in seconds.

* Chat: a 2-layer, 64-wide Llama with random weights, quantized to 4 bits like the default pack,
  with the real SmolLM2 tokenizer and chat template. The embedding rows of the tokenizer's special
  tokens are zero, so greedy decoding never picks one: replies never end early on an EOS, and
  every reply runs exactly to `max_reply_tokens`.
* Speech: a 2-layer, 64-wide English-only Whisper with random weights, except that its text
  decoder is wired to say one chosen phrase whatever the audio (the positional embedding alone
  selects each next token; the residual branches that would mix in the audio and earlier tokens are
  zeroed). A fully random decoder makes Whisper sample its whole token window at every fallback
  temperature (seconds; one test does that, with a shorter text context); the wired one answers in
  a fraction of a second, and lets the tests check what becomes of a phrase Whisper invents.

All MLX work, building these models included, runs on one MlxWorker, as in the app.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import asdict, replace
from pathlib import Path

import assistant  # noqa: F401  (preloads OpenBLAS before mlx)
import assistant.chat.mlx_engine
import numpy as np
import pytest

from assistant.chat import ChatConfig, Message, PromptTooLong, ReplyTimings, trim_history
from assistant.chat.mlx_engine import MlxChat
from assistant.runtime.mlx_worker import MlxWorker
from assistant.models.errors import ModelError
from assistant.transcribe.transcriber import Transcriber, Transcript, is_invented

HANG_GUARD_S = 60
SMOLLM2_VOCAB = 49152


# --- fixtures: the worker and the tiny models ----------------------------------------------


@pytest.fixture(scope="module")
def worker():
    worker = MlxWorker()
    yield worker
    worker.close()


def _build_tiny_llama(folder: Path, tokenizer_source: Path) -> None:
    import mlx.core as mx
    from mlx_lm.models.llama import Model, ModelArgs
    from mlx_lm.utils import quantize_model, save_config, save_model

    config = dict(
        model_type="llama", hidden_size=64, num_hidden_layers=2, intermediate_size=128, num_attention_heads=4,
        num_key_value_heads=2, rms_norm_eps=1e-5, vocab_size=SMOLLM2_VOCAB, tie_word_embeddings=True,
        max_position_embeddings=8192, rope_theta=100000.0,
    )
    mx.random.seed(20240611)
    model = Model(ModelArgs(**config))
    special = [t["id"] for t in json.loads((tokenizer_source / "tokenizer.json").read_text())["added_tokens"]]
    embedding = np.array(model.model.embed_tokens.weight)
    embedding[special] = 0.0  # a zero row scores 0, below the best of 49k random logits: never chosen
    model.model.embed_tokens.weight = mx.array(embedding)
    model, config = quantize_model(model, config, group_size=32, bits=4)
    save_model(folder, model)
    save_config(config, folder / "config.json")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
        if (tokenizer_source / name).exists():
            shutil.copy(tokenizer_source / name, folder / name)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, default_store, worker) -> Path:
    source = default_store.get("smollm2-135m-instruct").path
    folder = tmp_path_factory.mktemp("tiny-llama")
    worker.call(_build_tiny_llama, folder, source)
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == SMOLLM2_VOCAB
    return folder


@pytest.fixture()
def make_chat(tiny_llama, worker):
    def make(**config) -> MlxChat:
        return MlxChat(worker, tiny_llama, ChatConfig(**config), model_id="tiny-llama")

    return make


@pytest.fixture()
def traced_generation(monkeypatch):
    """Wraps mlx_lm.stream_generate (which MlxChat looks up on each reply) to record what it does.

    Records each reply's prompt, and the thread and text of every response it hands to MlxChat.
    `gate(n)` holds the generation before its response n until `released` is set, after setting
    `reached`; for cancelling at an exact point. `window`, a semaphore, when set, is acquired before
    each response with text: the consumer releases it per delta to keep the model from running
    far ahead of it (as a real model, slower than its reader, would not).
    """
    import mlx_lm

    real = mlx_lm.stream_generate

    class Trace:
        def __init__(self):
            self.prompts: list[list[int]] = []
            self.threads: list[threading.Thread] = []
            self.texts: list[str] = []
            self.forward_threads: list[threading.Thread] = []
            self.hold_at: int | None = None
            self.window: threading.Semaphore | None = None
            self.reached = threading.Event()
            self.released = threading.Event()

        def gate(self, n: int) -> None:
            self.hold_at = n

    trace = Trace()

    def traced(model, tokenizer, prompt, **kwargs):
        trace.prompts.append(list(prompt))
        for n, response in enumerate(real(model, tokenizer, prompt, **kwargs)):
            if n == trace.hold_at:
                trace.reached.set()
                trace.released.wait(HANG_GUARD_S)
            if trace.window is not None and response.text:
                trace.window.acquire(timeout=HANG_GUARD_S)
            trace.threads.append(threading.current_thread())
            trace.texts.append(response.text)
            yield response

    monkeypatch.setattr(mlx_lm, "stream_generate", traced)
    monkeypatch.setattr(assistant.chat.mlx_engine, "stream_generate", traced, raising=False)  # should chat import it once

    from mlx_lm.models.llama import Model

    def forward(self, *args, _real=Model.__call__, **kwargs):  # every pass of the model, prompt and tokens
        trace.forward_threads.append(threading.current_thread())
        return _real(self, *args, **kwargs)

    monkeypatch.setattr(Model, "__call__", forward)
    return trace


@pytest.fixture()
def traced_prompts(monkeypatch):
    """Records the thread and the token ids of each prompt MlxChat builds."""
    real = MlxChat._prompt_on_worker
    calls: list[tuple[threading.Thread, list[int]]] = []

    def traced(self, *args, **kwargs):
        prompt = real(self, *args, **kwargs)
        calls.append((threading.current_thread(), list(prompt)))
        return prompt

    monkeypatch.setattr(MlxChat, "_prompt_on_worker", traced)
    return calls


def _decode(chat: MlxChat, tokens: list[int]) -> str:
    return chat._worker.call(lambda: chat._load_on_worker()[1].decode(tokens))


# --- chat: streaming --------------------------------------------------------------------------


def test_reply_streams_str_deltas_made_on_the_worker_thread(make_chat, worker, traced_generation, traced_prompts):
    from mlx_lm.generate import generate

    chat = make_chat(max_reply_tokens=12)
    assert chat.last_timings is None
    stream = chat.reply("Hello, who are you?")
    deltas = list(stream)
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    mlx_thread = worker.call(threading.current_thread)
    assert mlx_thread.name == "mlx" and mlx_thread is not threading.current_thread()
    assert [t for t, _ in traced_prompts] == [mlx_thread]
    assert len(traced_generation.threads) == 12 and set(traced_generation.threads) == {mlx_thread}
    assert len(traced_generation.forward_threads) >= 12 and set(traced_generation.forward_threads) == {mlx_thread}
    # The deltas are exactly the generated text, in order: nothing lost, repeated or reordered.
    prompt = traced_generation.prompts[0]
    assert traced_prompts[0][1] == prompt
    expected = worker.call(lambda: generate(chat._model, chat._tokenizer, prompt, max_tokens=12))
    assert "".join(deltas) == expected
    assert isinstance(chat.last_timings, ReplyTimings)
    assert chat.last_timings.tokens == 12
    assert chat.last_timings.first_token_ms > 0 and chat.last_timings.tokens_per_s > 0
    assert chat.history == [Message("user", "Hello, who are you?")]


def test_max_reply_tokens_caps_the_reply(make_chat, traced_generation):
    short, long = make_chat(max_reply_tokens=3), make_chat(max_reply_tokens=25)
    short_text = "".join(short.reply("Tell me a story."))
    assert short.last_timings.tokens == 3
    long_text = "".join(long.reply("Tell me a story."))
    assert long.last_timings.tokens == 25
    assert [len(t) for t in (traced_generation.texts[:3], traced_generation.texts[3:])] == [3, 25]
    # Greedy decoding of the same prompt: the capped reply is the start of the longer one.
    assert len(short_text) < len(long_text) and long_text.startswith(short_text)


def test_chat_model_is_dequantized_to_float32_on_cpu(make_chat, worker):
    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    if mx.default_device().type != mx.DeviceType.cpu:
        pytest.skip("the 4-bit model is kept on a GPU")
    chat = make_chat()
    chat.load()
    model = chat._model
    assert not [name for name, m in model.named_modules() if isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding))]
    dtypes = {v.dtype for _, v in tree_flatten(model.parameters())}
    assert dtypes == {mx.float32}
    assert chat.count_tokens("Hello world") == len(worker.call(lambda: chat._tokenizer.encode("Hello world"))) > 0


def test_a_broken_chat_model_folder_raises_model_error(tmp_path, worker):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    chat = MlxChat(worker, tmp_path, model_id="broken-llm")
    with pytest.raises(ModelError, match="broken-llm"):
        chat.load()
    with pytest.raises(ModelError, match="broken-llm"):
        chat.reply("Hello?")


@pytest.mark.parametrize(
    ("setting", "detected", "wanted"),
    [
        ("en", None, "Always reply in English."),
        ("fr", None, "Always reply in French."),
        ("auto", None, "Reply in the language the user speaks."),
        ("auto", "ko", "Always reply in Korean."),
        ("auto", "th", "Reply in the language the user speaks."),  # detected, but not a named language
    ],
)
def test_system_prompt_language_instruction(setting, detected, wanted):
    from assistant.chat import DEFAULT_SYSTEM_PROMPT, system_prompt

    prompt = system_prompt(ChatConfig(language=setting, system_prompt="  Call me Sam.  "), detected)
    assert prompt.startswith(DEFAULT_SYSTEM_PROMPT + " Call me Sam. ")
    assert prompt.endswith(wanted)


# --- chat: cancellation -----------------------------------------------------------------------


def test_cancel_from_another_thread_ends_the_reply_within_a_few_tokens(make_chat, traced_generation):
    chat = make_chat(max_reply_tokens=200)
    traced_generation.window = window = threading.Semaphore(5)  # the model may run 5 deltas ahead
    received: list[str] = []
    made_at_cancel = None
    for delta in chat.reply("Please count to one thousand."):
        received.append(delta)
        if len(received) == 3:
            canceller = threading.Thread(target=chat.cancel)
            canceller.start()
            canceller.join(HANG_GUARD_S)
            made_at_cancel = len(traced_generation.texts)
            window.release(1000)  # from here on the model runs free: it has to stop by itself
        else:
            window.release()
    assert made_at_cancel is not None
    # The generation stops at the first token it makes after cancel() returned ...
    assert len(traced_generation.texts) <= made_at_cancel + 1
    # ... so the deltas still to come were made before it: a few, far fewer than the 200 allowed.
    assert len(received) <= made_at_cancel
    assert len(received) - 3 <= 5, f"{len(received) - 3} deltas arrived after cancel()"
    assert chat.last_timings is None  # a cancelled reply reports no timings

    # The next reply is not affected by the cancelled one.
    after = list(chat.reply("Never mind. Hello!"))
    assert after and chat.last_timings.tokens == 200
    assert chat.history == [Message("user", "Please count to one thousand."), Message("user", "Never mind. Hello!")]


@pytest.mark.parametrize("how", ["cancel", "reset"])
def test_cancel_stops_before_the_next_token(make_chat, traced_generation, how):
    chat = make_chat(max_reply_tokens=200)
    traced_generation.gate(6)  # the worker pauses before handing over token 7

    def cancel_when_reached():
        assert traced_generation.reached.wait(HANG_GUARD_S)
        getattr(chat, how)()
        traced_generation.released.set()

    canceller = threading.Thread(target=cancel_when_reached)
    canceller.start()
    received = list(chat.reply("Please count to one thousand."))
    canceller.join(HANG_GUARD_S)
    # Token 7 was made before the cancel took effect; it is dropped, and nothing follows it.
    assert len(traced_generation.texts) == 7
    assert received == [t for t in traced_generation.texts[:6] if t]
    assert chat.last_timings is None
    assert chat.history == ([] if how == "reset" else [Message("user", "Please count to one thousand.")])


def test_record_reply_and_reset(make_chat, traced_prompts):
    chat = make_chat(max_reply_tokens=4)
    first = "".join(chat.reply("What is the capital of France?"))
    chat.record_reply(first)
    chat.reply("And of Spain?").close()  # asked, then interrupted before a word was heard
    chat.record_reply("", interrupted=True)
    chat.record_reply("   ")  # nothing said and not interrupted: not recorded
    assert chat.history == [
        Message("user", "What is the capital of France?"),
        Message("assistant", first.strip()),
        Message("user", "And of Spain?"),
        Message("assistant", "", interrupted=True),
    ]
    "".join(chat.reply("Thanks."))
    assert "capital of France" in _decode(chat, traced_prompts[-1][1])
    chat.reset()
    assert chat.history == []
    "".join(chat.reply("Hello again."))
    prompt = _decode(chat, traced_prompts[-1][1])
    assert "capital of France" not in prompt and "Hello again." in prompt


def test_prefill_leaves_a_token_to_read_and_changes_no_reply(make_chat, traced_generation):
    plain, prefilled = make_chat(max_reply_tokens=6), make_chat(max_reply_tokens=6)
    expected = "".join(plain.reply("What is the capital of France?"))
    prefilled.prefill("What is the capital of France?").result()
    assert "".join(prefilled.reply("What is the capital of France?")) == expected
    # The reply to a prefilled message read only its last token; the plain one read the whole prompt.
    assert len(traced_generation.prompts[-1]) == 1 < len(traced_generation.prompts[0])


def test_prefill_of_the_history_then_a_different_message(make_chat, traced_generation):
    plain, prefilled = make_chat(max_reply_tokens=4), make_chat(max_reply_tokens=4)
    for chat in (plain, prefilled):
        chat.record_reply("".join(chat.reply("Hello.")))
    prefilled.prefill(None).result()  # the history, while the user thinks
    prefilled.prefill("A guess that turned out wrong.").result()  # an early transcript the user talked past
    expected = "".join(plain.reply("Tell me a joke."))
    assert "".join(prefilled.reply("Tell me a joke.")) == expected
    assert len(traced_generation.prompts[-1]) < len(traced_generation.prompts[-2])


# --- chat: history trimming -------------------------------------------------------------------


def _words(messages: list[dict]) -> int:
    return sum(len(m["content"].split()) for m in messages)


def _exchanges(n: int) -> list[Message]:
    history = []
    for i in range(n):
        history += [Message("user", f"question {i} one two"), Message("assistant", f"answer {i} one two three")]
    return history


SYSTEM = "be brief"  # 2 words
USER = "what now"  # 2 words


def test_trim_history_keeps_everything_that_fits():
    history = _exchanges(3)
    messages = trim_history(SYSTEM, history, USER, _words, budget=100)
    assert messages == (
        [{"role": "system", "content": SYSTEM}]
        + [{"role": m.role, "content": m.content} for m in history]
        + [{"role": "user", "content": USER}]
    )


def test_trim_history_drops_the_oldest_exchanges_first():
    history = _exchanges(4)  # each exchange: 4 + 5 = 9 words
    messages = trim_history(SYSTEM, history, USER, _words, budget=2 + 2 + 2 * 9, block=2)
    assert [m["content"] for m in messages] == [
        SYSTEM, "question 2 one two", "answer 2 one two three", "question 3 one two", "answer 3 one two three", USER,
    ]


def test_trim_history_never_opens_with_an_assistant_turn():
    history = _exchanges(4)
    # Room for answer 2, question 3 and answer 3, but not for question 2.
    messages = trim_history(SYSTEM, history, USER, _words, budget=2 + 2 + 9 + 5 + 2, block=1)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "question 3 one two"


def test_trim_history_keeps_an_interrupted_reply_as_heard_with_no_marker_to_copy():
    history = [Message("user", "tell me a long story"), Message("assistant", "Once upon a", interrupted=True)]
    messages = trim_history(SYSTEM, history, USER, _words, budget=100)
    assert messages[2] == {"role": "assistant", "content": "Once upon a"}
    assert not any("interrupted" in m["content"] for m in messages)


def test_trim_history_within_budget_for_every_budget():
    history = _exchanges(5) + [Message("user", "a question that was cancelled")]
    history.insert(4, Message("assistant", "cut short here", interrupted=True))
    needed = _words([{"content": SYSTEM}, {"content": USER}])
    previous_kept = -1
    for budget in range(needed, needed + 80):
        messages = trim_history(SYSTEM, history, USER, _words, budget, block=1)
        assert _words(messages) <= budget
        assert messages[0] == {"role": "system", "content": SYSTEM}
        assert messages[-1] == {"role": "user", "content": USER}
        kept = messages[1:-1]
        assert not kept or kept[0]["role"] == "user"
        # What is kept is the newest end of the history, in order.
        tail = [{"role": m.role, "content": m.content} for m in history]
        assert kept == (tail[len(tail) - len(kept):] if kept else [])
        assert len(kept) >= previous_kept  # more room never keeps less
        previous_kept = len(kept)
    assert previous_kept == len(history)


def test_trim_history_drops_whole_blocks_so_the_history_starts_at_the_same_message_for_several_turns():
    budget = 2 + 2 + 6 * 9  # six exchanges fit
    starts = []
    for turns in range(6, 14):
        messages = trim_history(SYSTEM, _exchanges(turns), USER, _words, budget, block=4)  # two exchanges a block
        assert _words(messages) <= budget and messages[1]["role"] == "user"
        starts.append(messages[1]["content"])
    # Seven exchanges: two dropped (not one); the start stays until the next block must go.
    assert starts == ["question 0 one two", "question 2 one two", "question 2 one two", "question 4 one two",
                      "question 4 one two", "question 6 one two", "question 6 one two", "question 8 one two"]


def test_trim_history_raises_when_the_message_alone_is_too_long():
    long_message = " ".join(["word"] * 50)
    with pytest.raises(PromptTooLong, match="too long") as error:
        trim_history(SYSTEM, _exchanges(2), long_message, _words, budget=40)
    assert isinstance(error.value, ModelError)
    # Exactly at the budget is fine; the history goes.
    assert trim_history(SYSTEM, _exchanges(2), long_message, _words, budget=52) == [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": long_message},
    ]


def test_prompt_stays_within_the_context_budget_over_a_long_conversation(make_chat, traced_prompts):
    context, reply_tokens = 420, 120  # room for the reply is kept free: prompts get 300 tokens
    chat = make_chat(max_reply_tokens=reply_tokens, context_tokens=context, language="fr")
    for turn in range(12):
        stream = chat.reply(f"Question number {turn}: what happened in the year {1900 + turn}?")
        assert isinstance(next(stream), str)
        stream.close()  # the user interrupts after the first word; the next turn starts at once
        chat.record_reply(f"In {1900 + turn} a great many things happened all around the world, " * 2)
    lengths = [len(p) for _, p in traced_prompts]
    assert max(lengths) + reply_tokens <= context
    assert lengths[-1] > (context - reply_tokens) // 2  # trimmed to fit, not emptied
    assert len(chat.history) == 24
    last = _decode(chat, traced_prompts[-1][1])
    assert last.startswith("<|im_start|>system\nYou are Parley")
    assert "Always reply in French." in last
    assert "Question number 11:" in last and "Question number 0:" not in last
    assert last.endswith("<|im_start|>assistant\n")
    # After the system prompt comes a user turn, never an orphaned assistant one.
    assert last.split("<|im_end|>\n")[1].startswith("<|im_start|>user\n")

    history = chat.history
    with pytest.raises(PromptTooLong, match="too long"):
        chat.reply("word " * 400)
    assert chat.history == history


# --- speech to text ---------------------------------------------------------------------------


def _whisper_dims():
    from mlx_whisper.whisper import ModelDimensions

    return ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=2,
        n_vocab=51864, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=2,
    )


def _build_tiny_whisper(folder: Path, phrase: str, unsure: bool, seed: int = 7) -> None:
    """A random tiny.en-shaped Whisper whose decoder says `phrase` (with timestamps) for any audio.

    At decoder position i only the positional embedding matters (the attention and MLP outputs are
    zero and token embeddings are small beside it), and the embedding row of the i-th wanted token
    points along position i's normalized vector, so it wins there by a wide margin. With `unsure`,
    <|nospeech|> ties with the first timestamp at position 0: Whisper's no_speech_prob is then 0.5.
    """
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_whisper.tokenizer import get_tokenizer
    from mlx_whisper.whisper import Whisper

    dims = _whisper_dims()
    mx.random.seed(seed)
    params = dict(tree_flatten(Whisper(dims, mx.float16).parameters()))
    tokenizer = get_tokenizer(multilingual=False)
    wanted = [tokenizer.timestamp_begin, *tokenizer.encode(phrase), tokenizer.timestamp_begin + 50, tokenizer.eot]
    rng = np.random.default_rng(seed)
    positions = 10.0 * rng.standard_normal((dims.n_text_ctx, dims.n_text_state))
    embedding = 0.01 * rng.standard_normal((dims.n_vocab, dims.n_text_state))
    wanted_rows: dict[int, np.ndarray] = {}
    for i, token in enumerate(wanted):  # a token wanted at several positions points along their sum
        centered = positions[i] - positions[i].mean()
        wanted_rows[token] = wanted_rows.get(token, 0.0) + 5.0 * centered / np.linalg.norm(centered)
    for token, row in wanted_rows.items():
        embedding[token] = row
    if unsure:
        embedding[tokenizer.no_speech] = embedding[wanted[0]]
    params["decoder.positional_embedding"] = mx.array(positions, dtype=mx.float16)
    params["decoder.token_embedding.weight"] = mx.array(embedding, dtype=mx.float16)
    params["decoder.ln.weight"] = mx.full((dims.n_text_state,), 2.0, dtype=mx.float16)
    params["decoder.ln.bias"] = mx.zeros((dims.n_text_state,), dtype=mx.float16)
    for name in params:
        if name.startswith("decoder.blocks.") and any(f".{part}." in name for part in ("attn.out", "mlp2")):
            params[name] = mx.zeros_like(params[name])  # also matches cross_attn.out
    folder.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(folder / "weights.safetensors"), params)
    (folder / "config.json").write_text(json.dumps({**asdict(dims), "model_type": "whisper"}))


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory, worker):
    """tiny_whisper(phrase, unsure=False) → folder of a tiny Whisper that says `phrase`."""
    root = tmp_path_factory.mktemp("tiny-whisper")
    built: dict[tuple[str, bool], Path] = {}

    def get(phrase: str, unsure: bool = False) -> Path:
        if (phrase, unsure) not in built:
            folder = root / f"model-{len(built)}"
            worker.call(_build_tiny_whisper, folder, phrase, unsure)
            built[phrase, unsure] = folder
        return built[phrase, unsure]

    yield get

    def forget():  # mlx-whisper's global model cache must not outlive the worker that made the model
        from mlx_whisper.transcribe import ModelHolder

        ModelHolder.model = ModelHolder.model_path = None

    worker.call(forget)


SILENCE = np.zeros(16000, dtype=np.float32)  # 1 s
# Long enough for more than a short single pass, short enough for one 30 s Whisper window.
LONG_SILENCE = np.zeros(25 * 16000, dtype=np.float32)
NOISE = (0.05 * np.random.default_rng(3).standard_normal(24000)).astype(np.float32)


@pytest.fixture()
def whisper_activity(monkeypatch):
    """Records the thread of every Whisper encoder/decoder pass, and every model load from disk."""
    import sys

    import mlx_whisper.load_models
    from mlx_whisper.whisper import AudioEncoder, TextDecoder

    activity = {"threads": [], "loads": []}
    for cls in (AudioEncoder, TextDecoder):
        def traced(self, *args, _real=cls.__call__, **kwargs):
            activity["threads"].append(threading.current_thread())
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", traced)

    real_load = mlx_whisper.load_models.load_model

    def counted_load(path, *args, **kwargs):
        activity["loads"].append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(mlx_whisper.load_models, "load_model", counted_load)
    monkeypatch.setattr(sys.modules["mlx_whisper.transcribe"], "load_model", counted_load)  # its ModelHolder's
    return activity


def _whisper_says(worker, folder: Path) -> tuple[str, float]:
    """What mlx-whisper itself makes of a second of silence with this model: (text, no_speech_prob)."""

    def run():
        from mlx_whisper.transcribe import ModelHolder, transcribe

        try:
            result = transcribe(SILENCE, path_or_hf_repo=str(folder), fp16=False, condition_on_previous_text=False)
        finally:
            ModelHolder.model = ModelHolder.model_path = None
        (segment,) = result["segments"]
        return segment["text"], segment["no_speech_prob"]

    return worker.call(run)


@pytest.mark.parametrize("audio", [NOISE, LONG_SILENCE], ids=["1.5s-noise", "25s-silence"])
def test_transcribe_returns_a_transcript_made_on_the_worker(tiny_whisper, worker, whisper_activity, audio):
    import mlx.core as mx
    from mlx.utils import tree_flatten

    transcriber = Transcriber(worker, tiny_whisper(" What time is it?"), "tiny-random", ("en",))
    transcript = transcriber.transcribe(audio)
    assert isinstance(transcript, Transcript)
    assert isinstance(transcript.text, str) and transcript.text == "What time is it?"
    assert transcript.language == "en"
    assert set(transcript.timings_ms) == {"stt"} and transcript.timings_ms["stt"] > 0
    second = transcriber.transcribe(SILENCE, "en")
    assert (second.text, second.language) == ("What time is it?", "en")
    threads = set(whisper_activity["threads"])
    assert len(threads) == 1 and threads.pop().name == "mlx"
    assert len(whisper_activity["loads"]) == 1  # loaded once, and mlx-whisper did not load it again
    if mx.default_device().type == mx.DeviceType.cpu:  # saved as float16; widened for the CPU's BLAS
        floats = {v.dtype for _, v in tree_flatten(transcriber._model.parameters()) if mx.issubdtype(v.dtype, mx.floating)}
        assert floats == {mx.float32}


@pytest.mark.parametrize("audio", [SILENCE, LONG_SILENCE], ids=["1s", "25s"])
@pytest.mark.parametrize(
    ("phrase", "unsure", "expected"),
    [
        (" Thanks for watching!", False, ""),
        (" Subtitles by the Amara.org community", False, ""),
        (" ご視聴ありがとうございました", False, ""),
        (" you", True, ""),  # Whisper doubts there was speech: dropped
        (" you", False, "you"),  # Whisper is sure: a person may well say it
        (" What time is it?", True, "What time is it?"),
    ],
)
def test_transcribe_drops_phrases_whisper_invents(tiny_whisper, worker, phrase, unsure, expected, audio):
    folder = tiny_whisper(phrase, unsure)
    # Whisper itself says the phrase, with the certainty wanted: dropping it is Parley's doing.
    said, no_speech_prob = _whisper_says(worker, folder)
    assert said == phrase
    assert no_speech_prob == (pytest.approx(0.5, abs=0.05) if unsure else pytest.approx(0.0, abs=0.01))
    transcript = Transcriber(worker, folder, "tiny-random", ("en",)).transcribe(audio)
    assert transcript.text == expected
    assert transcript.language == "en"


@pytest.mark.parametrize("audio", [SILENCE, LONG_SILENCE], ids=["1s", "25s"])
def test_transcribers_of_different_models_each_use_their_own(tiny_whisper, worker, audio):
    asks = Transcriber(worker, tiny_whisper(" What time is it?"), "tiny-random-a", ("en",))
    greets = Transcriber(worker, tiny_whisper(" Good morning."), "tiny-random-b", ("en",))
    assert [t.transcribe(audio).text for t in (asks, greets, asks, greets)] == [
        "What time is it?", "Good morning.", "What time is it?", "Good morning.",
    ]


def test_fully_random_whisper_gives_a_transcript(tmp_path, worker):
    """Untouched random weights: Whisper decodes garbage, and falls back through its temperatures."""

    def build():
        import mlx.core as mx
        from mlx.utils import tree_flatten
        from mlx_whisper.whisper import Whisper

        mx.random.seed(11)
        # A 64-token text context caps each decoding pass at 32 tokens (448 allows 224).
        dims = replace(_whisper_dims(), n_text_ctx=64)
        mx.save_safetensors(str(tmp_path / "weights.safetensors"), dict(tree_flatten(Whisper(dims, mx.float16).parameters())))
        (tmp_path / "config.json").write_text(json.dumps({**asdict(dims), "model_type": "whisper"}))

    worker.call(build)
    noise = (0.1 * np.random.default_rng(5).standard_normal(16000)).astype(np.float32)
    transcript = Transcriber(worker, tmp_path, "tiny-random", ("en",)).transcribe(noise)
    assert isinstance(transcript, Transcript) and isinstance(transcript.text, str)
    assert transcript.text == transcript.text.strip()
    assert transcript.language == "en" and transcript.timings_ms["stt"] > 0


def test_english_only_model_refuses_another_language(tiny_whisper, worker, whisper_activity):
    transcriber = Transcriber(worker, tiny_whisper(" What time is it?"), "tiny-random", ("en",))
    with pytest.raises(ModelError, match="tiny-random") as error:
        transcriber.transcribe(SILENCE, "ko")
    assert "'ko'" in str(error.value)
    assert whisper_activity["threads"] == []  # refused before any work


@pytest.mark.parametrize(
    ("text", "no_speech_prob", "invented"),
    [
        ("Thanks for watching!", 0.0, True),
        (" Thank you for watching.", 0.0, True),
        ("  ", 0.0, True),
        ("", 0.0, True),
        ("♪", 0.0, True),
        ("[BLANK_AUDIO]", 0.0, True),
        ("you", 0.5, True),
        ("You.", 0.3, True),
        ("you", 0.0, False),
        ("you", 0.29, False),
        ("Thank you.", 0.6, True),
        ("What time is it?", 0.0, False),
        ("What time is it?", 0.9, False),
        ("Thanks for watching the kids tonight.", 0.0, False),
        ("시청해주셔서 감사합니다.", 0.0, True),
        ("구독과 좋아요 부탁드립니다!", 0.0, True),
        ("ご視聴ありがとうございました。", 0.0, True),
        ("チャンネル登録お願いします", 0.0, True),
        ("字幕由Amara.org社区提供", 0.0, True),
        ("Sous-titres réalisés par la communauté d'Amara.org", 0.0, True),
    ],
)
def test_is_invented(text, no_speech_prob, invented):
    assert is_invented(text, no_speech_prob) is invented
