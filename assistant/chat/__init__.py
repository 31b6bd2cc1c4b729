"""The chat side: one interface (`ChatEngine`), the shared prompt and history, and one module per engine —
`mlx_engine` (mlx-lm), `llama_cpp_engine` (llama.cpp in-process), `server_engine` (any OpenAI-compatible
server). `choice` decides which engine answers. Engine modules are imported where they are used: each pulls
in its own runtime."""

from assistant.chat.engine import ChatEngine
from assistant.chat.history import ChatHistory
from assistant.chat.prompt import (
    DEFAULT_SYSTEM_PROMPT,
    LANGUAGE_NAMES,
    ChatConfig,
    Message,
    PromptTooLong,
    ReplyTimings,
    system_prompt,
    trim_history,
)

__all__ = [
    "ChatConfig", "ChatEngine", "ChatHistory", "DEFAULT_SYSTEM_PROMPT", "LANGUAGE_NAMES", "Message", "PromptTooLong",
    "ReplyTimings", "system_prompt", "trim_history",
]
