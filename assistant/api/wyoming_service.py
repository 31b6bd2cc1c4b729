"""Parley's speech to text (asr), voices (tts) and wake words (wake) as a Wyoming server, for Home Assistant's voice
pipeline. One handler per connection (the `wyoming` library's model); the engines' work runs on threads through
EngineJobs, so several clients queue per engine and never share an engine's state. A wake-word stream gets a
detector of its own (each keeps the state of the stream it hears)."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import (
    AsrModel, AsrProgram, Attribution, Describe, Info, TtsProgram, TtsVoice, WakeModel, WakeProgram,
)
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize
from wyoming.wake import Detect, Detection, NotDetected

from assistant.api.engine_jobs import EngineJobs, JobError
from assistant.listen.wake_word import PHRASES
from assistant.runtime.settings import LANGUAGES

log = logging.getLogger(__name__)

RATE = 16000  # what asr and wake hear: 16 kHz, 16-bit, mono
SAMPLES_PER_CHUNK = 1024
_ATTRIBUTION = Attribution(name="Parley", url="https://github.com/")
_WAKE_NAMES = {"hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft", "alexa": "Alexa", "okay_nabu": "Okay Nabu"}


def describe(jobs: EngineJobs) -> Info:
    """What this server offers: the speech models and voices installed, the wake words."""
    store, settings = jobs.engines.store, jobs.engines.settings
    installed = {model.id: model for model in store.installed()}
    stt = [AsrModel(name=model.id, description=model.id, attribution=_ATTRIBUTION, installed=True, version=None,
                    languages=[c for c in LANGUAGES if c != "auto"] if "multi" in model.languages else
                    list(model.languages)) for model in installed.values() if model.kind == "stt"]
    voices = [TtsVoice(name=model.id, description=model.id, attribution=_ATTRIBUTION, installed=True, version=None,
                       languages=list(model.languages)) for model in installed.values() if model.kind == "tts"]
    wake = []
    if settings.models.wake in installed:
        wake = [WakeModel(name=name, description=_WAKE_NAMES[name], phrase=_WAKE_NAMES[name].lower(),
                          attribution=_ATTRIBUTION, installed=True, version=None, languages=["en"])
                for name in PHRASES]
    return Info(
        asr=[AsrProgram(name="parley-asr", description="Parley: Whisper on this computer", attribution=_ATTRIBUTION,
                        installed=True, version="1", models=stt)],
        tts=[TtsProgram(name="parley-tts", description="Parley's voices", attribution=_ATTRIBUTION, installed=True,
                        version="1", voices=voices)],
        wake=[WakeProgram(name="parley-wake", description="Parley's wake words (microWakeWord)",
                          attribution=_ATTRIBUTION, installed=True, version="1", models=wake)] if wake else [],
    )


class WyomingHandler(AsyncEventHandler):
    """One client connection: describe, transcribe, synthesize or detect, one request after another."""

    def __init__(self, jobs: EngineJobs, info: Info, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.jobs, self.info = jobs, info
        self.mode = "asr"  # what the audio that follows is for: "asr" (after Transcribe) or "wake" (after Detect)
        self.language: str | None = None
        self.audio: list[np.ndarray] = []
        self.converter = AudioChunkConverter(rate=RATE, width=2, channels=1)
        self.detectors: list = []
        self.detected = False

    async def handle_event(self, event: Event) -> bool:
        try:
            return await self._handle(event)
        except (ConnectionError, OSError):
            return False  # the client went away
        except JobError as exc:
            await self.write_event(Error(text=exc.message, code="bad-request").event())
            return False
        except Exception as exc:  # said to the client, logged, and the connection ends
            log.exception("a Wyoming request failed")
            await self.write_event(Error(text=f"Parley could not do that: {exc}", code=type(exc).__name__).event())
            return False

    async def _handle(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.info.event())
        elif Transcribe.is_type(event.type):
            self.mode, self.language = "asr", Transcribe.from_event(event).language
        elif Detect.is_type(event.type):
            names = Detect.from_event(event).names or [self.jobs.engines.settings.listening.wake_word]
            self.mode, self.detected = "wake", False
            self.detectors = await asyncio.to_thread(self._detectors, names)
        elif AudioStart.is_type(event.type):
            self.audio, self.converter = [], AudioChunkConverter(rate=RATE, width=2, channels=1)
        elif AudioChunk.is_type(event.type):
            chunk = self.converter.convert(AudioChunk.from_event(event))
            samples = np.frombuffer(chunk.audio, "<i2").astype(np.float32) / 32768
            if self.mode == "wake":
                await self._listen(samples, chunk.timestamp)
            else:
                self.audio.append(samples)
        elif AudioStop.is_type(event.type):
            if self.mode == "wake":
                if not self.detected:
                    await self.write_event(NotDetected().event())
                return False
            audio = np.concatenate(self.audio) if self.audio else np.zeros(0, np.float32)
            heard = await asyncio.to_thread(self.jobs.transcribe, audio, self.language)
            await self.write_event(Transcript(text=heard.text, language=heard.language or None).event())
            return False
        elif Synthesize.is_type(event.type):
            await self._synthesize(Synthesize.from_event(event))
        return True  # (events this server does not know are let pass, as the protocol asks)

    def _detectors(self, names: list[str]) -> list:
        unknown = [name for name in names if name not in PHRASES]
        if unknown:
            raise JobError(400, f"no wake word {unknown[0]!r} here; these are: {', '.join(PHRASES)}")
        listening = self.jobs.engines.settings.listening
        return [self.jobs.engines.wake_word_detector(name, listening.wake_sensitivity) for name in names]

    async def _listen(self, samples: np.ndarray, timestamp: int | None) -> None:
        for detector in self.detectors:
            if self.detected:
                return
            heard = await asyncio.to_thread(detector.push, samples)
            if heard:
                self.detected = True
                await self.write_event(Detection(name=detector.name, timestamp=timestamp).event())

    async def _synthesize(self, request: Synthesize) -> None:
        name = request.voice.name if request.voice and request.voice.name else ""
        voice = await asyncio.to_thread(self.jobs.voice, name, request.text)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        done = object()
        stopped = False

        def work() -> None:
            try:
                self.jobs.speak(request.text, voice, lambda audio: loop.call_soon_threadsafe(queue.put_nowait, audio),
                                lambda: stopped)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        task = asyncio.create_task(asyncio.to_thread(work))
        started = False
        try:
            while (audio := await queue.get()) is not done:
                pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
                if not started:
                    await self.write_event(AudioStart(rate=24000, width=2, channels=1).event())
                    started = True
                for at in range(0, len(pcm), 2 * SAMPLES_PER_CHUNK):
                    await self.write_event(AudioChunk(rate=24000, width=2, channels=1,
                                                      audio=pcm[at:at + 2 * SAMPLES_PER_CHUNK]).event())
            if not started:
                await self.write_event(AudioStart(rate=24000, width=2, channels=1).event())
            await self.write_event(AudioStop().event())
        finally:
            stopped = True
            await task
