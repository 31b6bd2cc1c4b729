"""Parley's settings: one TOML file, read into frozen dataclasses, validated, saved atomically.

Each section of settings.toml is one frozen dataclass; each field's metadata says what values it
takes, so one validator serves them all and its errors name the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from assistant.chinese_script import SCRIPTS, default_script
from assistant.runtime.atomic_file import write_atomically
from assistant.runtime.paths import config_dir

LANGUAGES = (
    "auto", "en", "de", "es", "fr", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "hi",
    "zh", "ja", "ko", "vi", "id", "sv", "da", "no", "fi", "cs", "el", "he", "hu", "ro",
)
# Each language's name in English: the reply-language instruction of the chat prompt, and the voices' names.
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "es": "Spanish", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "ru": "Russian", "uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic",
    "hi": "Hindi", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "vi": "Vietnamese", "id": "Indonesian",
    "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "cs": "Czech", "el": "Greek",
    "he": "Hebrew", "hu": "Hungarian", "ro": "Romanian",
}


CHAT_ENGINES = ("auto", "mlx", "llama.cpp", "server")
MODES = ("hands_free", "wake_word", "push_to_talk")
WAKE_WORDS = ("hey_jarvis", "hey_mycroft", "alexa", "okay_nabu")  # (assistant/listen/wake_word.py's PHRASES)


def is_web_address(text: str) -> bool:
    """An http:// or https:// address with a host (a server's URL)."""
    return re.fullmatch(r"https?://[^\s/?#]+[^\s]*", text) is not None


def _choice(default: str, choices: tuple[str, ...], doc: str) -> Any:
    return field(default=default, metadata={"choices": choices, "doc": doc})


def _number(default: float, low: float, high: float, doc: str) -> Any:
    return field(default=default, metadata={"min": low, "max": high, "doc": doc})


def _text(default: str, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class ModelSettings:
    """Which installed model (store id) does each job."""

    stt: str = _text("whisper-tiny.en", "speech-to-text model id")
    llm: str = _text("qwen2.5-coder-0.5b-instruct", "chat model id")
    tts: str = _text("piper-en_US-joe-medium", "voice id")
    vad: str = _text("silero-vad", "voice activity model id")
    turn: str = _text("smart-turn-v3.2", "end-of-turn model id")
    wake: str = _text("micro-wake-words", "wake-word model id")


@dataclass(frozen=True)
class ConversationSettings:
    """How a conversation goes."""

    language: str = _choice("en", LANGUAGES, "Whisper's language and the reply language; auto = detect")
    mode: str = _choice("hands_free", MODES,
                        "how a turn starts: hands_free = speak; wake_word = say the wake word first; push_to_talk")
    system_prompt: str = _text("", "extra instructions for the assistant; empty = the built-in prompt")
    chinese_script: str = _choice(default_script(), SCRIPTS, "how Chinese is written, heard and answered")


@dataclass(frozen=True)
class ChatSettings:
    """Which engine answers. The API key of a server that needs one is kept apart (see `server_key`), never here."""

    engine: str = _choice("auto", CHAT_ENGINES,
                          "auto = MLX on an Apple GPU, llama.cpp elsewhere; server = server_url")
    server_url: str = field(default="", metadata={"url": True, "doc": "an OpenAI-compatible server, e.g. "
                                                  "http://localhost:11434/v1 (Ollama) or http://localhost:1234/v1 (LM Studio)"})
    server_model: str = _text("", "the model the server should use; empty = the first one it lists")


@dataclass(frozen=True)
class SpeechToTextSettings:
    """A speech-to-text server that hears first, if any (its API key is kept apart, see `servers/server_key`)."""

    server_url: str = field(default="", metadata={"url": True, "doc": "an OpenAI-compatible speech-to-text server, "
                                                  "e.g. http://gpu-box:8000/v1; empty = hear on this computer"})
    server_model: str = _text("", "the server's name for its model; empty = whisper-1")


@dataclass(frozen=True)
class AudioSettings:
    """Devices and echo handling. Empty device names mean the system default."""

    input_device: str = _text("", "microphone name; empty = system default")
    output_device: str = _text("", "speaker name; empty = system default")
    echo_cancellation: bool = field(default=True, metadata={"doc": "cancel Parley's own voice; off for headphones"})


@dataclass(frozen=True)
class ListeningSettings:
    """Voice activity and end of turn."""

    vad_threshold: float = _number(0.5, 0.05, 0.95, "speech probability that counts as speech")
    end_of_turn: str = _choice("smart", ("smart", "fixed"),
                               "smart = the end-of-turn model hears when you have finished; fixed = a fixed silence")
    end_of_turn_silence_ms: int = _number(500, 100, 3000, "silence that ends a hands-free turn (fixed)")
    patience_ms: int = _number(2500, 1000, 6000, "the longest pause mid-sentence before the turn ends (smart)")
    max_utterance_s: int = _number(30, 3, 120, "longest a single turn may run")
    wake_word: str = _choice("hey_jarvis", WAKE_WORDS, "the phrase that wakes Parley (mode wake_word)")
    wake_sensitivity: float = _number(0.5, 0.0, 1.0, "0 = fewest false wakes, 1 = fewest missed wake words")
    follow_up_s: int = _number(8, 0, 60, "after a reply, how long a question needs no wake word (mode wake_word)")


@dataclass(frozen=True)
class VoiceSettings:
    """How Parley speaks."""

    speaking_rate: float = _number(1.0, 0.5, 2.0, "1.0 = the voice's own pace")
    mandarin_style: str = _text("", "the Kokoro voice style that reads Mandarin, e.g. zm_yunxi; empty = the "
                                    "voice's own (zf_xiaoxiao)")
    server_url: str = field(default="", metadata={"url": True, "doc": "an OpenAI-compatible voice server, e.g. "
                                                  "http://gpu-box:8880/v1; empty = speak on this computer"})
    server_model: str = _text("", "the server's name for its model; empty = tts-1")
    server_voice: str = _text("", "the server's voice for every language, e.g. alloy; empty = Kokoro's own "
                                  "(af_heart for English, zf_xiaoxiao for Mandarin), other languages read here")


@dataclass(frozen=True)
class HotkeySettings:
    """The global push-to-talk key."""

    key: str = _text("<f8>", "pynput key or chord, e.g. <f8> or <ctrl>+<alt>+<space>")
    style: str = _choice("hold", ("hold", "toggle"), "hold to talk, or press once to start and once to stop")


@dataclass(frozen=True)
class ToolsSettings:
    """What Parley does besides talk (the MCP servers are kept in mcp_servers.toml beside this file)."""

    enabled: bool = field(default=True, metadata={"doc": "timers, alarms, the time, sums, conversions, memory and "
                                                  "opening things; false = Parley only talks"})
    offer_to_model: bool = field(default=True, metadata={"doc": "let the chat model call the tools too; false = only "
                                                         "the spoken commands of the built-in sentences"})


@dataclass(frozen=True)
class ApiSettings:
    """Parley's models for other programs while the app runs, as `parley serve` offers them on its own."""

    enabled: bool = field(default=False, metadata={"doc": "serve the OpenAI-style API (speech to text, voices, chat) "
                                                   "on the models the conversation has loaded; it goes first"})
    port: int = _number(8765, 1, 65535, "the HTTP API's port")
    network: bool = field(default=False, metadata={"doc": "listen on every network address, not this computer's "
                                                   "only; programs then need the token kept in api-token"})
    wyoming: bool = field(default=False, metadata={"doc": "also serve Home Assistant's Wyoming protocol (speech to "
                                                   "text, voices, wake words)"})
    wyoming_port: int = _number(10300, 1, 65535, "the Wyoming server's port")

    @property
    def host(self) -> str:
        return "0.0.0.0" if self.network else "127.0.0.1"


@dataclass(frozen=True)
class Settings:
    """All of Parley's settings, one section per component."""

    models: ModelSettings = field(default_factory=ModelSettings)
    conversation: ConversationSettings = field(default_factory=ConversationSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    speech_to_text: SpeechToTextSettings = field(default_factory=SpeechToTextSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    listening: ListeningSettings = field(default_factory=ListeningSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    hotkey: HotkeySettings = field(default_factory=HotkeySettings)
    tools: ToolsSettings = field(default_factory=ToolsSettings)
    api: ApiSettings = field(default_factory=ApiSettings)


class SettingsError(ValueError):
    """settings.toml holds something Parley can't use; the message names the key and what is allowed."""


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def settings_from_dict(data: dict[str, Any], source: str = "settings") -> Settings:
    """Build Settings from parsed TOML; missing keys take defaults, anything else wrong raises SettingsError."""
    sections = {f.name: f for f in dataclasses.fields(Settings)}
    built = {}
    for name, value in data.items():
        if name not in sections:
            raise SettingsError(f"{source}: unknown section [{name}]; sections are: {', '.join(sections)}")
        if not isinstance(value, dict):
            raise SettingsError(f"{source}: [{name}] must be a table of keys, not {value!r}")
        built[name] = _section_from_dict(sections[name].default_factory, name, value, source)  # type: ignore[misc]
    return Settings(**built)


def _section_from_dict(cls: type, section: str, data: dict[str, Any], source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise SettingsError(
                f"{source}: unknown key {section}.{key}; keys in [{section}] are: {', '.join(fields)}"
            )
        values[key] = _checked(fields[key], f"{section}.{key}", value, source)
    return cls(**values)


# How a settings.toml value of each type is written, for messages (the type's name too, for those who know it).
_TYPE_WORDS = {str: "text in quotes (str)", int: "a whole number (int)", float: "a number (float)",
               bool: "true or false (bool)"}


def _checked(f: dataclasses.Field, key: str, value: Any, source: str) -> Any:
    meta = f.metadata
    expected = f.type if isinstance(f.type, type) else {"str": str, "int": int, "float": float, "bool": bool}[f.type]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise SettingsError(f"{source}: {key} must be {_TYPE_WORDS[expected]}, not {value!r} — {meta.get('doc', '')}")
    if "choices" in meta and value not in meta["choices"]:
        raise SettingsError(f"{source}: {key} = {value!r} is not allowed; use one of: {', '.join(meta['choices'])}")
    if meta.get("url") and value and not is_web_address(value):
        raise SettingsError(f"{source}: {key} = {value!r} is not a web address; write it like "
                            "http://localhost:11434/v1 (http:// or https://, the host, then the path)")
    if "min" in meta and not meta["min"] <= value <= meta["max"]:
        raise SettingsError(f"{source}: {key} = {value!r} is out of range; use {meta['min']} to {meta['max']}")
    return value


def load_settings(path: Path | None = None) -> Settings:
    """Read settings.toml (defaults when it doesn't exist). Raises SettingsError when it is unusable."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the settings file ({exc}); fix or delete it") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc}); fix or delete it to start from defaults") from exc
    return settings_from_dict(data, source=str(path))


def load_settings_or_defaults(path: Path | None = None) -> tuple[Settings, str]:
    """For the app, which must start whatever the file holds: the settings, or the defaults when the
    file is unusable. Then the broken file is moved aside (kept, never overwritten by the next save)
    and the second value says what happened, for the user; it is "" when all was well."""
    path = path or settings_path()
    try:
        return load_settings(path), ""
    except SettingsError as exc:
        backup = path.with_name(f"{path.stem}.broken-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        try:
            os.replace(path, backup)
            kept = f"your file was kept as {backup}"
        except OSError as move_error:
            kept = f"your file could not be set aside ({move_error}) and is left as it is"
        return Settings(), f"{exc}. Parley started with the default settings; {kept}."


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write settings.toml atomically: a temporary file in the same folder, flushed, then renamed over."""
    payload = tomli_w.dumps(dataclasses.asdict(settings)).encode("utf-8")
    return write_atomically(path or settings_path(), payload)


def heard_language(setting: str) -> str | None:
    """The language to transcribe in: the setting's, or None to detect it ("auto")."""
    return None if setting in ("", "auto") else setting


def reply_language(setting: str, detected: str) -> str:
    """The language of a turn and its reply: the setting's, or with "auto" the one the turn was said in."""
    return detected if setting in ("", "auto") else setting


def asked_language(setting: str, language: str) -> str | None:
    """The language the chat model is told to answer in: only with "auto" (a set language is in its prompt)."""
    return language if setting in ("", "auto") and language else None
