"""The llama.cpp chat engine on the real default model (Qwen2.5 Coder 0.5B, Q4_K_M GGUF): it answers in the
user's language, streams, stops when cancelled, reads prefilled prompts without changing a reply, trims the
history to its context, and says clearly when the file is broken."""

from __future__ import annotations

import logging
import threading

import pytest

from assistant.chat import ChatConfig, PromptTooLong
from assistant.chat.llama_cpp_engine import LlamaCppChat
from assistant.models.errors import ModelError

DEFAULT_LLM = "qwen2.5-coder-0.5b-instruct"
HANG_GUARD_S = 120

pytestmark = pytest.mark.timeout(HANG_GUARD_S)


@pytest.fixture(scope="module")
def qwen_gguf(default_store):
    model = default_store.get(DEFAULT_LLM)
    assert model is not None and model.gguf_file is not None, "the default pack keeps the chat model's GGUF"
    return model.gguf_file


@pytest.fixture(scope="module")
def chat(qwen_gguf):
    engine = LlamaCppChat(qwen_gguf, ChatConfig(language="auto"), DEFAULT_LLM)
    engine.load()
    yield engine
    engine.close(5)


@pytest.fixture(autouse=True)
def _fresh_conversation(request):
    if "chat" in request.fixturenames:
        request.getfixturevalue("chat").reset()


def ask(chat: LlamaCppChat, text: str, language: str | None = None) -> str:
    reply = "".join(chat.reply(text, language))
    chat.record_reply(reply)
    return reply


@pytest.mark.parametrize("question, answer, language", [
    ("What is the capital of France?", "Paris", "en"),
    ("한국의 수도는 어디인가요?", "서울", "ko"),
    ("中国的首都是哪里？", "北京", "zh"),
])
def test_it_answers_in_the_language_asked(chat, question, answer, language):
    assert answer in ask(chat, question, language)
    assert chat.last_timings is not None and chat.last_timings.tokens > 0 and chat.last_timings.tokens_per_s > 0


def test_replies_stream_as_text_deltas_and_join_the_history(chat):
    deltas = list(chat.reply("Name three colors."))
    assert len(deltas) > 3 and all(isinstance(d, str) for d in deltas)
    chat.record_reply("".join(deltas))
    assert [m.role for m in chat.history] == ["user", "assistant"]


def test_a_follow_up_uses_the_history(chat):
    ask(chat, "My name is Ada. Please remember it.")
    assert "Ada" in ask(chat, "What is my name?")


def test_cancel_from_another_thread_stops_the_reply_before_its_next_token(chat):
    received: list[str] = []
    cancelled_at = None
    for delta in chat.reply("Tell me a long story about a dragon and a knight, with many details."):
        received.append(delta)
        if len(received) == 5:
            threading.Thread(target=chat.cancel).start()
            threading.Event().wait(0.2)  # a few tokens' time: they must not come through
            cancelled_at = len(received)
    assert cancelled_at == 5 and len(received) <= cancelled_at + 1


def test_leaving_a_reply_frees_the_model_for_the_next(chat):
    for count, _ in enumerate(chat.reply("Count from one to one hundred in words."), 1):
        if count == 3:
            break
    assert "Paris" in ask(chat, "What is the capital of France?")


def test_a_prefilled_prompt_gives_the_same_reply_token_for_token(chat):
    question = "Why is the sky blue? One sentence."
    cold = ask(chat, question)
    chat.reset()
    chat.prefill(question).result()
    assert ask(chat, question) == cold
    follow_up = "And why are sunsets red?"
    chat.reset()
    ask(chat, question)
    plain = ask(chat, follow_up)
    chat.reset()
    ask(chat, question)
    chat.prefill().result()  # the history, as the conversation does while the user thinks
    assert ask(chat, follow_up) == plain


def test_a_new_start_restores_the_saved_system_prompt_and_replies_the_same(qwen_gguf, tmp_path, caplog):
    question = "Why is the sky blue? One sentence."
    replies = []
    for start in ("first", "restored", "damaged file"):
        if start == "damaged file":
            [saved] = tmp_path.glob("*.kv")
            saved.write_bytes(saved.read_bytes()[:1000])
        engine = LlamaCppChat(qwen_gguf, ChatConfig(), DEFAULT_LLM, saved_prompts_dir=tmp_path)
        caplog.clear()
        try:
            with caplog.at_level(logging.INFO, logger="assistant.chat.llama_cpp_engine"):
                replies.append(ask(engine, question))
        finally:
            engine.close(5)
        files = list(tmp_path.iterdir())
        assert len(files) == 1 and files[0].suffix == ".kv" and files[0].stat().st_size > 100_000, files
        logged = caplog.text
        assert ("cache restored" in logged) == (start == "restored"), logged
        assert ("did not restore" in logged) == (start == "damaged file"), logged
    assert replies[1] == replies[0] and replies[2] == replies[0]


def test_the_history_is_trimmed_to_the_context(qwen_gguf):
    small = LlamaCppChat(qwen_gguf, ChatConfig(context_tokens=400, max_reply_tokens=40), DEFAULT_LLM)
    try:
        for n in range(6):
            small.chat_history.add_user(f"Here is fact number {n}: " + "the quick brown fox jumps over the lazy dog. " * 4)
            small.record_reply(f"Noted fact {n}.")
        messages = small._messages(small.history, "Which facts do you know?", None)
        assert messages[0]["role"] == "system" and messages[-1]["content"] == "Which facts do you know?"
        assert 1 < len(messages) < 2 + 12  # the oldest exchanges went
        assert "fact number 5" in messages[-3]["content"]  # the newest stayed
        assert "".join(small.reply("Which facts do you know?"))
        with pytest.raises(PromptTooLong, match="too long"):
            small.reply("word " * 1000)
    finally:
        small.close(5)


def test_count_tokens(chat):
    assert chat.count_tokens("") == 0
    assert 1 <= chat.count_tokens("hello") <= chat.count_tokens("hello world, how are you today?")


def test_a_truncated_model_file_says_what_to_do(qwen_gguf, tmp_path):
    broken = tmp_path / "model.gguf"
    with open(qwen_gguf, "rb") as source:
        broken.write_bytes(source.read(4 << 20))
    engine = LlamaCppChat(broken, ChatConfig(), "broken-llm")
    try:
        with pytest.raises(ModelError, match="broken-llm.*does not load in llama.cpp.*Reinstall"):
            engine.load()
        with pytest.raises(ModelError, match="does not load"):
            list(engine.reply("Hello?"))
    finally:
        engine.close(5)


def test_a_missing_model_file_says_how_to_get_it(tmp_path):
    engine = LlamaCppChat(tmp_path / "model.gguf", ChatConfig(), "gone-llm")
    try:
        with pytest.raises(ModelError, match="no GGUF file.*parley models pull gone-llm"):
            engine.load()
    finally:
        engine.close(5)


def test_close_during_a_reply_ends_it(qwen_gguf):
    engine = LlamaCppChat(qwen_gguf, ChatConfig(), DEFAULT_LLM)
    engine.load()
    received = []
    for delta in engine.reply("Tell me a long story about the sea."):
        received.append(delta)
        if len(received) == 3:
            threading.Thread(target=engine.close, args=(5,)).start()
    assert 3 <= len(received) <= 5


def test_a_load_not_yet_begun_when_closed_is_not_begun(qwen_gguf, monkeypatch):
    """xllamacpp's load holds the GIL to its end: one begun after a quit was asked for would hold up the quit."""
    import concurrent.futures

    from assistant.chat import llama_cpp_engine

    reading, go_on = threading.Event(), threading.Event()

    def slow_read(path):  # the file read before the load: the close comes meanwhile
        reading.set()
        go_on.wait(HANG_GUARD_S)

    monkeypatch.setattr(llama_cpp_engine, "_read_into_page_cache", slow_read)
    engine = LlamaCppChat(qwen_gguf, ChatConfig(), DEFAULT_LLM)
    loaded = engine.start_loading()
    assert reading.wait(HANG_GUARD_S)
    closing = threading.Thread(target=engine.close, args=(HANG_GUARD_S,))
    closing.start()
    assert engine._closing.wait(HANG_GUARD_S)
    go_on.set()
    with pytest.raises(concurrent.futures.CancelledError):
        loaded.result(HANG_GUARD_S)
    closing.join(HANG_GUARD_S)
    assert engine._server is None
