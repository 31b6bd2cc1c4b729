"""What the chat engine rows say, apart from their widgets: the engines' names, where each runs on this computer,
what is wrong with a server address, and the messages for a missing address or a key that is not one."""

from __future__ import annotations

import sys

from assistant.chat import choice
from assistant.runtime.settings import SettingsError, settings_from_dict
from ui.connection_test import as_sentence

ENGINE_NAMES = {"mlx": "MLX", "llama.cpp": "llama.cpp"}
SERVER_LABEL = "Server (Ollama, LM Studio, …)"
URL_PLACEHOLDER = "http://localhost:11434/v1"
MODEL_PLACEHOLDER = "first model the server lists"
NO_ADDRESS = "Type the server's address, like http://localhost:11434/v1, or choose another engine."
NOT_A_KEY = "That is not an API key: a key is one word of letters, digits and symbols, without spaces."


def where_it_runs(engine: str) -> str:
    """'MLX on the Apple GPU', 'llama.cpp on this computer's CPU': an engine and what it runs on, here."""
    if engine == "mlx" and choice.apple_gpu():
        return "MLX on the Apple GPU"
    if choice.apple_gpu():
        return f"{ENGINE_NAMES[engine]} on this Mac"  # llama.cpp, built with Metal there
    computer = "this Mac's" if sys.platform == "darwin" else "this computer's"
    return f"{ENGINE_NAMES[engine]} on {computer} CPU"


def url_problem(url: str) -> str:
    """What is wrong with a server address, in the settings validator's words; "" for a usable one (or none)."""
    try:
        settings_from_dict({"chat": {"server_url": url}}, source="Settings")
    except SettingsError as exc:
        message = str(exc)
        _, found, rest = message.partition("chat.server_url = ")
        return as_sentence(rest if found else message)
    return ""
