"""Text to speech with Piper, on its own thread.

`Synthesizer` turns text into audio, one chunk per sentence. `SpeechWorker` runs it on a
dedicated thread fed by a queue, so the chat model keeps generating while earlier sentences are
being voiced; cancellation drops queued and stale text by generation number.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.models.errors import ModelError
from assistant.speak.text.cleanup import to_spoken

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceConfig:
    """How the voice speaks."""

    speaking_rate: float = 1.0  # 1.0 = the voice's own pace; 1.25 = a quarter faster
    speaker_id: int | None = None  # for multi-speaker voices; None = the voice's default


@dataclass(frozen=True)
class SpeechChunk:
    """Audio for one piece of text: mono float32 in [-1, 1]."""

    text: str
    audio: np.ndarray
    sample_rate: int


# espeak-ng, which Piper reads text with, keeps its state in the process, and two voices at once would only share the
# cores: one piece is voiced at a time, whichever thread asks (the conversation's voice, the API's requests), so that
# each waits for at most the piece under way.
_VOICING = threading.Lock()


def one_piece_at_a_time(chunks: Iterator[SpeechChunk]) -> Iterator[SpeechChunk]:
    """`chunks`, each made while holding the process's voicing lock."""
    chunks = iter(chunks)
    while True:
        with _VOICING:
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def voice_label(voice) -> str:
    """Who reads, for the log: the voice's id, with its style for a voice of several ("kokoro (jf_nezumi)")."""
    style = getattr(voice, "style_name", "")
    return f"{voice.voice_id} ({style})" if style else voice.voice_id


class Synthesizer:
    """A Piper voice. `synthesize` may be called from several threads: they take turns, a sentence at a time."""

    def __init__(self, voice_path: Path, config: VoiceConfig = VoiceConfig(), voice_id: str = "") -> None:
        self.voice_path = Path(voice_path)
        self.voice_id = voice_id or self.voice_path.stem
        self.config = config
        self._voice = None

    def load(self):
        if self._voice is None:
            from piper import PiperConfig, PiperVoice

            from assistant.models.importers.onnx_check import open_onnx

            started = time.perf_counter()
            session = open_onnx(self.voice_path)  # a clear message naming the file if it is broken
            try:
                config = json.loads(Path(f"{self.voice_path}.json").read_text(encoding="utf-8"))
                self._voice = PiperVoice(session=session, config=PiperConfig.from_dict(config),
                                         download_dir=self.voice_path.parent)  # not the working folder
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"the voice {self.voice_id} ({self.voice_path}) does not load: {exc}") from exc
            log.info("loaded voice %s in %.0f ms", self.voice_id, 1000 * (time.perf_counter() - started))
        return self._voice

    def warm_up(self) -> None:
        """Voice a word once, so the first sentence of the first reply is not slowed by first-run setup."""
        for _ in self.synthesize("Hello."):
            pass

    @property
    def sample_rate(self) -> int:
        return self.load().config.sample_rate

    @property
    def language(self) -> str:
        """The voice's language, ISO 639-1 ("en" for espeak's "en-us")."""
        return self.load().config.espeak_voice.split("-")[0].lower()

    @property
    def speakers(self) -> int:
        return self.load().config.num_speakers

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """Speak `text` (cleaned for speech first), one chunk per sentence; nothing for unspeakable text."""
        from piper import SynthesisConfig

        voice = self.load()
        spoken = to_spoken(text, self.language)
        if not spoken:
            return
        speaker = self.config.speaker_id
        if speaker is not None and not 0 <= speaker < voice.config.num_speakers:
            raise ModelError(f"the voice {self.voice_id} has {voice.config.num_speakers} speaker(s); speaker id {speaker} does not exist")
        options = SynthesisConfig(speaker_id=speaker, length_scale=1.0 / self.config.speaking_rate)
        for chunk in one_piece_at_a_time(voice.synthesize(spoken, syn_config=options)):
            yield SpeechChunk(spoken, chunk.audio_float_array, chunk.sample_rate)


ANNOUNCEMENT = -1  # the turn of text voiced outside any turn (SpeechWorker.announce)


class SpeechWorker:
    """Runs a Synthesizer (or another voice per text) on its own thread: `say()` queues text of a turn,
    `on_audio(chunk, turn)` receives the chunks on the speech thread.

    Cancellation is by turn id: `follow(turn)` names the turn whose text is voiced; text of any other turn,
    queued or being voiced, is dropped at the next hand-off. `done(turn)` queues a marker: `on_done(turn)` is
    called when everything of `turn` queued before it has been voiced (or dropped).
    """

    def __init__(self, synthesizer: Synthesizer, on_audio: Callable[[SpeechChunk, int], None],
                 on_done: Callable[[int], None] | None = None) -> None:
        self.synthesizer = synthesizer
        self._on_audio = on_audio
        self._on_done = on_done
        self._texts: queue.SimpleQueue = queue.SimpleQueue()
        self._turn = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="piper", daemon=True)
        self._thread.start()

    @property
    def turn(self) -> int:
        """The turn whose text is voiced (0: none)."""
        return self._turn

    def follow(self, turn: int) -> None:
        """Voice only `turn`'s text from now on (0: none). Thread-safe."""
        self._turn = turn

    def say(self, text: str, turn: int, voice=None) -> None:
        """Queue text of `turn` to be spoken by `voice` (a Synthesizer or one with its interface; default: the
        worker's own). Thread-safe."""
        self._put((turn, text, voice or self.synthesizer))

    def announce(self, text: str, voice=None) -> None:
        """Queue text that belongs to no turn (a timer's "your tea timer is done"): voiced whatever turn is followed,
        its chunks passed to `on_audio` with turn ANNOUNCEMENT. Thread-safe."""
        self._put((ANNOUNCEMENT, text, voice or self.synthesizer))

    def done(self, turn: int) -> None:
        """Queue the end of `turn`'s text: `on_done(turn)` follows what is queued before it. Thread-safe."""
        self._put((turn, None, None))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far has been voiced (or dropped)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """End the thread once what is queued is voiced or dropped, waiting at most `timeout` s for it."""
        self._turn = 0
        self._texts.put(None)
        self._thread.join(timeout)

    def _put(self, item) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._texts.put(item)

    def _run(self) -> None:
        while True:
            item = self._texts.get()
            if item is None:
                return
            turn, text, voice = item
            try:
                if text is None:
                    if self._on_done is not None:
                        self._on_done(turn)
                elif turn == self._turn or turn == ANNOUNCEMENT:
                    for chunk in voice.synthesize(text):
                        if turn != self._turn and turn != ANNOUNCEMENT:
                            break
                        self._on_audio(chunk, turn)
            except Exception:  # a bad sentence must not kill the voice for the rest of the session
                log.exception("speaking %r failed", (text or "")[:80])
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()
