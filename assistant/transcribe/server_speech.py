"""Speech to text on a server the user runs: OpenAI's `POST /v1/audio/transcriptions` (OpenAI, faster-whisper-server,
speaches, LocalAI, a GPU box on the network), for a larger Whisper than this computer runs well.

A turn's audio goes up as a 16 kHz 16-bit WAV in a multipart form: `model` (OpenAI's field; faster-whisper-server
reads `model_name` instead, so both are sent), `language` when it is known, `response_format` verbose_json (which says
the language heard). The API key, if one is saved (`servers/server_key.py`, `stt-server-key`), goes in an
`Authorization: Bearer` header. Anything wrong is a `ServerUnavailable` saying what: the Transcriber then hears the
turn on this computer.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
import wave
from collections.abc import Callable

import numpy as np

from assistant.servers.server_address import ServerAddress, ServerUnavailable
from assistant.servers.server_http import RequestTimeouts, post_for_body
from assistant.servers.server_key import STT_SERVER, read_server_key, server_key_path

log = logging.getLogger(__name__)

SERVICE = "speech-to-text server"
DEFAULT_MODEL = "whisper-1"  # OpenAI's name, and faster-whisper-server's default model's
_FIX = "start it, or clear the speech server in Settings (Models) to hear on this computer alone"


class ServerSpeech:
    """A speech-to-text server. Thread-safe: each call is one request on a connection of its own."""

    def __init__(self, url: str, model: str = "", key_reader: Callable[[], str | None] | None = None,
                 timeouts: RequestTimeouts = RequestTimeouts()) -> None:
        """`url`: the API root as the user gave it (`http://host:8000/v1`); `model`: the server's name for its
        model ("" = whisper-1); `key_reader`: gives the API key (None = send none; default: the saved one). Raises
        ServerUnavailable for an address that is not one."""
        self.address = ServerAddress.parse(url, SERVICE, STT_SERVER.env, "http://localhost:8000/v1")
        self.url = self.address.display
        self.model = model.strip() or DEFAULT_MODEL
        self._key_reader = key_reader or (lambda: read_server_key(STT_SERVER))
        self.timeouts = timeouts

    def describe(self) -> str:
        return f"{self.model} at {self.url}"

    def transcribe(self, audio: np.ndarray, language: str | None) -> tuple[str, str | None]:
        """(text, the language the server heard, or None if it did not say) of 16 kHz mono float32 `audio`.
        Raises ServerUnavailable."""
        fields = {"model": self.model, "model_name": self.model, "response_format": "verbose_json"}
        if language:
            fields["language"] = language
        body, content_type = _form(fields, _wav(audio))
        started = time.monotonic()
        data = post_for_body(self.address, "/audio/transcriptions", body, key_reader=self._key_reader,
                             timeouts=self.timeouts, service=SERVICE,
                             action="transcribe the audio", fix=_FIX, content_type=content_type,
                             key_fix=f"put the right key in {server_key_path(STT_SERVER)} (or {STT_SERVER.env})")
        try:
            answer = json.loads(data)
            text = str(answer["text"]).strip()
        except (ValueError, KeyError, TypeError):
            raise ServerUnavailable(self.url, "answered with something that is not a transcript",
                                    "check that the address is an OpenAI-compatible speech-to-text server", SERVICE)
        heard = answer.get("language") if isinstance(answer, dict) else None
        log.info("the %s transcribed %.1f s of audio in %.0f ms", SERVICE, len(audio) / 16000,
                 1000 * (time.monotonic() - started))
        return text, _language_code(heard)


def _language_code(heard) -> str | None:
    """A code from what a server says it heard: OpenAI says "english", faster-whisper-server "en"."""
    if not isinstance(heard, str) or not heard.strip():
        return None
    from assistant.transcribe.whisper_languages import language_code

    return language_code(heard)


def _wav(audio: np.ndarray) -> bytes:
    """16 kHz mono float32 audio as a 16-bit WAV file."""
    samples = (np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _form(fields: dict[str, str], wav: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body of `fields` and the audio file, and its content type."""
    boundary = f"parley-{uuid.uuid4().hex}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="speech.wav"\r\n'
                 f"Content-Type: audio/wav\r\n\r\n".encode() + wav + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
