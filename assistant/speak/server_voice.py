"""A voice on a server the user runs: OpenAI's `POST /v1/audio/speech` (OpenAI, fastkokoro, Kokoro-FastAPI, a GPU box
on the network), with the local voice reading whatever it can't.

Each piece of text the speech worker hands over (a sentence or clause) is one request for a WAV file. The voice's
name on the server is the setting's (`[voice] server_voice`, e.g. "alloy" for OpenAI) or, when that is empty, the
Kokoro style Parley itself reads the language with (af_heart for English, zf_xiaoxiao for Mandarin), so a Kokoro
server reads as the local voice would; a language with neither is read by the local voice. The API key, if one is
saved (`servers/server_key.py`, `tts-server-key`), goes in an `Authorization: Bearer` header.
"""

from __future__ import annotations

import io
import logging
import time
import wave
from collections.abc import Callable, Iterator

import numpy as np

from assistant.servers.outage import Outage
from assistant.servers.server_address import ServerAddress, ServerUnavailable
from assistant.servers.server_http import RequestTimeouts, post_for_body
from assistant.servers.server_key import TTS_SERVER, read_server_key, server_key_path
from assistant.speak.voice import SpeechChunk

log = logging.getLogger(__name__)

SERVICE = "voice server"
DEFAULT_MODEL = "tts-1"  # OpenAI's name; fastkokoro and Kokoro-FastAPI take it too
_FIX = "start it, or clear the voice server in Settings (Models) to speak on this computer alone"


class ServerVoice:
    """One voice of a voice server, for one language. Thread-safe: each piece is a request of its own."""

    def __init__(self, url: str, voice: str, language: str, model: str = "",
                 key_reader: Callable[[], str | None] | None = None,
                 timeouts: RequestTimeouts = RequestTimeouts(total=20.0)) -> None:
        """Raises ServerUnavailable for an address that is not one."""
        self.address = ServerAddress.parse(url, SERVICE, TTS_SERVER.env, "http://localhost:8880/v1")
        self.url = self.address.display
        self.voice = voice
        self.language = language
        self.model = model.strip() or DEFAULT_MODEL
        self.voice_id = f"{voice} at {self.url}"
        self._key_reader = key_reader or (lambda: read_server_key(TTS_SERVER))
        self.timeouts = timeouts

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """The server's audio for `text`, one chunk. Raises ServerUnavailable."""
        audio, rate = self._speech(text)
        yield SpeechChunk(text, audio, rate)

    def _speech(self, text: str) -> tuple[np.ndarray, int]:
        body = {"model": self.model, "input": text, "voice": self.voice, "response_format": "wav"}
        started = time.monotonic()
        data = post_for_body(self.address, "/audio/speech", body, key_reader=self._key_reader,
                             timeouts=self.timeouts, service=SERVICE,
                             action="read the text", fix=_FIX,
                             key_fix=f"put the right key in {server_key_path(TTS_SERVER)} (or {TTS_SERVER.env})")
        try:
            with wave.open(io.BytesIO(data)) as read:
                if read.getsampwidth() != 2:
                    raise wave.Error(f"{8 * read.getsampwidth()}-bit samples")
                frames = np.frombuffer(read.readframes(read.getnframes()), "<i2")
                audio = frames.reshape(-1, read.getnchannels()).mean(axis=1) / 32768.0
                rate = read.getframerate()
        except (wave.Error, EOFError, ValueError) as exc:
            raise ServerUnavailable(self.url, f"answered with audio Parley can't read ({exc})",
                                    "check that the address is an OpenAI-compatible speech server", SERVICE) from None
        log.info("the %s voiced %.1f s in %.0f ms", SERVICE, len(audio) / rate, 1000 * (time.monotonic() - started))
        return audio.astype(np.float32), rate


class ServerFirstVoice:
    """The server's voice while it answers, the local voice for any piece it can't read and for 30 s after (the user
    is told once per outage through `on_failed`). Has the local voice's interface (load, warm_up, sample_rate, language, synthesize)."""

    def __init__(self, server: ServerVoice, local, on_failed: Callable[[str], None]) -> None:
        self.server = server
        self.local = local
        self.voice_id = server.voice_id
        self._on_failed = on_failed
        self._outage = Outage()  # (on the speech thread only)

    @property
    def sample_rate(self) -> int:
        return self.local.sample_rate

    @property
    def language(self) -> str:
        return self.server.language

    def load(self):
        self.local.load()  # read when the server fails, so it is ready then
        return self

    def warm_up(self) -> None:
        self.local.warm_up()

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        if not self._outage.worth_asking():
            yield from self.local.synthesize(text)
            return
        try:
            chunks = list(self.server.synthesize(text))
            self._outage.answered()
        except ServerUnavailable as exc:
            log.warning("%s; read by %s instead", exc, self.local.voice_id)
            if self._outage.failed():
                self._on_failed(f"{exc}. Parley speaks with {self.local.voice_id} on this computer meanwhile.")
            chunks = self.local.synthesize(text)
        yield from chunks
