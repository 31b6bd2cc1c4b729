"""Whisper on CTranslate2 (faster-whisper, int8): the speech-to-text engine on CPUs.

It runs the original CTranslate2 files that the importer keeps in the store folder's `ct2/`. On this
project's 2-core Linux CPU it transcribed a short question in 0.22-0.24x the time of MLX's CPU path (float32
with OpenBLAS), at equal word error rate; float32 here took 0.40-0.46x with the very same words as MLX, and
whisper.cpp 0.70x (tiny.en) to 1.4x (base) (`benchmarks/stt.py`, one run, 81 utterances). Used through
`assistant.transcribe.transcriber.Transcriber`, on its worker thread only, so speech recognition stays serialized.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from assistant.models.errors import ModelError
from assistant.transcribe.engine import Decoded, Windows, WindowSegment

log = logging.getLogger(__name__)

COMPUTE_TYPE = "int8"  # weights quantized at load: fastest on CPUs, WER measured equal to float32
_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8)  # as the MLX engine's full-window fallback


def cpu_threads() -> int:
    """The cores this process may run on (CTranslate2 would take 4 by default, too many on 2 cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


class Ct2Whisper:
    """faster-whisper's WhisperModel on a CTranslate2 Whisper folder, on the CPU."""

    name = "ct2"

    def __init__(self, folder: Path, threads: int | None = None, compute_type: str = COMPUTE_TYPE) -> None:
        self.folder = Path(folder)
        self.threads = threads or cpu_threads()
        self.compute_type = compute_type  # another one ("float32", "int16") for benchmarks
        self._model = None

    def describe(self) -> str:
        """The engine, for the log."""
        return f"faster-whisper (CTranslate2 {self.compute_type} on the CPU, {self.threads} threads)"

    def load(self) -> None:
        """Load and quantize the weights (once)."""
        if self._model is not None:
            return
        # Without tokenizer.json faster-whisper would fetch one from the model hub: never behind the user's back.
        if not (self.folder / "tokenizer.json").is_file():
            raise ModelError(f"{self.folder} has no tokenizer.json; reinstall the model (parley models remove, then "
                             "install it again) or set PARLEY_STT_ENGINE=mlx")
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(self.folder), device="cpu", compute_type=self.compute_type,
                                   cpu_threads=self.threads)

    def decode_short(self, audio: np.ndarray, seconds: int, language: str | None, most: int) -> Decoded:
        """One greedy pass with the encoder run on `seconds` of audio context (CTranslate2 takes any number
        of mel frames up to 3000 and uses as many positions), decoding at most `most` tokens."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        self.load()
        model = self._model
        frames = seconds * 100  # 10 ms mel hop
        padded = np.zeros(seconds * 16000, dtype=np.float32)
        padded[: len(audio)] = audio
        # padding=0: the audio is already padded; the centred STFT gives one frame too many, dropped as Whisper does.
        features = model.feature_extractor(padded, padding=0)[:, :frames]
        encoded = model.encode(features)
        multilingual = model.model.is_multilingual
        if not multilingual:
            language = "en"
        elif language is None:
            best_token, _ = model.model.detect_language(encoded)[0][0]  # sorted, most likely first: "<|en|>"
            language = best_token[2:-2]
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = model.model.generate(
            encoded, [prompt], beam_size=1, max_length=len(prompt) + most, return_scores=True,
            return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
        )[0]
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        # The score is the summed log-probability over the length (length penalty 1); Whisper's average
        # divides by one more, for the end-of-text token.
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        return Decoded(text=text, language=language, tokens=len(tokens), compression_ratio=get_compression_ratio(text),
                       avg_logprob=avg_logprob, no_speech_prob=result.no_speech_prob)

    def transcribe_windows(self, audio: np.ndarray, language: str | None, progress: bool) -> Windows:
        """faster-whisper's own loop over 30 s windows, greedy with temperature fallback (as the MLX engine)."""
        self.load()
        segments, info = self._model.transcribe(
            np.asarray(audio, dtype=np.float32),
            language=language,
            beam_size=1,
            best_of=1,
            temperature=_TEMPERATURES,
            condition_on_previous_text=False,  # keeps one invented phrase from seeding the next window
            log_progress=progress,
        )
        found = [WindowSegment(s.text, s.no_speech_prob, s.start, s.end) for s in segments]  # decoding happens here
        return Windows(found, "".join(s.text for s in found), info.language or language)
