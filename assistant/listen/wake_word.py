"""The wake word: microWakeWord's streaming models ("Hey Jarvis", "Hey Mycroft", "Alexa", "Okay Nabu"; Apache-2.0, from
the `micro-wake-words` pack) run by LiteRT on the TFLite Micro audio front end they were trained with
(pymicro-features: 40 features per 10 ms).

Each model keeps its own state between calls (streaming convolutions): it takes 3 feature frames (30 ms) at a time
and says how likely the last second or so was the phrase; the mean of its last few answers over the model's
cutoff is a detection. About 1 ms of CPU per 30 ms here, on one thread.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from assistant.models.errors import ModelError

log = logging.getLogger(__name__)

PHRASES = ("hey_jarvis", "hey_mycroft", "alexa", "okay_nabu")
RATE = 16000
STEP = 160  # samples per feature frame (10 ms)
REFRACTORY_S = 1.5  # after a detection the phrase is not heard again this soon (one phrase, one detection)


def cutoff_for(sensitivity: float, model_cutoff: float) -> float:
    """The probability cutoff for a sensitivity from 0 (fewest false wakes) to 1 (fewest missed phrases); 0.5 is the
    model's own cutoff, 0 halves the distance left to 1, 1 goes halfway down to 0.5."""
    sensitivity = min(1.0, max(0.0, sensitivity))
    if sensitivity <= 0.5:
        return model_cutoff + (0.5 - sensitivity) * (1.0 - model_cutoff)
    return model_cutoff - (sensitivity - 0.5) * (model_cutoff - 0.5)


class WakeWordDetector:
    """One wake phrase, heard in a stream of 16 kHz audio. Not thread-safe: one thread pushes (the listening one).

    `push(audio)` returns the sample positions (counted from creation or `reset`) at which the phrase was heard:
    where its last word ends, give or take 100 ms."""

    def __init__(self, folder: Path, name: str, sensitivity: float = 0.5) -> None:
        description = Path(folder) / f"{name}.json"
        try:
            config = json.loads(description.read_text(encoding="utf-8"))
            self.phrase = config["wake_word"]
            self._model_path = description.parent / config["model"]
            self._window = int(config["micro"]["sliding_window_size"])
            self.cutoff = cutoff_for(sensitivity, float(config["micro"]["probability_cutoff"]))
        except FileNotFoundError as exc:
            raise ModelError(f"no wake word {name!r} in {folder}; the phrases are {', '.join(PHRASES)}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"the wake word model {description} is unreadable ({exc}): install it again with "
                             "`parley models setup`") from exc
        self.name = name
        self._load()

    def _load(self) -> None:
        from ai_edge_litert.interpreter import Interpreter
        from pymicro_features import MicroFrontend

        try:
            self._interpreter = Interpreter(model_path=str(self._model_path), num_threads=1)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"the wake word model {self._model_path} does not load ({exc}): install it again with "
                             "`parley models setup`") from exc
        entrance, exit_ = self._interpreter.get_input_details()[0], self._interpreter.get_output_details()[0]
        self._input, self._output = entrance["index"], exit_["index"]
        self._input_type = entrance["dtype"]
        self._scale, self._zero = entrance["quantization"]
        self._out_scale, self._out_zero = exit_["quantization"]
        self._stride = int(entrance["shape"][1])
        self._frontend = MicroFrontend()
        self._pending = b""  # audio not yet made into features
        self._features: list[list[float]] = []
        self._recent: list[float] = []
        self._position = 0  # samples taken in
        self._quiet_until = 0  # no detection before this sample (just after one)
        self.last_probability = 0.0

    def reset(self) -> None:
        """Forget the stream (the model's state too); positions count from 0 again."""
        self._load()

    def push(self, audio: np.ndarray) -> list[int]:
        """Hear 16 kHz mono float32 audio; the positions where the phrase was heard in it."""
        self._pending += (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        heard = []
        used = 0
        while len(self._pending) - used >= 2 * STEP:
            result = self._frontend.process_samples(self._pending[used:used + 2 * STEP])
            used += 2 * result.samples_read
            self._position += result.samples_read
            if not result.features:
                continue
            self._features.append(result.features)
            if len(self._features) == self._stride and self._heard():
                heard.append(self._position)
        self._pending = self._pending[used:]
        return heard

    def _heard(self) -> bool:
        features = np.asarray(self._features, np.float32)[np.newaxis]
        self._features = []
        quantized = np.round(features / self._scale + self._zero).astype(self._input_type)
        self._interpreter.set_tensor(self._input, quantized)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output).astype(np.float32)
        self._recent = [*self._recent[1 - self._window:], float((raw.item() - self._out_zero) * self._out_scale)]
        if len(self._recent) < self._window:
            return False
        self.last_probability = sum(self._recent) / self._window
        if self.last_probability <= self.cutoff or self._position < self._quiet_until:
            return False
        self._quiet_until = self._position + int(REFRACTORY_S * RATE)
        log.info("heard the wake word %r (%.3f)", self.phrase, self.last_probability)
        return True
