"""Building the engines from settings and the model store, and picking models that fit a language."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.chat import ChatConfig, ChatEngine, ChatHistory
from assistant.chat.choice import local_engine
from assistant.listen.voice_activity import SileroVad
from assistant.models.catalog import load_catalog
from assistant.models.errors import ModelError
from assistant.models.store import InstalledModel, ModelStore
from assistant.runtime.floor import Floor
from assistant.runtime.mlx_worker import MlxWorker
from assistant.runtime.settings import Settings, heard_language
from assistant.speak.kokoro_styles import accent, reading_language, style_for, style_language
from assistant.speak.voice import Synthesizer, VoiceConfig, voice_label
from assistant.transcribe.transcriber import Transcriber

log = logging.getLogger(__name__)


def installed_model(store: ModelStore, model_id: str, kind: str) -> InstalledModel:
    """The installed model `model_id` of `kind`, or a ModelError that says how to get it."""
    model = store.get(model_id)
    if model is None:
        catalog = load_catalog()
        how = (f"`parley models pull {model_id}`" if model_id in catalog
               else "`parley models list` to see what is installed, or `parley models import PATH`")
        raise ModelError(f"the {kind} model {model_id!r} is not installed; install it with {how}")
    if model.kind != kind:
        raise ModelError(f"{model_id} is a {model.kind} model, not a {kind} model")
    return model


def choose_stt(store: ModelStore, preferred: str, language: str | None) -> InstalledModel:
    """The speech model to use for `language` (None = detect): the preferred one if it can, else another.

    Raises ModelError naming a catalog model to install when no installed one understands it.
    """
    candidates = [m for m in store.installed() if m.kind == "stt"]
    order = {model_id: index for index, model_id in enumerate(load_catalog())}
    candidates.sort(key=lambda m: (m.id != preferred, order.get(m.id, len(order))))

    def fits(model: InstalledModel) -> bool:
        return model.speaks(language) if language else "multi" in model.languages

    for model in candidates:
        if fits(model):
            return model
    if language is None and candidates:
        return candidates[0]  # an English-only model can't detect, but it still transcribes
    wanted = f"language {language!r}" if language else "language detection"
    suggestion = next((e.id for e in load_catalog().values() if e.kind == "stt" and "multi" in e.languages), "whisper-base")
    raise ModelError(f"no installed speech model handles {wanted}; install one: parley models pull {suggestion}")


@dataclass(frozen=True)
class VoiceChoice:
    """The voice that reads replies in a language: an installed Piper voice, or the system's (`system`)."""

    voice_id: str
    name: str
    system: bool = False
    fits: bool = True  # False: no voice speaks the language, and this one reads it in its own


def choose_voice(store: ModelStore, preferred: str, language: str | None) -> VoiceChoice:
    """Who reads a reply in `language` (None or "": the preferred voice): the preferred voice when it speaks it,
    else an installed voice that does, else the system's voice for it (macOS's, or espeak-ng's on Linux), else the
    preferred voice anyway. An installed voice with a foreign accent (Kokoro's Mandarin in a Japanese voice) gives
    way to macOS's own voice for the language, which is native."""
    from assistant.speak.system_voice import system_voice_for

    installed = [m for m in store.installed() if m.kind == "tts"]
    installed.sort(key=lambda m: m.id != preferred)
    names = {entry.id: entry.name for entry in load_catalog().values()}
    if language:
        system = system_voice_for(language)
        native_system = system is not None and system.engine == "macOS"
        for model in installed:
            if model.speaks(language) and not (native_system and model.format == "kokoro" and accent(model, language)):
                return VoiceChoice(model.id, names.get(model.id, model.id))
        if system is not None:
            return VoiceChoice(system.id, system.name, system=True)
    return VoiceChoice(preferred, names.get(preferred, preferred), fits=not language)


class Engines:
    """The engines of one Parley process, built lazily from settings: one MLX worker shared by
    Whisper and the chat model, the VAD, and the Piper voice."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or ModelStore()
        # Told when a server (chat, speech to text, voice) can't do its part of a turn and a local model does it
        # (a conversation shows it).
        self.on_server_notice: Callable[[str], None] = lambda message: None
        self._server_voices: dict[tuple, object] = {}  # (language, server voice, local voice) → its ServerFirstVoice
        # Held by this process's conversation during a turn; the API's work on these engines gives way to it.
        self.floor = Floor()

    @functools.cached_property
    def worker(self) -> MlxWorker:
        return MlxWorker()

    @functools.cached_property
    def vad(self) -> SileroVad:
        return self.new_vad()

    def new_vad(self) -> SileroVad:
        """A VAD of its own (each keeps the state of the stream it is fed): for a second listener."""
        from assistant.models.files import VAD_FILE

        model = installed_model(self.store, self.settings.models.vad, "vad")
        return SileroVad(model.path / VAD_FILE)

    @functools.cached_property
    def smart_turn(self):
        """The end-of-turn model (Smart Turn): ModelError, naming what to install, when it is missing or unusable."""
        from assistant.listen.smart_turn import SmartTurn
        from assistant.models.files import TURN_FILE

        model = installed_model(self.store, self.settings.models.turn, "turn")
        return SmartTurn(model.path / TURN_FILE)

    def wake_word_detector(self, phrase: str, sensitivity: float):
        """A detector of the wake phrase (a WakeWordDetector): ModelError, naming what to install, when missing."""
        from assistant.listen.wake_word import WakeWordDetector

        model = installed_model(self.store, self.settings.models.wake, "wake")
        return WakeWordDetector(model.path, phrase, sensitivity)

    def transcriber(self, language: str | None, model_id: str | None = None) -> Transcriber:
        """A Whisper model that handles `language` (None = detect), preferring `model_id` or the setting."""
        if model_id:
            model = installed_model(self.store, model_id, "stt")
        else:
            model = choose_stt(self.store, self.settings.models.stt, language)
        return self._transcriber(model.id, model.path, model.languages, self.settings.conversation.chinese_script)

    @functools.lru_cache(maxsize=4)
    def _transcriber(self, model_id: str, path: Path, languages: tuple[str, ...], chinese_script: str) -> Transcriber:
        return Transcriber(self.worker, path, model_id, languages, chinese_script=chinese_script,
                           server=self._speech_server, on_server_failed=lambda message: self.on_server_notice(message))

    @functools.cached_property
    def _speech_server(self):
        """The speech-to-text server of the settings ([speech_to_text] server_url), or None. An address that is
        not one raises ServerUnavailable saying how to write it."""
        from assistant.transcribe.server_speech import ServerSpeech

        stt = self.settings.speech_to_text
        return ServerSpeech(stt.server_url, stt.server_model) if stt.server_url.strip() else None

    @functools.cached_property
    def chat(self) -> ChatEngine:
        """The chat model on the engine the settings and this machine call for (see `chat.choice`); with
        [chat] engine = "server", the server, and the local model for the turns it can't answer."""
        model = installed_model(self.store, self.settings.models.llm, "llm")
        conversation = self.settings.conversation
        # The tools' descriptions take ~1,200 tokens of the prompt (once, cached): a longer context keeps the history.
        tools = self.settings.tools
        config = ChatConfig(system_prompt=conversation.system_prompt, language=conversation.language,
                            chinese_script=conversation.chinese_script,
                            context_tokens=4096 if tools.enabled and tools.offer_to_model else 2048)
        chat = self.settings.chat
        history = ChatHistory()
        local = self._local_chat(model, config, history)
        if chat.engine != "server":
            return self._with_tools(local)
        from assistant.chat.fallback import FallbackChat
        from assistant.chat.server_engine import ServerChat

        server = ServerChat(chat.server_url, chat.server_model, config, history)
        return self._with_tools(FallbackChat(server, local, on_fallback=lambda message: self.on_server_notice(message)))

    @functools.cached_property
    def toolbox(self):
        """The tools (assistant/tools/toolbox.py), or None with [tools] enabled = false. Its timers ring only once
        the caller starts them (`toolbox.timers.start()`), having said where the ringing goes."""
        if not self.settings.tools.enabled:
            return None
        from assistant.runtime.settings import SettingsError
        from assistant.tools.mcp_config import load_mcp_servers
        from assistant.tools.toolbox import Toolbox

        toolbox = Toolbox()
        try:
            servers = load_mcp_servers()
        except SettingsError as exc:  # the built-in tools work all the same; the conversation says what is wrong
            log.warning("%s", exc)
            self.on_server_notice(f"{exc}. Parley goes on without MCP servers.")
            servers = []
        if servers:
            from assistant.tools.mcp_servers import McpServers

            toolbox.mcp = McpServers(servers, on_problem=lambda message: self.on_server_notice(message))
            toolbox.mcp_connecting = toolbox.mcp.start()
        return toolbox

    def _with_tools(self, chat: ChatEngine) -> ChatEngine:
        toolbox = self.toolbox
        if toolbox is not None and self.settings.tools.offer_to_model:
            chat.use_tools(toolbox.specs, toolbox.prompt_text)
        elif toolbox is not None:
            chat.use_tools(lambda: [], toolbox.memory.prompt_text)  # (the remembered facts all the same)
        return chat

    def _local_chat(self, model: InstalledModel, config: ChatConfig, history: ChatHistory) -> ChatEngine:
        if local_engine(self.settings.chat.engine, model) == "mlx":
            from assistant.chat.mlx_engine import MlxChat

            return MlxChat(self.worker, model.path, config, model.id, history)
        from assistant.chat.llama_cpp_engine import LlamaCppChat

        # With the API beside the app, its completions get a KV cache of their own (the conversation keeps its prompt).
        return LlamaCppChat(model.gguf_file, config, model.id, history, slots=2 if self.settings.api.enabled else 1)

    def synthesizer(self, voice_id: str | None = None, language: str | None = None) -> Synthesizer:
        """The voice `voice_id` (default: the setting) reading `language` (a voice of several languages: Kokoro's;
        default its first); one Synthesizer per voice and language, loaded once."""
        model = installed_model(self.store, voice_id or self.settings.models.tts, "tts")
        if model.format == "kokoro":
            reads = reading_language(model, language)
            wanted = self.settings.voice.mandarin_style if reads == "zh" else ""
            return self._kokoro(model.id, model.path, style_for(model, reads, wanted), reads)
        return self._synthesizer(model.id, model.path)

    def voice_named(self, voice_id: str):
        """The voice `voice_id` names: an installed voice ("piper-en_US-joe-medium"), a Kokoro voice with one of its
        styles ("kokoro:zm_yunxi"), or a system voice ("system:espeak-ng:ko"). ModelError, saying what there is,
        when there is no such voice."""
        from assistant.speak.system_voice import PREFIX, system_voices

        if voice_id.startswith(PREFIX):
            ids = [voice.id for voice in system_voices()]
            if voice_id not in ids:
                example = f"; they are named like {ids[0]}" if ids else ""
                raise ModelError(f"there is no system voice {voice_id!r} on this computer ({len(ids)} here{example}); "
                                 "`parley doctor` says which reads each language")
            return self._system_voice(voice_id)
        model_id, _, style = voice_id.partition(":")
        if not style:
            return self.synthesizer(voice_id)
        model = installed_model(self.store, model_id, "tts")
        styles = model.details.get("styles", ()) if model.format == "kokoro" else ()
        if style not in styles:
            have = f"its styles: {', '.join(styles)}" if styles else "it has no voice styles"
            raise ModelError(f"the voice {model_id} has no style {style!r}; {have}")
        return self._kokoro(model.id, model.path, style, reading_language(model, style_language(style)))

    @functools.lru_cache(maxsize=4)
    def _kokoro(self, voice_id: str, path: Path, style: str, language: str):
        from assistant.speak.kokoro_voice import KokoroVoice

        return KokoroVoice(path, style, VoiceConfig(speaking_rate=self.settings.voice.speaking_rate), voice_id,
                           language)

    @functools.lru_cache(maxsize=4)
    def _synthesizer(self, voice_id: str, path: Path) -> Synthesizer:
        from assistant.models.files import PIPER_VOICE_FILE

        return Synthesizer(path / PIPER_VOICE_FILE, VoiceConfig(speaking_rate=self.settings.voice.speaking_rate),
                           voice_id)

    def voice_for(self, language: str | None):
        """The voice (a Piper `Synthesizer` or a `SystemVoice`: the same interface) that reads replies in
        `language`; see `choose_voice`."""
        choice = choose_voice(self.store, self.settings.models.tts, language)
        voice = self._system_voice(choice.voice_id) if choice.system else self.synthesizer(choice.voice_id, language)
        if self.settings.voice.server_url.strip():
            voice = self._server_first(voice, language)
        log.info("replies in %s are read by %s", language or "the default language", voice_label(voice))
        return voice

    def _server_first(self, local, language: str | None):
        """`local` behind the voice server of the settings, for a language it has a voice for (else `local`)."""
        from assistant.speak.server_voice import ServerFirstVoice, ServerVoice

        settings = self.settings.voice
        reads = language or heard_language(self.settings.conversation.language) or "en"
        # With no voice named, the style Parley's own Kokoro reads the language with, where it was made for it.
        kokoro = next((m for m in self.store.installed() if m.format == "kokoro" and reads in m.languages), None)
        own = style_for(kokoro, reads) if kokoro and not accent(kokoro, reads) else ""
        name = settings.server_voice.strip() or own
        if not name:
            return local
        key = (reads, name, id(local))
        if key not in self._server_voices:
            server = ServerVoice(settings.server_url, name, reads, settings.server_model)
            self._server_voices[key] = ServerFirstVoice(server, local, lambda message: self.on_server_notice(message))
        return self._server_voices[key]

    @functools.lru_cache(maxsize=4)
    def _system_voice(self, voice_id: str):
        from assistant.speak.system_voice import SystemVoice, system_voices

        info = next(voice for voice in system_voices() if voice.id == voice_id)
        return SystemVoice(info, VoiceConfig(speaking_rate=self.settings.voice.speaking_rate))

    def preload(self, language: str | None, warm_up: bool = False) -> None:
        """Load the VAD, Whisper, the chat model and the voice at once (MLX ones on the worker,
        the voice here meanwhile), so that a turn's timings measure the turn, not the loading.
        `warm_up` also runs each model once, for a live conversation whose first turn should be
        as quick as the next."""
        transcriber = self.transcriber(language)
        loads = [transcriber.start_loading(), self.chat.start_loading()]
        log.info("loading the speech and chat models")
        if warm_up and self.toolbox is not None:
            self.toolbox.wait_for_servers()  # (their tools are in the prompt the warm-up reads into the cache)
        if warm_up:
            loads += [transcriber.warm_up(language), self.chat.warm_up(language)]
        self.vad
        if self.settings.listening.end_of_turn == "smart":
            try:
                self.smart_turn
            except ModelError as exc:  # the conversation says so, and ends turns after a fixed silence
                log.warning("no end-of-turn model: %s", exc)
        self.synthesizer().load()
        if warm_up:
            self.synthesizer().warm_up()
        if language and self.voice_for(language) is not self.synthesizer():  # the replies' voice is another
            self.voice_for(language).load()
        for done in loads:
            done.result()

    def close(self, timeout: float | None = None) -> None:
        """Stop the chat engine and the MLX thread (waiting at most `timeout` s for the work each is doing)."""
        if "chat" in self.__dict__:
            self.chat.close(timeout)
        if self.__dict__.get("toolbox") is not None:
            self.toolbox.close()
        if "worker" in self.__dict__:
            self.worker.close(timeout)
