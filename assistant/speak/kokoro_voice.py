"""Kokoro-82M: text in its language turned into phonemes (`kokoro_phonemes.py`: misaki's for Mandarin, espeak-ng's
mapped to Kokoro's symbols for English and Korean) read by Kokoro's ONNX model with a voice style of the installed
pack (see models/catalog.toml's kokoro voices).

`KokoroVoice` has the Piper `Synthesizer`'s interface (load, warm_up, sample_rate, language, synthesize), so the
SpeechWorker voices it the same way: one chunk per piece of text, cancellable between chunks.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from assistant.models.errors import ModelError
from assistant.speak.voice import SpeechChunk, VoiceConfig, one_piece_at_a_time
from assistant.speak.text.cleanup import to_spoken

log = logging.getLogger(__name__)

RATE = 24000
MAX_TOKENS = 509  # the model takes 510 tokens with the two pads; its style table has a row per length, 0-509


_GREETINGS = {"zh": "你好。", "ko": "안녕하세요.", "en": "Hello."}


class KokoroVoice:
    """A Kokoro voice for one language. Not thread-safe: one thread uses it (SpeechWorker's, or the caller's)."""

    def __init__(self, folder: Path, style: str, config: VoiceConfig = VoiceConfig(), voice_id: str = "",
                 language: str = "zh") -> None:
        self.folder = Path(folder)
        self.style_name = style
        self.voice_id = voice_id or self.folder.name
        self.config = config
        self._language = language
        self._session = None

    def load(self) -> KokoroVoice:
        if self._session is None:
            import onnxruntime

            from assistant.models.files import KOKORO_MODEL_FILE, KOKORO_STYLES_FILE, KOKORO_VOCAB_FILE
            from assistant.speak.kokoro_phonemes import phonemizer_for

            started = time.perf_counter()
            try:
                self._vocab = json.loads((self.folder / KOKORO_VOCAB_FILE).read_text(encoding="utf-8"))["vocab"]
                with np.load(self.folder / KOKORO_STYLES_FILE) as styles:
                    self._style = styles[self.style_name].astype(np.float32)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 2
                self._session = onnxruntime.InferenceSession(str(self.folder / KOKORO_MODEL_FILE), options,
                                                             providers=["CPUExecutionProvider"])
            except (OSError, ValueError, KeyError, onnxruntime.capi.onnxruntime_pybind11_state.Fail) as exc:
                raise ModelError(f"the voice {self.voice_id} ({self.folder}) does not load: {exc}; remove it "
                                 f"(parley models remove {self.voice_id}) and install it again") from exc
            self._phonemes = phonemizer_for(self._language)
            log.info("loaded voice %s in %.0f ms", self.voice_id, 1000 * (time.perf_counter() - started))
        return self

    def warm_up(self) -> None:
        for _ in self.synthesize(_GREETINGS.get(self._language, "Hello.")):
            pass

    @property
    def sample_rate(self) -> int:
        return RATE

    @property
    def language(self) -> str:
        return self._language

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """Speak `text` (cleaned for speech first), one chunk per piece short enough for the model; threads that
        call it take turns, a piece at a time."""
        return one_piece_at_a_time(self._synthesize(text))

    def _synthesize(self, text: str) -> Iterator[SpeechChunk]:
        self.load()
        spoken = to_spoken(text, self._language)
        for piece in _pieces(spoken):
            try:
                phonemes = self._phonemes(piece)
            except OSError as exc:  # espeak-ng missing or failing: this piece is not said, the reply goes on
                log.warning("Kokoro could not read %r: %s", piece[:40], exc)
                continue
            ids = [self._vocab[c] for c in phonemes if c in self._vocab][:MAX_TOKENS]
            if not ids:
                continue
            audio = self._session.run(None, {
                "tokens": np.array([[0, *ids, 0]], np.int64),
                "style": self._style[len(ids)],
                "speed": np.array([self.config.speaking_rate], np.float32),
            })[0]
            yield SpeechChunk(piece, np.asarray(audio, np.float32).reshape(-1), RATE)


def _pieces(text: str, longest: int = 120) -> list[str]:
    """`text` in pieces of at most `longest` characters, split after sentence and clause marks (a sentence the
    segmenter hands over is usually one piece already)."""
    pieces, current = [], ""
    for part in re.split(r"(?<=[。！？；，、.!?;,])", text):
        if current and len(current) + len(part) > longest:
            pieces.append(current)
            current = ""
        current += part
    if current.strip():
        pieces.append(current)
    return [piece.strip() for piece in pieces if piece.strip()]
