"""Voice activity: Silero VAD through onnxruntime, streaming 512-sample frames at 16 kHz.

The model is the ONNX file from the silero-vad package, run without torch. It is recurrent: each
call feeds back the previous state, and each frame is prefixed by the last 64 samples of the one
before, as the model was trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME = 512  # samples per frame at 16 kHz (32 ms)
RATE = 16000
_CONTEXT = 64


class SileroVad:
    """Speech probability per 512-sample frame. Not thread-safe: one instance per thread."""

    def __init__(self, model_path: Path) -> None:
        from assistant.models.importers.onnx_check import open_onnx

        self._session = open_onnx(Path(model_path), threads=1)  # a 32 ms frame is too small to split
        self._rate = np.array(RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state (start of a new stream)."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def take_state(self, other: "SileroVad") -> None:
        """Continue from where `other` is: as if this one had been fed the frames it was (same model)."""
        self._state = other._state.copy()
        self._context = other._context.copy()

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability (0..1) of one 512-sample float32 frame at 16 kHz."""
        if frame.shape != (FRAME,):
            raise ValueError(f"the VAD takes frames of {FRAME} samples, got {frame.shape}")
        x = np.concatenate([self._context, frame.astype(np.float32, copy=False)])[None, :]
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._rate})
        self._context = x[0, -_CONTEXT:]
        return float(out[0, 0])

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        """Probabilities for every whole frame of `audio` (continuing the current state)."""
        count = len(audio) // FRAME
        return np.array([self.probability(audio[i * FRAME : (i + 1) * FRAME]) for i in range(count)], np.float32)


@dataclass(frozen=True)
class SpeechSpan:
    """A stretch of speech, in samples at 16 kHz."""

    start: int
    end: int


def speech_spans(
    probabilities: np.ndarray, threshold: float = 0.5, min_speech_ms: int = 150, min_silence_ms: int = 300,
    pad_ms: int = 200, total: int | None = None,
) -> list[SpeechSpan]:
    """Group per-frame probabilities into speech spans (with hysteresis and padding), for files.

    A span opens when a frame reaches `threshold`, closes after `min_silence_ms` below
    `threshold - 0.15`, and is dropped if shorter than `min_speech_ms`. Spans are padded by
    `pad_ms` on each side and merged where the padding overlaps.
    """
    frame_ms = FRAME * 1000 / RATE
    low = max(threshold - 0.15, 0.01)
    spans: list[list[int]] = []
    start = None
    silent = 0
    for index, p in enumerate(probabilities):
        if start is None:
            if p >= threshold:
                start, silent = index, 0
        elif p < low:
            silent += 1
            if silent * frame_ms >= min_silence_ms:
                spans.append([start, index - silent + 1])
                start = None
        else:
            silent = 0
    if start is not None:
        spans.append([start, len(probabilities)])
    pad = int(pad_ms / frame_ms)
    limit = total if total is not None else len(probabilities) * FRAME
    merged: list[SpeechSpan] = []
    for first, last in spans:
        if (last - first) * frame_ms < min_speech_ms:
            continue
        begin, end = max(0, (first - pad) * FRAME), min(limit, (last + pad) * FRAME)
        if merged and begin <= merged[-1].end:
            merged[-1] = SpeechSpan(merged[-1].start, end)
        else:
            merged.append(SpeechSpan(begin, end))
    return merged
