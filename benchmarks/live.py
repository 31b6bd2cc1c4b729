"""What the live benchmarks (realtime.py, soak.py) share: the tests' virtual audio rig and `parley chat` driver
(`rig.AudioRig`, `test_conversation_live.ChatProcess`, importable once this module is imported) and questions
spoken by the real voice."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

VOICE = "piper-en_US-joe-medium"
VOICE_RATE = 22050  # the Piper voice's sample rate


def piper_say(voice_id: str = VOICE) -> Callable[[str], np.ndarray]:
    """`say(text)` → float32 mono at VOICE_RATE, spoken by a voice of the default model store (as the tests'
    `spoken` fixture does); `say.sounds(text)` counts the sounds the voice makes of it."""
    import assistant  # noqa: F401  (sets up what the models need before they load)
    from piper import PiperVoice

    from assistant.models.store import ModelStore

    voice = PiperVoice.load(ModelStore().get(voice_id).path / "voice.onnx")

    def say(text: str) -> np.ndarray:
        return np.concatenate([c.audio_float_array for c in voice.synthesize(text)])

    def sounds(text: str) -> int:
        """How many sounds (phonemes, pauses at punctuation) the voice makes of `text`: where words fall in time."""
        return sum(1 for sentence in voice.phonemize(text) for p in sentence if p not in "ˈˌ ")

    say.sounds = sounds
    return say
