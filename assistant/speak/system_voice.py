"""The system's own voices, for the languages no installed Piper voice speaks (Korean and Chinese above all).

On macOS: AVSpeechSynthesizer through PyObjC, with the voices of System Settings (Yuna for Korean, Tingting and
Meijia for Chinese, and whatever the user added). Written against Apple's documented API and untested: no Mac is
available to this project. On Linux: espeak-ng (Debian's `espeak-ng` program), a formant synthesizer: clear enough
in English and the European languages, hard to understand in Korean and Mandarin (measured: the README's languages
table). Nothing better for those two is reachable offline on Linux (no Piper voice speaks Korean, and the Chinese
one is on the Hugging Face hub only).

`SystemVoice` has the Piper `Synthesizer`'s interface (load, warm_up, sample_rate, language, synthesize: one chunk
per piece of text), so `SpeechWorker` voices it the same way, cancellable between chunks.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from assistant.models.errors import ModelError
from assistant.speak.voice import SpeechChunk, VoiceConfig
from assistant.speak.text.cleanup import to_spoken

log = logging.getLogger(__name__)

PREFIX = "system:"  # voice ids: "system:espeak-ng:ko", "system:macos:com.apple.voice.compact.ko-KR.Yuna"
ESPEAK_WPM = 175  # espeak-ng's own default pace, words per minute
# Parley's language codes that espeak-ng names otherwise.
_ESPEAK_NAMES = {"zh": "cmn", "no": "nb", "en": "en-us", "fr": "fr-fr"}
SPEAK_TIMEOUT_S = 30.0  # for one piece of text: a voice that takes longer is broken


@dataclass(frozen=True)
class SystemVoiceInfo:
    """One voice of the system: `id` for the settings and logs, `name` for people, `language` ISO 639-1."""

    id: str
    name: str
    language: str
    engine: str  # "espeak-ng" or "macOS"


def is_system_voice(voice_id: str) -> bool:
    return voice_id.startswith(PREFIX)


@functools.lru_cache(maxsize=1)
def system_voices() -> tuple[SystemVoiceInfo, ...]:
    """The system's voices, at most one per language on Linux (espeak-ng's), all of them on macOS; () when the
    system has none (espeak-ng not installed)."""
    try:
        return tuple(_mac_voices() if sys.platform == "darwin" else _espeak_voices())
    except Exception as exc:  # a broken voice list must not stop the conversation: Piper still speaks
        log.warning("could not list the system's voices: %s", exc)
        return ()


def system_voice_for(language: str) -> SystemVoiceInfo | None:
    """The system voice that reads `language`, if there is one (macOS: its first, which is the user's choice for
    that language in System Settings as AVSpeechSynthesisVoice lists them)."""
    return next((voice for voice in system_voices() if voice.language == language), None)


class SystemVoice:
    """A system voice behind the Synthesizer interface. Not thread-safe: one thread uses it (SpeechWorker's)."""

    def __init__(self, info: SystemVoiceInfo, config: VoiceConfig = VoiceConfig()) -> None:
        self.info = info
        self.voice_id = info.id
        self.config = config
        self._loaded = False

    def load(self) -> SystemVoice:
        if not self._loaded:
            if self.info.engine == "espeak-ng" and shutil.which("espeak-ng") is None:
                raise ModelError(f"the voice {self.info.name} needs the espeak-ng program: install it "
                                 "(sudo apt-get install espeak-ng) or choose another voice")
            self._loaded = True
        return self

    def warm_up(self) -> None:
        for _ in self.synthesize("OK."):
            pass

    @property
    def sample_rate(self) -> int:
        return 22050  # espeak-ng's; each chunk carries its own rate (a Mac voice's may differ)

    @property
    def language(self) -> str:
        return self.info.language

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """Speak `text` (cleaned for speech first) as one chunk; nothing for unspeakable text."""
        self.load()
        spoken = to_spoken(text, self.language)
        if not spoken:
            return
        if self.info.engine == "espeak-ng":
            audio, rate = _espeak(self.info.id.rsplit(":", 1)[1], spoken, self.config.speaking_rate)
        else:
            audio, rate = _mac_speak(self.info.id.split(":", 2)[2], spoken, self.config.speaking_rate)
        if len(audio):
            yield SpeechChunk(spoken, audio, rate)


# --- espeak-ng -----------------------------------------------------------------------------------------------------

def _espeak_voices() -> list[SystemVoiceInfo]:
    from assistant.runtime.settings import LANGUAGES

    if shutil.which("espeak-ng") is None:
        return []
    listed = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10).stdout
    names = {line.split()[1] for line in listed.splitlines()[1:] if len(line.split()) > 1}
    voices = []
    for language in LANGUAGES:
        name = _ESPEAK_NAMES.get(language, language)
        if language != "auto" and name in names:
            voices.append(SystemVoiceInfo(f"{PREFIX}espeak-ng:{name}", f"{_language_name(language)} (espeak-ng)",
                                          language, "espeak-ng"))
    return voices


def _espeak(name: str, text: str, speaking_rate: float) -> tuple[np.ndarray, int]:
    """`text` spoken by espeak-ng's voice `name`: (float32 mono audio, its sample rate)."""
    try:
        # The text goes in on stdin: as an argument, a reply that begins with "-" would be read as an option.
        result = subprocess.run(["espeak-ng", "-v", name, "-s", str(round(ESPEAK_WPM * speaking_rate)), "--stdout"],
                                input=text.encode("utf-8"), capture_output=True, timeout=SPEAK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"espeak-ng could not speak: {exc}") from exc
    if result.returncode != 0:
        raise ModelError(f"espeak-ng could not speak: {result.stderr.decode(errors='replace').strip()[-200:]}")
    return _wav_from_stream(result.stdout)


def _wav_from_stream(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit mono PCM from a WAV written to a pipe (its sizes are placeholders: the data runs to the end)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ModelError("espeak-ng wrote no WAV audio")
    position, rate = 12, 22050
    while position + 8 <= len(data):
        kind, size = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "little")
        if kind == b"fmt ":
            rate = int.from_bytes(data[position + 12:position + 16], "little")
        elif kind == b"data":
            samples = data[position + 8:]
            samples = samples[: len(samples) // 2 * 2]
            return np.frombuffer(samples, "<i2").astype(np.float32) / 32768.0, rate
        position += 8 + size
    raise ModelError("espeak-ng wrote no audio")


# --- macOS (untested: no Mac is available to this project) -------------------------------------------------------

def _mac_voices() -> list[SystemVoiceInfo]:
    from AVFoundation import AVSpeechSynthesisVoice

    voices = []
    for voice in AVSpeechSynthesisVoice.speechVoices():
        language = str(voice.language()).split("-")[0].lower()  # "ko-KR" → "ko"
        voices.append(SystemVoiceInfo(f"{PREFIX}macos:{voice.identifier()}", f"{voice.name()} (macOS)", language,
                                      "macOS"))
    return voices


def _mac_speak(identifier: str, text: str, speaking_rate: float) -> tuple[np.ndarray, int]:
    """`text` spoken by the macOS voice `identifier`, rendered to memory with
    AVSpeechSynthesizer.writeUtterance:toBufferCallback: (macOS 10.15+), which hands over AVAudioPCMBuffers and
    an empty one at the end."""
    from AVFoundation import (AVSpeechSynthesisVoice, AVSpeechSynthesizer, AVSpeechUtterance,
                              AVSpeechUtteranceDefaultSpeechRate, AVSpeechUtteranceMaximumSpeechRate)

    voice = AVSpeechSynthesisVoice.voiceWithIdentifier_(identifier)
    if voice is None:
        raise ModelError(f"the macOS voice {identifier} is not installed any more: choose another in Settings")
    utterance = AVSpeechUtterance.speechUtteranceWithString_(text)
    utterance.setVoice_(voice)
    utterance.setRate_(min(AVSpeechUtteranceMaximumSpeechRate, AVSpeechUtteranceDefaultSpeechRate * speaking_rate))
    pieces: list[np.ndarray] = []
    rate = [22050]
    done = threading.Event()

    def on_buffer(buffer) -> None:
        frames = int(buffer.frameLength())
        if frames == 0:
            done.set()
            return
        rate[0] = int(buffer.format().sampleRate())
        floats = buffer.floatChannelData()
        if floats is not None:
            pieces.append(np.frombuffer(floats[0].as_buffer(frames * 4), np.float32).copy())
        else:
            shorts = buffer.int16ChannelData()
            pieces.append(np.frombuffer(shorts[0].as_buffer(frames * 2), "<i2").astype(np.float32) / 32768.0)

    synthesizer = AVSpeechSynthesizer.alloc().init()
    synthesizer.writeUtterance_toBufferCallback_(utterance, on_buffer)
    if not done.wait(SPEAK_TIMEOUT_S):
        synthesizer.stopSpeakingAtBoundary_(0)
        raise ModelError(f"the macOS voice {identifier} did not finish speaking")
    return (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), rate[0]


def _language_name(code: str) -> str:
    from assistant.runtime.settings import LANGUAGE_NAMES

    return LANGUAGE_NAMES.get(code, code)
