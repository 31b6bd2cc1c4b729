"""The engines as the API's requests use them: each engine does one request at a time (its own thread rules hold;
requests queue), a request runs on a worker thread and can be stopped between pieces (a client that went away).

Beside the app, on the conversation's own engines, every piece first waits for the conversation's floor
(assistant/runtime/floor.py): a recording is heard, a sentence voiced, and a completion goes on only while nobody is
talking to Parley; a completion under way when a turn begins stops at its next token and goes on from its words once
the turn is over (on llama.cpp in a slot of its own, so the conversation's cached prompt stays)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.runtime.floor import Floor
from assistant.runtime.settings import LANGUAGE_NAMES, LANGUAGES

log = logging.getLogger(__name__)

SPEECH_RATE = 24000  # what the OpenAI API's pcm format is: 24 kHz, 16-bit, mono


class JobError(Exception):
    """A request the engines cannot do; `status` is the HTTP status that says so (400 bad input, 503 busy...)."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


@dataclass(frozen=True)
class Heard:
    """A recording's words, the language they were heard in, its length, and how long hearing it took."""

    text: str
    language: str
    duration_s: float
    timings_ms: dict


class EngineJobs:
    """Speech to text, voices and the chat model of `engines`, each behind a lock of its own."""

    def __init__(self, engines) -> None:
        self.engines = engines
        self.floor = getattr(engines, "floor", None) or Floor()
        self._hearing = threading.Lock()
        self._voicing = threading.Lock()
        self._chatting = threading.Lock()

    # --- speech to text ----------------------------------------------------------------------------------------

    def transcribe(self, audio: np.ndarray, language: str | None,
                   stopped: Callable[[], bool] = lambda: False) -> Heard:
        """The words of `audio` (16 kHz mono float32), as `parley transcribe` hears them. JobError 499 when
        `stopped()` (its client went away) before the floor was free: it is not transcribed."""
        from assistant.conversation.one_turn import transcribe_recording

        language = checked_language(language)
        with self._hearing:
            if self.floor.held:
                log.info("a transcription waits while the conversation has the floor")
            if not self.floor.wait_free(stopped):
                log.info("a transcription's client went away while it waited: not transcribed")
                raise JobError(499, "the client closed the request before it was transcribed")
            started = time.perf_counter()
            transcript = transcribe_recording(self.engines, audio, language)
        text = transcript.text if transcript else ""
        return Heard(text, transcript.language if transcript else (language or ""), len(audio) / 16000,
                     {"stt": round(1000 * (time.perf_counter() - started), 1)})

    # --- voices --------------------------------------------------------------------------------------------------

    def voice(self, name: str, text: str):
        """The voice a request names: "" / "auto" / an OpenAI name (alloy, …) for the one that reads `text`'s
        language, an installed voice id, or a Kokoro style (kokoro:zf_xiaoxiao). JobError 400 for one not here."""
        from assistant.models.errors import ModelError
        from assistant.speak.text.script_language import language_of_script

        name = (name or "").strip()
        if not name or name in OPENAI_VOICES or name == "auto":
            return self.engines.voice_for(language_of_script(text) or self.engines.settings.conversation.language)
        try:
            return self.engines.voice_named(name)
        except ModelError as exc:
            raise JobError(400, f"unknown voice {name!r}: {exc}", "voice") from None

    def speak(self, text: str, voice, out: Callable[[np.ndarray], None], stopped: Callable[[], bool]) -> None:
        """Voice `text` sentence by sentence, each piece resampled to SPEECH_RATE and handed to `out` as it comes,
        until `stopped()`."""
        from assistant.audio_files import resample

        with self._voicing:
            voice.load()
            chunks = iter(voice.synthesize(text))
            while self.floor.wait_free(stopped):
                chunk = next(chunks, None)
                if chunk is None or stopped():
                    return
                out(resample(chunk.audio, chunk.sample_rate, SPEECH_RATE))

    # --- the chat model ------------------------------------------------------------------------------------------

    def complete(self, messages: list[dict], max_tokens: int, out: Callable[[str], None],
                 stopped: Callable[[], bool]) -> None:
        """The chat model's reply to `messages`, piece by piece into `out`, until `stopped()` (then the model stops
        before its next token). A local model gives way to the conversation: paused at its next token while the
        conversation holds the floor, then resumed from the words so far."""
        chat = self.engines.chat
        gives_way = chat.runs_here
        so_far, pieces = "", 0
        with self._chatting:
            while pieces < max_tokens and (self.floor.wait_free(stopped) if gives_way else not stopped()):
                stream = chat.complete(messages, max_tokens - pieces, so_far)
                try:
                    for piece in stream:
                        if stopped():
                            return
                        out(piece)
                        so_far, pieces = so_far + piece, pieces + 1
                        if gives_way and self.floor.held:
                            log.info("an API completion gives way to the conversation after %d pieces", pieces)
                            break
                    else:
                        return
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()


OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")


def checked_language(language: str | None) -> str | None:
    """A request's language as Parley reads it (None: detect). JobError 400 for one it does not know."""
    language = (language or "").strip().lower()
    if not language or language == "auto":
        return None
    if language not in LANGUAGES:
        raise JobError(400, f"unknown language {language!r}; use an ISO 639-1 code such as "
                       f"{', '.join(sorted(LANGUAGE_NAMES)[:6])}, … or leave it out to detect it", "language")
    return language
