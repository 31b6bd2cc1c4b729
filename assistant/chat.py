"""The chat model: mlx-lm with the model's chat template, a spoken-style system prompt, multi-turn
history trimmed to a token budget, and replies streamed token by token from the MLX worker.

Cancellation uses a generation counter: `cancel()` bumps it, and a reply whose generation is no
longer current stops before its next token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from assistant.mlx_worker import MlxWorker
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are Parley, a friendly voice assistant running privately on the user's computer. "
    "Your replies are spoken aloud, so answer in one to three short, plain sentences. "
    "Never use markdown, lists, tables, emoji or code unless the user asks for them."
)

LANGUAGE_NAMES = {
    "en": "English", "de": "German", "es": "Spanish", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "ru": "Russian", "uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic",
    "hi": "Hindi", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "vi": "Vietnamese", "id": "Indonesian",
    "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "cs": "Czech", "el": "Greek",
    "he": "Hebrew", "hu": "Hungarian", "ro": "Romanian",
}


class PromptTooLong(ModelError):
    """The user's message alone does not fit in the model's context window."""


@dataclass(frozen=True)
class ChatConfig:
    """How the chat model answers."""

    system_prompt: str = ""  # extra instructions; "" = DEFAULT_SYSTEM_PROMPT alone
    language: str = "en"  # reply language (ISO 639-1), or "auto" = the user's language
    max_reply_tokens: int = 160  # a spoken reply longer than this is a monologue
    context_tokens: int = 2048  # prompt + reply budget; history is trimmed to fit
    temperature: float = 0.0  # greedy by default: small models ramble when sampled
    repetition_penalty: float = 1.05  # greedy small models loop on one sentence without it; 1.15 derailed answers


@dataclass(frozen=True)
class Message:
    """One turn of the conversation. `interrupted` marks a reply the user cut off."""

    role: str  # "user" or "assistant"
    content: str
    interrupted: bool = False


def system_prompt(config: ChatConfig, language: str | None = None) -> str:
    """The default prompt, the user's extra instructions, and the reply-language instruction."""
    parts = [DEFAULT_SYSTEM_PROMPT]
    if config.system_prompt.strip():
        parts.append(config.system_prompt.strip())
    language = language or config.language
    if language in LANGUAGE_NAMES:
        parts.append(f"Always reply in {LANGUAGE_NAMES[language]}.")
    elif language == "auto" or config.language == "auto":
        parts.append("Reply in the language the user speaks.")
    return " ".join(parts)


def trim_history(
    system: str, history: list[Message], user_text: str, count_tokens: Callable[[list[dict]], int], budget: int
) -> list[dict]:
    """The chat messages to send: system prompt, as much recent history as fits `budget`, the user's text.

    Whole exchanges are dropped oldest first; the system prompt and the new message are always kept.
    Raises PromptTooLong when those two alone exceed the budget.
    """
    head = [{"role": "system", "content": system}]
    tail = [{"role": "user", "content": user_text}]
    needed = count_tokens(head + tail)
    if needed > budget:
        raise PromptTooLong(
            f"the message is too long for the chat model ({needed} tokens with the instructions; it reads at most "
            f"{budget}). Say or type something shorter, or choose a chat model with a longer context."
        )
    kept: list[dict] = []
    for message in reversed(history):
        # An interrupted reply is kept as far as it was heard, unmarked: a small model copied a marker such as
        # "…(interrupted)" into its next replies, and the voice read it out.
        candidate = [{"role": message.role, "content": message.content}] + kept
        if count_tokens(head + candidate + tail) > budget:
            break
        kept = candidate
    # A history must not open with an assistant turn whose question was trimmed away.
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return head + kept + tail


@dataclass(frozen=True)
class ReplyTimings:
    first_token_ms: float
    tokens: int
    tokens_per_s: float


class ChatModel:
    """A chat model on the MLX worker. Thread-safe; history lives here.

    Loading dequantizes 4-bit weights on a CPU: MLX's quantized matmuls are slow there and float32
    reaches the BLAS, while on Apple GPUs the quantized model is kept (it is faster there).
    """

    def __init__(self, worker: MlxWorker, model_path: Path, config: ChatConfig = ChatConfig(), model_id: str = ""):
        self._worker = worker
        self.model_path = Path(model_path)
        self.model_id = model_id or self.model_path.name
        self.config = config
        self._model = None
        self._tokenizer = None
        self._history: list[Message] = []
        self._lock = threading.Lock()
        self._generation = 0
        self.last_timings: ReplyTimings | None = None
        # KV cache of the last prompt, reused for the next one: a conversation's prompt grows by one
        # exchange a turn, and re-reading the whole history took seconds on a CPU. MLX thread only.
        self._prompt_cache = None
        self._cached_tokens: list[int] = []

    def load(self) -> None:
        """Load the model now (otherwise the first reply does)."""
        self.start_loading().result()

    def start_loading(self) -> Future:
        """Queue the model load on the MLX worker and return at once."""
        return self._worker.submit(self._load_on_worker)

    @property
    def history(self) -> list[Message]:
        with self._lock:
            return list(self._history)

    def reset(self) -> None:
        """Forget the conversation (and cancel a reply in progress)."""
        with self._lock:
            self._history.clear()
            self._generation += 1
        self._worker.submit(self._forget_cache)

    def cancel(self) -> None:
        """Stop the reply in progress before its next token. Thread-safe."""
        with self._lock:
            self._generation += 1

    def reply(self, user_text: str, language: str | None = None) -> Iterator[str]:
        """Stream the reply to `user_text` as text deltas; the user's turn joins the history now.

        The caller records what became of the reply with `record_reply` (all of it, or only what
        was spoken before an interruption). Raises PromptTooLong for a message that can't fit.
        """
        with self._lock:
            self._generation += 1
            generation = self._generation
            history = list(self._history)
        prompt = self._worker.call(self._prompt_on_worker, history, user_text, language)
        with self._lock:
            self._history.append(Message("user", user_text))
        return self._worker.stream(lambda: self._generate_on_worker(prompt, generation))

    def warm_up(self, language: str | None = None) -> Future:
        """Queue a one-token reply to a greeting, run and forgotten: the system prompt is then already
        in the KV cache and MLX has seen the shapes, so the first real reply starts as fast as later ones."""

        def warm() -> None:
            prompt = self._prompt_on_worker([], "Hello.", language)
            for _ in self._generate_on_worker(prompt, self._generation, max_tokens=1):
                pass

        return self._worker.submit(warm)

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        """Queue reading the next prompt into the KV cache ahead of time, so that the reply that
        follows starts with only a token or two left to read: the history as it stands (after a
        reply, while the user thinks), or the prompt for `user_text` (a transcript that may yet
        turn out to be the whole turn). If the prompt turns out different, only the shared start is kept."""
        with self._lock:
            history = list(self._history)
            generation = self._generation
        return self._worker.submit(self._prefill_on_worker, history, user_text, language, generation)

    def record_reply(self, text: str, interrupted: bool = False) -> None:
        """Add the assistant's reply to the history (only what the user heard, if interrupted)."""
        if not text.strip() and not interrupted:
            return
        with self._lock:
            self._history.append(Message("assistant", text.strip(), interrupted))

    def count_tokens(self, text: str) -> int:
        return self._worker.call(lambda: len(self._load_on_worker()[1].encode(text)))

    def _load_on_worker(self):
        if self._model is None:
            import mlx.core as mx
            from mlx_lm import load

            started = time.perf_counter()
            try:
                model, tokenizer = load(str(self.model_path))
            except Exception as exc:  # mlx-lm raises ValueError/OSError/KeyError for broken folders
                raise ModelError(f"the chat model {self.model_id} ({self.model_path}) does not load: {exc}") from exc
            if mx.default_device().type == mx.DeviceType.cpu:
                from mlx_lm.utils import dequantize_model

                model.set_dtype(mx.float32)  # widen scales first so dequantized weights keep full precision
                model = dequantize_model(model)
            mx.eval(model.parameters())
            self._model, self._tokenizer = model, tokenizer
            log.info("loaded %s in %.0f ms", self.model_id, 1000 * (time.perf_counter() - started))
        return self._model, self._tokenizer

    def _prompt_on_worker(self, history: list[Message], user_text: str, language: str | None) -> list[int]:
        _, tokenizer = self._load_on_worker()

        def count(messages: list[dict]) -> int:
            return len(tokenizer.apply_chat_template(messages, add_generation_prompt=True))

        budget = self.config.context_tokens - self.config.max_reply_tokens
        messages = trim_history(system_prompt(self.config, language), history, user_text, count, budget)
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True)

    def _prefill_on_worker(self, history: list[Message], user_text: str | None, language: str | None,
                           generation: int) -> None:
        import mlx.core as mx

        if generation != self._generation:
            return  # a reply or a reset came first: its cache is the one to keep
        model, tokenizer = self._load_on_worker()
        if user_text is None:
            budget = self.config.context_tokens - self.config.max_reply_tokens
            messages = trim_history(system_prompt(self.config, language), history, "", lambda m: len(
                tokenizer.apply_chat_template(m, add_generation_prompt=True)), budget)[:-1]
            tokens = tokenizer.apply_chat_template(messages, add_generation_prompt=False)
        else:
            tokens = self._prompt_on_worker(history, user_text, language)[:-1]  # the reply reads the last one
        to_read = self._reuse_cache(model, tokens)
        if to_read:
            model(mx.array(to_read)[None], cache=self._prompt_cache)
            mx.eval([c.state for c in self._prompt_cache])

    def _forget_cache(self) -> None:
        self._prompt_cache, self._cached_tokens = None, []

    def _reuse_cache(self, model, prompt: list[int]) -> list[int]:
        """Keep the cached prefix shared with `prompt` and return the tokens still to be read."""
        from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache, trim_prompt_cache

        shared = 0
        for cached, new in zip(self._cached_tokens, prompt):
            if cached != new:
                break
            shared += 1
        shared = min(shared, len(prompt) - 1)  # the model must read at least one token
        cache = self._prompt_cache
        if cache is None or not can_trim_prompt_cache(cache) or shared == 0:
            self._prompt_cache, shared = make_prompt_cache(model), 0
        else:
            trim_prompt_cache(cache, cache[0].offset - shared)
        self._cached_tokens = list(prompt)
        return prompt[shared:]

    def _keep_only_prompt_in_cache(self, prompt_length: int) -> None:
        """Drop the reply's tokens from the cache: the next prompt re-renders the reply through the template."""
        from mlx_lm.models.cache import trim_prompt_cache

        cache = self._prompt_cache
        if cache is not None and cache[0].offset > prompt_length:
            trim_prompt_cache(cache, cache[0].offset - prompt_length)
        if cache is None or cache[0].offset != prompt_length:
            self._forget_cache()

    def _generate_on_worker(self, prompt: list[int], generation: int, max_tokens: int = 0) -> Iterator[str]:
        model, tokenizer = self._load_on_worker()
        try:
            yield from self._generate_cached(model, tokenizer, prompt, generation, max_tokens or self.config.max_reply_tokens)
        finally:
            self._keep_only_prompt_in_cache(len(prompt))

    def _generate_cached(self, model, tokenizer, prompt: list[int], generation: int, max_tokens: int) -> Iterator[str]:
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_logits_processors, make_sampler

        to_read = self._reuse_cache(model, prompt)
        started = time.perf_counter()
        first = None
        count = 0
        sampler = make_sampler(self.config.temperature, top_p=0.9 if self.config.temperature else 0.0)
        processors = make_logits_processors(repetition_penalty=self.config.repetition_penalty, repetition_context_size=64)
        for response in stream_generate(model, tokenizer, to_read, max_tokens=max_tokens,
                                        sampler=sampler, logits_processors=processors, prompt_cache=self._prompt_cache):
            if self._generation != generation:
                log.info("reply cancelled after %d tokens", count)
                return
            count += 1
            if first is None:
                first = time.perf_counter() - started
            if response.text:
                yield response.text
        elapsed = time.perf_counter() - started
        if first is not None:
            rate = (count - 1) / (elapsed - first) if count > 1 and elapsed > first else 0.0
            self.last_timings = ReplyTimings(1000 * first, count, rate)
