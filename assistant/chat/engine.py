"""The one interface the conversation uses of a chat model, whichever engine runs it.

History, the system prompt, the language instruction, trimming and the generation counter are shared
(`ChatHistory`, `prompt`); an engine only turns messages into streamed text, as fast as it can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future

from assistant.chat.history import ChatHistory
from assistant.chat.prompt import ChatConfig, Message, ReplyTimings, system_prompt
from assistant.tools.tool import Call


class ChatEngine:
    """A chat model behind one engine. Thread-safe: replies are asked for on one thread, cancelled from another.

    Subclasses set `name` and implement `start_loading`, `reply`, `warm_up`, `prefill`, `count_tokens` and `close`.
    """

    name = ""  # "mlx", "llama.cpp" or "server": said in the conversation window and `parley doctor`
    runs_here = True  # the model runs on this computer (its work for other programs gives way to the conversation)

    def __init__(self, config: ChatConfig, model_id: str, history: ChatHistory | None = None) -> None:
        self.config = config
        self.model_id = model_id
        self.chat_history = history or ChatHistory()
        self.last_timings: ReplyTimings | None = None
        self._tool_specs: Callable[[], list[dict]] | None = None
        self._tool_prompt: Callable[[], str] | None = None

    @property
    def history(self) -> list[Message]:
        return self.chat_history.messages

    def describe(self) -> str:
        """Who answers, in a few words: 'qwen2.5-0.5b-instruct on llama.cpp'."""
        return f"{self.model_id} on {self.name}"

    def load(self) -> None:
        """Load the model now (otherwise the first reply does). Raises ModelError when it can't."""
        self.start_loading().result()

    def start_loading(self) -> Future:
        """Start loading the model and return at once."""
        raise NotImplementedError

    def use_tools(self, specs: Callable[[], list[dict]], prompt_text: Callable[[], str]) -> None:
        """Offer the tools `specs()` (OpenAI-style functions) with every reply, and add `prompt_text()` (what to
        do with them, the remembered facts) to the system prompt. Both are read at each reply.

        (The facts in the system prompt put the tools' description after them in the model's template, so a fact
        remembered makes the next prompt read ~1,200 tokens again; the conversation reads it ahead, after the
        reply. Given as a message pair after the tools instead, they cost the 0.5B model its tool calls: 9 of 24
        requests right against 21 of 24.)"""
        self._tool_specs, self._tool_prompt = specs, prompt_text

    def tool_specs(self) -> list[dict]:
        return self._tool_specs() if self._tool_specs is not None else []

    def tool_names(self) -> set[str]:
        return {spec["function"]["name"] for spec in self.tool_specs()}

    def system_text(self, language: str | None) -> str:
        """The system prompt of a reply in `language`: the built-in one, the user's, the tools'."""
        text = system_prompt(self.config, language)
        extra = self._tool_prompt() if self._tool_prompt is not None else ""
        return f"{text} {extra}" if extra else text

    def reply(self, user_text: str, language: str | None = None, offer_tools: bool = True) -> Iterator[str | Call]:
        """Stream the reply to `user_text` as text deltas; the user's turn joins the history now. With tools
        offered (`use_tools`, and `offer_tools`), the reply may instead be one Call, the last item: run it, then
        hear what the model makes of its result with `reply_with_result`.

        The caller records what became of the reply with `record_reply` (all of it, or only what was
        spoken before an interruption). Closing the iterator, `cancel()` or `reset()` stops the reply
        before its next token. Raises PromptTooLong for a message that can't fit, ModelError when the
        model can't answer.
        """
        raise NotImplementedError

    def reply_with_result(self, call: Call, result: str, language: str | None = None) -> Iterator[str]:
        """Go on with the last reply, which was `call`, now that the tool answered `result`: the text deltas the
        user hears (recorded like a reply's, with `record_reply`)."""
        raise NotImplementedError

    def complete(self, messages: list[dict], max_tokens: int, so_far: str = "") -> Iterator[str]:
        """Stream the reply to `messages` as a program gives them (the local API's chat completions): no history,
        no tools, Parley's own instructions left out, untouched by the conversation's replies and resets. With
        `so_far`, the reply goes on from those words (a completion paused for the conversation, resumed). Closing
        the iterator stops it before its next token."""
        raise NotImplementedError

    def warm_up(self, language: str | None = None) -> Future:
        """Run the model once on a greeting, forgotten after: the first real reply is then as quick as later ones."""
        raise NotImplementedError

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        """Read the next prompt into the model's cache ahead of time: the history as it stands (after a reply,
        while the user thinks), or the prompt for `user_text` (a transcript that may yet turn out to be the
        whole turn). The reply that follows then reads only what is new."""
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def close(self, timeout: float | None = None) -> None:
        """Free the model; waits at most `timeout` s for work in progress."""

    def cancel(self) -> None:
        """Stop the reply in progress before its next token. Thread-safe."""
        self.chat_history.cancel()

    def reset(self) -> None:
        """Forget the conversation (and cancel a reply in progress)."""
        self.chat_history.clear()
        self._forget_cached_prompt()

    def withdraw(self, user_text: str) -> None:
        """Cancel the reply to `user_text`, the last turn, and take that turn back out of the history: nobody
        heard the reply, and the user is still speaking (assistant/conversation/core.py's speculative start)."""
        self.cancel()
        self.chat_history.withdraw_user(user_text)

    def record_reply(self, text: str, interrupted: bool = False) -> None:
        """Add the assistant's reply to the history (only what the user heard, if interrupted)."""
        self.chat_history.add_reply(text, interrupted)

    def _forget_cached_prompt(self) -> None:
        """Drop whatever prompt the engine keeps cached (the conversation it belonged to is gone)."""
