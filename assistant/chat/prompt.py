"""What every chat engine sends, whatever runs the model: the spoken-style system prompt, the reply-language
instruction, and the history trimmed to the context. Engine-free: no model, no thread, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.models.errors import ModelError
from assistant.runtime.settings import LANGUAGE_NAMES

DEFAULT_SYSTEM_PROMPT = (
    "You are Parley, a friendly voice assistant running privately on the user's computer. "
    "Your replies are spoken aloud, so answer in one to three short, plain sentences. "
    "Never use markdown, lists, tables, emoji or code unless the user asks for them."
)


# Messages of history dropped at a time when it no longer fits (8 exchanges).
TRIM_BLOCK = 16


class PromptTooLong(ModelError):
    """The user's message alone does not fit in the model's context window."""


@dataclass(frozen=True)
class ChatConfig:
    """How the chat model answers."""

    system_prompt: str = ""  # extra instructions; "" = DEFAULT_SYSTEM_PROMPT alone
    language: str = "en"  # reply language (ISO 639-1), or "auto" = the user's language
    chinese_script: str = "simplified"  # how a Chinese reply is written ("simplified" or "traditional")
    max_reply_tokens: int = 160  # a spoken reply longer than this is a monologue
    context_tokens: int = 2048  # prompt + reply budget; history is trimmed to fit
    temperature: float = 0.0  # greedy by default: small models ramble when sampled
    repetition_penalty: float = 1.05  # greedy small models loop on one sentence without it; 1.15 derailed answers

    @property
    def prompt_budget(self) -> int:
        """Tokens the prompt may take: the context less the room kept for the reply."""
        return self.context_tokens - self.max_reply_tokens


@dataclass(frozen=True)
class Message:
    """One turn of the conversation. `interrupted` marks a reply the user cut off."""

    role: str  # "user" or "assistant"
    content: str
    interrupted: bool = False


@dataclass(frozen=True)
class ReplyTimings:
    """How fast the last reply came: time to its first token (from the request), its length and speed."""

    first_token_ms: float
    tokens: int
    tokens_per_s: float


def system_prompt(config: ChatConfig, language: str | None = None) -> str:
    """The default prompt, the user's extra instructions, and the reply-language instruction."""
    parts = [DEFAULT_SYSTEM_PROMPT]
    if config.system_prompt.strip():
        parts.append(config.system_prompt.strip())
    language = language or config.language
    if language == "zh":
        from assistant.chinese_script import NAMES

        parts.append(f"Always reply in Chinese, written in {NAMES[config.chinese_script]}.")
    elif language in LANGUAGE_NAMES:
        parts.append(f"Always reply in {LANGUAGE_NAMES[language]}.")
    elif language == "auto" or config.language == "auto":
        parts.append("Reply in the language the user speaks.")
    return " ".join(parts)


def trim_history(
    system: str, history: list[Message], user_text: str, count_tokens: Callable[[list[dict]], int], budget: int,
    block: int = TRIM_BLOCK,
) -> list[dict]:
    """The chat messages to send: system prompt, as much recent history as fits `budget`, the user's text.

    Whole exchanges are dropped oldest first, `block` messages at a time; the system prompt and the new message are
    always kept. Raises PromptTooLong when those two alone exceed the budget.
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
    dropped = len(history) - len(kept)
    if dropped:
        # Drop a whole block: the history sent then starts at the same message for several turns, and the engine's
        # cache of it stays good. Dropping one exchange a turn changed the start every turn, and llama.cpp read the
        # whole history again each time: 13 s on 2 cores once the context was full (an hour's soak).
        # (Unless the block is large beside what fits, in a small context: then what must go, no more.)
        rounded = min(len(history), -(-dropped // block) * block)
        if len(history) - rounded >= max(1, len(kept) // 2):
            kept = kept[len(kept) - (len(history) - rounded):] if rounded < len(history) else []
    # A history must not open with an assistant turn whose question was trimmed away.
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return head + kept + tail
