"""The chat model on MLX (mlx-lm): quantized on Apple GPUs, float32 on a CPU (the reference path there;
llama.cpp is the fast one). Replies stream token by token from the MLX worker, the one thread of all MLX work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

from assistant.chat.engine import ChatEngine
from assistant.chat.history import UNTIED, ChatHistory
from assistant.chat.prompt import ChatConfig, Message, ReplyTimings, trim_history
from assistant.chat.tool_calls import read_calls, tool_exchange
from assistant.runtime.mlx_worker import MlxWorker
from assistant.models.errors import ModelError
from assistant.tools.tool import Call

log = logging.getLogger(__name__)

class MlxChat(ChatEngine):
    """A chat model on the MLX worker.

    Loading dequantizes 4-bit weights on a CPU: MLX's quantized matmuls are slow there and float32
    reaches the BLAS, while on Apple GPUs the quantized model is kept (it is faster there).
    """

    name = "mlx"

    def __init__(self, worker: MlxWorker, model_path: Path, config: ChatConfig = ChatConfig(), model_id: str = "",
                 history: ChatHistory | None = None):
        super().__init__(config, model_id or Path(model_path).name, history)
        self._worker = worker
        self.model_path = Path(model_path)
        self._model = None
        self._tokenizer = None
        # KV cache of the last prompt, reused for the next one: a conversation's prompt grows by one
        # exchange a turn, and re-reading the whole history took seconds on a CPU. MLX thread only.
        self._prompt_cache = None
        self._cached_tokens: list[int] = []
        self._last_messages: list[dict] = []  # the last reply's request (a tool's result goes on from it)

    def start_loading(self) -> Future:
        """Queue the model load on the MLX worker and return at once."""
        return self._worker.submit(self._load_on_worker)

    def _forget_cached_prompt(self) -> None:
        self._worker.submit(self._forget_cache)

    def reply(self, user_text: str, language: str | None = None, offer_tools: bool = True) -> Iterator[str | Call]:
        generation, history = self.chat_history.begin_reply()
        prompt = self._worker.call(self._prompt_on_worker, history, user_text, language, True, offer_tools)
        self.chat_history.add_user(user_text)
        stream = self._worker.stream(lambda: self._generate_on_worker(prompt, generation))
        return read_calls(stream, self.tool_names()) if offer_tools and self.tool_specs() else stream

    def reply_with_result(self, call: Call, result: str, language: str | None = None) -> Iterator[str]:
        generation = self.chat_history.generation
        prompt = self._worker.call(self._template_on_worker, self._last_messages + tool_exchange(call, result))
        return self._worker.stream(lambda: self._generate_on_worker(prompt, generation))

    def complete(self, messages: list[dict], max_tokens: int, so_far: str = "") -> Iterator[str]:
        prompt = self._worker.call(self._template_on_worker, messages, True, False)
        if so_far:
            prompt = prompt + self._worker.call(lambda: self._load_on_worker()[1].encode(so_far, add_special_tokens=False))
        return self._worker.stream(lambda: self._generate_on_worker(prompt, UNTIED, max_tokens=max_tokens))

    def warm_up(self, language: str | None = None) -> Future:
        # One token of a reply to a greeting: the system prompt is then in the KV cache and MLX has seen the shapes.
        def warm() -> None:
            prompt = self._prompt_on_worker([], "Hello.", language)
            for _ in self._generate_on_worker(prompt, self.chat_history.generation, max_tokens=1):
                pass

        return self._worker.submit(warm)

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        # If the prompt turns out different, only the shared start of the cache is kept.
        generation, history = self.chat_history.generation, self.chat_history.messages
        return self._worker.submit(self._prefill_on_worker, history, user_text, language, generation)

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

    def _template_on_worker(self, messages: list[dict], add_generation_prompt: bool = True,
                            offer_tools: bool = True) -> list[int]:
        """The tokens of `messages` through the model's chat template, with the tools offered."""
        _, tokenizer = self._load_on_worker()
        tools = self.tool_specs() if offer_tools else []
        return tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt,
                                             **({"tools": tools} if tools else {}))

    def _messages_on_worker(self, history: list[Message], user_text: str, language: str | None) -> list[dict]:
        return trim_history(self.system_text(language), history, user_text,
                            lambda messages: len(self._template_on_worker(messages)), self.config.prompt_budget)

    def _prompt_on_worker(self, history: list[Message], user_text: str, language: str | None,
                          for_reply: bool = False, offer_tools: bool = True) -> list[int]:
        messages = self._messages_on_worker(history, user_text, language)
        if for_reply:
            self._last_messages = messages
        return self._template_on_worker(messages, offer_tools=offer_tools)

    def _prefill_on_worker(self, history: list[Message], user_text: str | None, language: str | None,
                           generation: int) -> None:
        import mlx.core as mx

        if not self.chat_history.is_current(generation):
            return  # a reply or a reset came first: its cache is the one to keep
        model, tokenizer = self._load_on_worker()
        if user_text is None:
            messages = self._messages_on_worker(history, "", language)[:-1]
            tokens = self._template_on_worker(messages, add_generation_prompt=False)
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
            if not self.chat_history.is_current(generation):
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
