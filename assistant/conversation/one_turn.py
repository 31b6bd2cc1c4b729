"""One whole turn from a recording: trim silence with the VAD, transcribe, stream the chat reply
into the voice sentence by sentence, and collect the spoken answer with its stage timings."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from assistant.conversation.engines import Engines, choose_voice
from assistant.conversation.turn_worker import stream_reply
from assistant.listen.voice_activity import RATE, speech_spans
from assistant.runtime.settings import asked_language, heard_language
from assistant.speak.text.segmenter import SentenceSegmenter
from assistant.speak.voice import SpeechChunk, SpeechWorker

log = logging.getLogger(__name__)


class NoSpeech(Exception):
    """The recording holds no speech (silence, noise or music): there is nothing to answer."""


@dataclass(frozen=True)
class SpokenReply:
    """The outcome of a turn. Timings are milliseconds from the start of the turn."""

    transcript: str
    language: str
    reply: str
    audio: np.ndarray
    sample_rate: int
    timings_ms: dict[str, float]
    notes: tuple[str, ...] = field(default=())


def trim_to_speech(engines: Engines, audio: np.ndarray, max_seconds: float) -> tuple[np.ndarray, list[str]]:
    """Cut `audio` (16 kHz) to its speech, capped at `max_seconds`; NoSpeech if there is none."""
    notes = []
    if len(audio) > max_seconds * RATE:
        notes.append(f"the recording is {len(audio) / RATE:.0f} s long; only the first {max_seconds:.0f} s were used")
        audio = audio[: int(max_seconds * RATE)]
    vad = engines.vad
    vad.reset()
    spans = speech_spans(vad.probabilities(audio), threshold=engines.settings.listening.vad_threshold, total=len(audio))
    if not spans:
        raise NoSpeech("no speech was found in the recording")
    return audio[spans[0].start : spans[-1].end], notes


def transcribe_recording(engines: Engines, audio: np.ndarray, language: str | None, model_id: str | None = None,
                         progress: bool = False):
    """The words of a recording (16 kHz mono float32): a long one (over a minute) whole, as Whisper windows it; a
    short one trimmed to its speech first. None when it holds no speech. (`parley transcribe` and the API's.)"""
    transcriber = engines.transcriber(language, model_id)
    try:
        speech = audio if len(audio) > 60 * RATE else trim_to_speech(engines, audio, float("inf"))[0]
    except NoSpeech:
        return None
    return transcriber.transcribe(speech, language, progress=progress and len(audio) > 60 * RATE)


def reply_to_audio(engines: Engines, audio: np.ndarray) -> SpokenReply:
    """Answer a spoken question (16 kHz mono float32) with a spoken reply."""
    started = time.perf_counter()

    def now() -> float:
        return round(1000 * (time.perf_counter() - started), 1)

    speech, notes = trim_to_speech(engines, audio, engines.settings.listening.max_utterance_s)
    language_setting = engines.settings.conversation.language
    language = heard_language(language_setting)
    transcript = engines.transcriber(language).transcribe(speech, language)
    timings = {"stt": now()}
    if not transcript.text:
        raise NoSpeech("the recording held sound but no words")

    synthesizer = engines.voice_for(transcript.language)  # (the language it was asked in, as the reply's)
    synthesizer.load()
    chunks: list[SpeechChunk] = []
    first_audio = threading.Event()

    def collect(chunk: SpeechChunk, turn: int) -> None:
        if not first_audio.is_set():
            timings["first_audio"] = now()
            first_audio.set()
        chunks.append(chunk)

    def first_token(delta: str) -> None:
        timings.setdefault("llm_first_token", now())

    speech_worker = SpeechWorker(synthesizer, collect)
    speech_worker.follow(1)
    try:
        reply = stream_reply(engines.chat, transcript.text, asked_language(language_setting, transcript.language),
                             SentenceSegmenter(), lambda sentence: speech_worker.say(sentence, 1), on_delta=first_token,
                             toolbox=engines.toolbox, turn_language=transcript.language)
        speech_worker.wait_idle()
    finally:
        speech_worker.close()
    engines.chat.record_reply(reply)
    timings["total"] = now()
    rate = chunks[0].sample_rate if chunks else synthesizer.sample_rate
    audio_out = np.concatenate([c.audio for c in chunks]) if chunks else np.zeros(0, np.float32)
    voice = choose_voice(engines.store, engines.settings.models.tts, transcript.language)
    if not voice.fits:
        notes.append(f"no voice speaks {transcript.language!r}; the reply was spoken by {voice.name}")
    elif voice.system:
        notes.append(f"the reply was spoken by the system's voice {voice.name}")
    return SpokenReply(transcript.text, transcript.language, reply, audio_out, rate, timings, tuple(notes))
