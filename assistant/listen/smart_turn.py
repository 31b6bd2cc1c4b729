"""Smart Turn v3: the probability that a speaker has finished their turn, from the sound of its end.

An 8M-parameter Whisper-encoder classifier (pipecat-ai's smart-turn-v3.2, BSD-2-Clause, 23 languages) that hears
what words and silence timing do not show: a falling or a hanging intonation, a drawn-out "um". It takes the turn's
last 8 s (zeros in front of a shorter one) as 80 x 800 Whisper log-mel features and returns P(complete).

Runs on onnxruntime with one thread, on whatever thread calls it (the end-of-turn policy gives it one of its own:
the MLX thread is transcribing at that moment, and the listening thread must keep up with the microphone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.listen.log_mel import HOP, RATE, log_mel

SECONDS = 8
FRAMES = SECONDS * RATE // HOP  # 800
INPUT = "input_features"


class SmartTurn:
    """P(turn complete) of a turn's audio. Not thread-safe: one thread calls it."""

    def __init__(self, model_path: Path) -> None:
        from assistant.models.importers.onnx_check import open_onnx

        self._session = open_onnx(Path(model_path), threads=1)  # leaves the other core to transcription

    def probability(self, audio: np.ndarray) -> float:
        """P(complete) for a turn's 16 kHz mono float32 audio, ending now (trailing silence included)."""
        samples = SECONDS * RATE
        audio = np.asarray(audio, np.float32)[-samples:]
        if len(audio) < samples:
            audio = np.concatenate([np.zeros(samples - len(audio), np.float32), audio])
        features = log_mel(audio, FRAMES)[None]
        (out,) = self._session.run(None, {INPUT: features})
        return float(np.asarray(out).reshape(-1)[0])
